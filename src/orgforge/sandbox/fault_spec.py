"""The ``--faults`` spec both sandboxes take: ``KIND=PROBABILITY,…`` plus ``retry_after=SECONDS``.

Each sandbox names its kinds and which of them one request draws from a single uniform number
(their probabilities must then add up to at most 1); the rest are drawn on their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from orgforge.errors import ConfigError


def parse_faults(
    spec: str | dict[str, float] | None,
    kinds: Sequence[str],
    *,
    per_request: Sequence[str],
    example: str,
) -> dict[str, float]:
    """``{kind: probability, "retry_after": seconds}`` from a spec string or mapping."""
    hint = f"Example: --faults '{example}'"
    if not spec:
        return {}
    if isinstance(spec, dict):
        items = [(str(k), str(v)) for k, v in spec.items()]
    else:
        items = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            if "=" not in part:
                raise ConfigError(f"--faults: '{part}' is not KIND=PROBABILITY", hint)
            key, _, value = part.partition("=")
            items.append((key.strip().lower(), value.strip()))
    out: dict[str, float] = {}
    for key, value in items:
        if key not in (*kinds, "retry_after"):
            raise ConfigError(
                f"--faults: unknown fault '{key}'", f"Known: {', '.join(kinds)}, retry_after."
            )
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"--faults: {key}={value} is not a number", hint) from None
        if key == "retry_after":
            if number < 0:
                raise ConfigError(f"--faults: retry_after={value} is negative", "Use seconds ≥ 0.")
        elif not 0.0 <= number <= 1.0:
            raise ConfigError(
                f"--faults: {key}={value} must be a probability between 0 and 1", hint
            )
        out[key] = number
    if sum(out.get(k, 0.0) for k in per_request) > 1.0:
        raise ConfigError(
            f"--faults: {' + '.join(per_request)} probabilities add up to more than 1",
            "Lower one of them: a request gets at most one of these faults.",
        )
    return out

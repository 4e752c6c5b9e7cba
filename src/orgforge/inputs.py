"""Reading the files a user points orgforge at, without hanging, crashing or being fooled.

Every file a user names (config, ``.env``, packs, frameworks, keys, manifests) is read here:

- :func:`check_path` looks a path up and turns what the OS says about it (name too long,
  symbolic-link loop, permission denied) into a one-line :class:`~orgforge.errors.UsageError`;
- :func:`read_text` reads regular files only — a FIFO, socket or device is refused before it
  is opened, and the file is opened with ``O_NONBLOCK`` so a path swapped for a FIFO in between
  can't block either — and says where a file is not UTF-8;
- :func:`load_yaml` parses with :class:`StrictLoader`: a key given twice in one mapping is an
  error (YAML's "last one wins" silently drops settings), nesting is capped (deep nesting
  otherwise ends in a RecursionError), and an impossible date (``2026-13-01``) is an error on
  its line instead of a ValueError from deep inside PyYAML.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from orgforge.errors import UsageError

MAX_YAML_DEPTH = 64
"""Deepest nesting of mappings/lists a user's YAML may have; orgforge's own files use < 10."""

MAX_INPUT_BYTES = 256 * 1024 * 1024
"""Largest text file orgforge reads whole (a pack or config is a few KB)."""

_REASONS = {
    errno.ENAMETOOLONG: "the path is too long",
    errno.ELOOP: "it is a loop of symbolic links",
    errno.EACCES: "permission denied",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
}


def os_reason(exc: OSError) -> str:
    """What an OSError about a path means, in words (no errno numbers, no traceback)."""
    return _REASONS.get(exc.errno or 0) or (exc.strerror or exc.__class__.__name__).lower()


def file_kind(mode: int) -> str:
    """'a FIFO', 'a socket', … for a file that is neither a regular file nor a directory."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_path(
    path: str | Path, what: str, error: type[UsageError] = UsageError
) -> os.stat_result | None:
    """``os.stat`` of ``path``, None if nothing is there; a path the OS can't look up raises."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(
            f"{what} {_short(path)}: {os_reason(exc)}",
            "Check the path (a shorter one, without symbolic-link loops, that you can read).",
        ) from None
    except ValueError:  # an embedded NUL byte
        raise error(f"{what} {_short(path)!r}: not a valid path", "Check the path.") from None


def require_regular(
    path: str | Path, st: os.stat_result, what: str, error: type[UsageError] = UsageError
) -> None:
    """Refuse a directory, FIFO, socket or device where a file is expected (no read blocks)."""
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {_short(path)} is a directory, not a file", "Give a file's path.")
    if not stat.S_ISREG(st.st_mode):
        raise error(
            f"{what} {_short(path)} is {file_kind(st.st_mode)}, not a regular file",
            "orgforge reads only regular files; give the path of one.",
        )


def read_bytes(
    path: str | Path,
    what: str,
    error: type[UsageError] = UsageError,
    missing_hint: str | None = None,
) -> bytes:
    """The bytes of a regular file; anything else (missing, FIFO, unreadable) is ``error``."""
    st = check_path(path, what, error)
    if st is None:
        raise error(f"{what} {_short(path)} not found", missing_hint or "Check the path.")
    require_regular(path, st, what, error)
    try:
        # O_NONBLOCK: if the path became a FIFO since the stat, open returns instead of waiting
        # for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{what} {_short(path)} can't be read: {os_reason(exc)}") from None
    with os.fdopen(fd, "rb") as handle:
        require_regular(path, os.fstat(fd), what, error)
        data = handle.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise error(f"{what} {_short(path)} is larger than {MAX_INPUT_BYTES // 2**20} MiB")
    return data


def read_text(
    path: str | Path,
    what: str,
    error: type[UsageError] = UsageError,
    missing_hint: str | None = None,
) -> str:
    """The UTF-8 text of a regular file (see :func:`read_bytes`); other bytes are ``error``."""
    data = read_bytes(path, what, error, missing_hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{what} {_short(path)}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
            "Save the file as UTF-8 text; it may be a binary file given by mistake.",
        ) from None


def _short(path: str | Path) -> str:
    """A path as messages show it: a 300-character name is cut, not printed whole."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}…{text[-40:]} ({len(text)} characters)"


# -- YAML ---------------------------------------------------------------------------------------


class DuplicateKeyError(ConstructorError):
    """A mapping names the same key twice."""


class BadDateError(ConstructorError):
    """A value written as a date that is no day of the calendar."""


class TooDeepError(ComposerError):
    """Mappings and lists nested past MAX_YAML_DEPTH."""


# The hint for each refusal that is about content, not syntax.
_HINTS: dict[type, str] = {
    DuplicateKeyError: "Give each key once per section; merge the two entries.",
    BadDateError: "Write dates as YYYY-MM-DD, a day that exists.",
    TooDeepError: "Flatten the structure: orgforge's files nest a few levels at most.",
}


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys, deep nesting and impossible dates."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise TooDeepError(
                    None,
                    None,
                    f"nested more than {MAX_YAML_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    line = first_line.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:  # an unhashable key: the base class says so
                    continue
                if line != key_node.start_mark.line + 1:
                    raise DuplicateKeyError(
                        None,
                        None,
                        f"duplicate key {key!r} (first given on line {line})",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise BadDateError(
                None, None, f"{node.value!r} is not a valid date ({exc})", node.start_mark
            ) from None


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)


def load_yaml(text: str, source: str, error: type[UsageError]) -> tuple[Any, yaml.Node | None]:
    """(data, node tree) of one YAML document; a problem is ``error`` naming source and line."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = _HINTS.get(type(exc))
        if hint is not None:
            raise error(f"{where}: {problem}", hint) from None
        raise error(
            f"{where}: malformed YAML: {problem}",
            "Check indentation and quoting on that line (YAML uses spaces, not tabs).",
        ) from None
    except RecursionError:  # a structure the depth cap doesn't see (e.g. alias chains)
        raise error(f"{source}: YAML nested too deeply", "Flatten the file.") from None
    finally:
        loader.dispose()
    return data, node


def yaml_value(text: str) -> Any:
    """A value given as text (an environment variable), parsed as YAML; the text if it isn't."""
    if not text.strip():
        return text
    try:
        data, _ = load_yaml(text, "value", UsageError)
    except UsageError:
        return text
    return data

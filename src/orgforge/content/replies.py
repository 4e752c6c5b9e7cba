"""What an LLM answer is worth: token estimates, batch sizes, reply parsing and per-item checks.

Pure functions of text, no I/O: the LLM engine (``content/llm.py``) and the cost estimate
(``content/estimate.py``) share them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from orgforge.content.contract import KINDS, ContentRequest
from orgforge.content.providers import Reply

CHARS_PER_TOKEN = 4.0
ITEM_OVERHEAD_TOKENS = 12  # {"id":"12","text":"…"}, per item in the answer
CALL_OVERHEAD_TOKENS = 20  # message framing per call
MAX_BATCH = 20
BUDGET_INPUT_MARGIN = 4 / 3  # prompts as dense as 3 characters per token

# Typical answer length per kind (characters), the middle of what the prompts ask for; used to
# size output limits and to estimate cost before anything is spent.
TYPICAL_CHARS: dict[str, int] = {
    "account.description": 300,
    "opportunity.description": 300,
    "opportunity.next_step": 80,
    "case.subject": 60,
    "case.description": 380,
    "case_comment.body": 190,
    "task.subject": 50,
    "task.description": 200,
    "event.subject": 50,
    "event.description": 280,
    "email.subject": 45,
    "email.body": 650,
    "meeting.notes": 550,
    "scorecard.answer": 180,
    "asana.comment": 110,
}
SINGLE_LINE = {"opportunity.next_step", "case.subject", "task.subject", "event.subject"}
SINGLE_LINE |= {"email.subject"}
TRANSPORT = {"rate_limited", "server", "timeout", "connection", "bad_request"}
STOPPED = {"budget", "deadline", "provider_down"}

PLACEHOLDER = re.compile(
    r"\{[A-Za-z_][A-Za-z0-9_ .]*\}"  # {account}
    r"|\[(?:[A-Z][A-Za-z']*)(?: [A-Za-z']+){0,3}\]"  # [Company], [Your Name]
    r"|<(?:[A-Z][A-Za-z']*)(?: [A-Za-z']+){0,3}>"  # <Contact Name>
    r"|(?i:\blorem ipsum\b)|\bTBD\b|\bXXX+\b"
)
# Refusals, not apologies: "I'm sorry for the delay" is a fine case comment.
REFUSAL = re.compile(
    r"^\s*(?:I'm|I’m|I am) sorry,? (?:but\b|I (?:can't|can’t|cannot|won't|am unable|'m unable))"
    r"|^\s*Sorry,? but I\b"
    r"|^\s*I (?:can't|can’t|cannot|won't|am unable to|'m unable to) "
    r"(?:help|assist|comply|fulfil|fulfill|provide that|create that|write that|do that)\b"
    r"|\bas an AI\b|\bas an? (?:AI )?language model\b",
    re.IGNORECASE,
)
_STOPWORDS = {"the", "and", "of", "a", "an", "inc", "llc", "co", "corp", "group"}


def typical_tokens(kind: str) -> float:
    return TYPICAL_CHARS.get(kind, 200) / CHARS_PER_TOKEN + ITEM_OVERHEAD_TOKENS


def batch_sizes(n: int, size: int) -> list[int]:
    """Near-equal batch sizes for n items: about ``size`` each, a short tail spread over the
    others (up to 20 per call) rather than sent as a call of its own."""
    if n <= 0:
        return []
    most = size if size >= MAX_BATCH else min(MAX_BATCH, size + size // 3)
    count = max(1, math.ceil(n / most), n // size)
    base, extra = divmod(n, count)
    return [base + 1] * extra + [base] * (count - extra)


def mentions(text: str, value: str | None) -> bool:
    """Whether ``text`` names ``value`` (by its first distinctive word, case-insensitive)."""
    if not value:
        return True
    words = [w for w in re.findall(r"[\w&'-]+", value) if w.lower() not in _STOPWORDS]
    if not words:
        return True
    return words[0].lower() in text.lower()


def clean(kind: str, text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if kind in SINGLE_LINE:
        text = " ".join(text.split())
    return text


def check(kind: str, text: Any, request: ContentRequest) -> tuple[str | None, str]:
    """(failure reason or None, cleaned text) for one answered item."""
    if not isinstance(text, str):
        return "missing", ""
    text = clean(kind, text)
    spec = KINDS[kind]
    if not spec.min_chars <= len(text) <= spec.max_chars:
        return "length", text
    if PLACEHOLDER.search(text):
        return "placeholder", text
    if REFUSAL.search(text):
        return "refusal", text
    if spec.mentions and not mentions(text, request.context.get(spec.mentions)):
        return "mentions", text
    return None, text


def _strip_fence(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def parse_reply(reply: Reply) -> tuple[dict[str, Any] | None, str | None]:
    """({id: text}, None) or (None, reason): refusal | truncated | malformed."""
    if reply.refusal:
        return None, "refusal"
    data = reply.data
    if data is None:
        if not reply.text:
            return None, "truncated" if reply.truncated else "malformed"
        try:
            data = json.loads(_strip_fence(reply.text))
        except ValueError:
            return None, "truncated" if reply.truncated else "malformed"
    items = data.get("items") if isinstance(data, dict) else data
    if isinstance(items, str):  # some models put the array in a string
        try:
            items = json.loads(items)
        except ValueError:
            return None, "malformed"
    if not isinstance(items, list):
        return None, "malformed"
    found: dict[str, Any] = {}
    for entry in items:
        if isinstance(entry, dict) and "id" in entry:
            found.setdefault(str(entry["id"]).strip(), entry.get("text"))
    if not found:
        return None, "malformed"
    return found, None

"""``outreach.suggest``: a first email for each newly routed lead, from a templates file.

Rules, not a model: the lead's words (description, title, lead source) are matched against each
template's keywords in file order, the first hit wins, and the ``default`` template covers the
rest. The chosen template is filled from the lead and its owner; a placeholder the file names
but orgforge doesn't know is an error when the file is loaded, not a blank in a sent email.
Sending goes through Salesforce's ``emailSimple`` action with ``logEmailOnSend``, which logs the
email on the lead — and so is itself the lead's first touch.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from orgforge.activity.subjects import read_text, read_yaml, validation_error
from orgforge.errors import ConfigError

PLACEHOLDERS = frozenset({"first_name", "company", "title", "owner_name", "source"})


class TemplatesError(ConfigError):
    default_hint = "Compare the file with orgforge/agents/data/outreach.templates.yaml."


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    intent: str
    keywords: tuple[str, ...] = ()
    subject: str
    body: str
    default: bool = False

    @model_validator(mode="after")
    def _placeholders(self) -> Template:
        for text in (self.subject, self.body):
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            except ValueError as exc:
                raise ValueError(f"template {self.id!r}: {exc}") from None
            unknown = sorted(names - PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"template {self.id!r}: unknown placeholder {{{unknown[0]}}} "
                    f"(known: {', '.join(sorted(PLACEHOLDERS))})"
                )
        return self


class Templates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    templates: tuple[Template, ...]

    @model_validator(mode="after")
    def _one_default(self) -> Templates:
        defaults = [t.id for t in self.templates if t.default]
        if len(defaults) != 1:
            raise ValueError(f"exactly one template needs default: true (found {len(defaults)})")
        ids = [t.id for t in self.templates]
        if len(set(ids)) != len(ids):
            raise ValueError("a template id is used twice")
        return self


def load_templates(path: str | Path | None = None) -> Templates:
    if path is None:
        source = "builtin:outreach.templates.yaml"
        text = (resources.files("orgforge.agents") / "data" / "outreach.templates.yaml").read_text()
    else:
        source, text = str(path), read_text(path, "outreach templates", TemplatesError)
    data, nodes = read_yaml(text, source, TemplatesError)
    if not isinstance(data, dict):
        raise TemplatesError(f"{source}:1: a templates file is a mapping (version, templates)")
    try:
        return Templates.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source, nodes, TemplatesError) from None


@dataclass(frozen=True)
class Suggestion:
    lead_id: str
    template_id: str
    intent: str
    matched: str | None  # the keyword that chose it; None: the default
    subject: str
    body: str
    to: str | None


def suggest(templates: Templates, lead: dict[str, Any], owner_name: str) -> Suggestion:
    words = " ".join(
        str(lead.get(k) or "") for k in ("Description", "Title", "LeadSource")
    ).casefold()
    chosen, matched = None, None
    for template in templates.templates:
        for keyword in template.keywords:
            if re.search(rf"\b{re.escape(keyword.casefold())}\b", words):
                chosen, matched = template, keyword
                break
        if chosen:
            break
    if chosen is None:
        chosen = next(t for t in templates.templates if t.default)
    values = {
        "first_name": lead.get("FirstName") or "there",
        "company": lead.get("Company") or "your team",
        "title": lead.get("Title") or "leader",
        "owner_name": owner_name,
        "source": lead.get("LeadSource") or "our site",
    }
    return Suggestion(
        lead_id=str(lead.get("Id")),
        template_id=chosen.id,
        intent=chosen.intent,
        matched=matched,
        subject=chosen.subject.format(**values),
        body=chosen.body.format(**values),
        to=lead.get("Email"),
    )

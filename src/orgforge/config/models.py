"""The settings as pydantic models: one section per part of orgforge, the whole ``Config``,
and the constants they are built from (presets, per-account counts).

Re-exported by :mod:`orgforge.config`; import from there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from orgforge.clock import REAL, Clock

ENV_PREFIX = "ORGFORGE_"
ASANA_TOKEN_ENV = "ORGFORGE_ASANA_TOKEN"
WEB_TOKEN_ENV = "ORGFORGE_WEB_TOKEN"  # `orgforge serve`'s token: a secret, not a setting
DEFAULT_CONFIG_FILE = "orgforge.yaml"

PRESETS: dict[str, int] = {"tiny": 10, "prd": 100, "large": 10_000, "xl": 100_000}
"""Size presets by number of accounts; every other object scales by ``per_account``."""

# The PRD's default counts at 100 accounts, expressed per account.
PRD_PER_ACCOUNT: dict[str, float] = {
    "Contact": 4,
    "Opportunity": 2.5,
    "OpportunityContactRole": 5,
    "Case": 2,
    "CaseComment": 4,
    "Task": 4,
    "Event": 1.5,
    "Lead": 3,
}
CONVERTED_LEAD_SHARE = 1 / 3
"""Share of a block's leads that are converted (generate/leads.py; `orgforge stats` target)."""
BLOCK_SIZE = 10
"""Accounts are generated in blocks of this many; per-block totals are exact (see generate/)."""


class _Model(BaseModel):
    # allow_inf_nan=False: "1e400" or "nan" for a float setting is refused, not run with
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _check_weights(value: dict[str, float], what: str) -> dict[str, float]:
    if not value:
        raise ValueError(f"{what} needs at least one entry")
    for name, weight in value.items():
        if weight < 0:
            raise ValueError(f"{what} weight for {name!r} is negative ({weight})")
    total = sum(value.values())
    if abs(total - 100) > 1e-6:
        raise ValueError(f"{what} weights must sum to 100, got {total:g}")
    return value


def _check_known(value: dict[str, float], allowed: tuple[str, ...], what: str) -> dict[str, float]:
    for name in value:
        if name not in allowed:
            raise ValueError(f"unknown {what} {name!r}; one of {', '.join(allowed)}")
    return value


def _check_hours(value: tuple[int, int]) -> tuple[int, int]:
    start, end = value
    if not (0 <= start < end <= 24) or end - start < 2:
        raise ValueError(f"business_hours must be [start, end] within 0-24, got {list(value)}")
    return value


BusinessHours = Annotated[tuple[int, int], AfterValidator(_check_hours)]
"""[start hour, end hour) of a working day, local time."""

AS_OF_RANGE = (dt.date(1970, 1, 1), dt.date(2199, 12, 31))
"""Days ``as_of`` may be: histories reach years back and plans months ahead of it, and every
date must stay a date Python, SQLite and Salesforce all represent."""


def _check_url(value: str | None) -> str | None:
    """An http(s) URL with a host, refused here rather than by the HTTP client mid-run."""
    if value is None:
        return value
    from urllib.parse import urlsplit

    problem = None
    if any(c.isspace() or ord(c) < 32 for c in value):
        problem = "contains spaces or control characters"
    else:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - parsing the port raises on a bad one
        except ValueError as exc:
            problem = str(exc)
        else:
            if parts.scheme not in ("http", "https"):
                problem = "must start with http:// or https://"
            elif not parts.hostname:
                problem = "has no host name"
    if problem:
        raise ValueError(f"{value!r} is not a URL: {problem}")
    return value


HttpUrl = Annotated[str, AfterValidator(_check_url)]
"""An http:// or https:// URL with a host (kept as the text given)."""


class DensityConfig(_Model):
    """Share of records per density tier (percent, summing to 100)."""

    rich: float = Field(25, ge=0, le=100)
    moderate: float = Field(50, ge=0, le=100)
    sparse: float = Field(25, ge=0, le=100)

    @model_validator(mode="after")
    def _sum(self) -> DensityConfig:
        _check_weights(self.model_dump(), "density")
        return self


def _default_stages() -> dict[str, float]:
    return {
        "Prospecting": 15,
        "Qualification": 15,
        "Needs Analysis": 15,
        "Value Proposition": 10,
        "Proposal/Price Quote": 15,
        "Negotiation/Review": 10,
        "Closed Won": 12,
        "Closed Lost": 8,
    }


def _default_case_status() -> dict[str, float]:
    return {"New": 20, "Working": 35, "Escalated": 10, "On Hold": 10, "Closed": 25}


class GenerateConfig(_Model):
    accounts: int = Field(PRESETS["prd"], gt=0, le=5_000_000)
    team: str | None = Field(
        None, description="Team file (roles, territories, hours); default packs/data/_team.yaml"
    )
    industries: dict[str, float] | None = Field(
        None, description="Industry pack id → weight (percent). Default: equal over all packs."
    )
    packs: list[str] = Field(default_factory=list, description="Extra pack YAML files")
    per_account: dict[str, float] = Field(default_factory=lambda: dict(PRD_PER_ACCOUNT))
    density: DensityConfig = Field(default_factory=DensityConfig)
    stages: dict[str, float] = Field(default_factory=_default_stages)
    case_status: dict[str, float] = Field(default_factory=_default_case_status)
    task_mix: dict[str, int] = Field(
        default_factory=lambda: {"Call": 150, "Email": 100, "Meeting Prep": 50, "Follow Up": 100}
    )
    event_mix: dict[str, int] = Field(default_factory=lambda: {"Meeting": 100, "Demo": 50})
    skip_weekends: bool = True
    business_hours: BusinessHours = (8, 18)
    workers: int = Field(0, ge=0, le=64, description="Processes; 0 = automatic")

    @field_validator("industries")
    @classmethod
    def _industries(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else _check_weights(value, "industries")

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: dict[str, float]) -> dict[str, float]:
        from orgforge.schema.salesforce import STAGES

        return _check_weights(_check_known(value, STAGES, "stage"), "stages")

    @field_validator("case_status")
    @classmethod
    def _case_status(cls, value: dict[str, float]) -> dict[str, float]:
        from orgforge.schema.salesforce import CASE_STATUSES

        return _check_weights(_check_known(value, CASE_STATUSES, "case status"), "case_status")

    @field_validator("per_account")
    @classmethod
    def _per_account(cls, value: dict[str, float]) -> dict[str, float]:
        for name, ratio in value.items():
            if name not in PRD_PER_ACCOUNT:
                known = ", ".join(PRD_PER_ACCOUNT)
                raise ValueError(f"unknown object {name!r}; per_account takes {known}")
            if ratio < 0:
                raise ValueError(f"per_account.{name} is negative ({ratio})")
            if ratio > 1000:
                raise ValueError(f"per_account.{name} = {ratio} is more than 1000 per account")
        merged = dict(PRD_PER_ACCOUNT)
        merged.update(value)
        if merged["Opportunity"] and merged["Contact"] < 1:
            raise ValueError("per_account.Contact must be ≥ 1 when there are opportunities")
        if merged["OpportunityContactRole"] < merged["Opportunity"]:
            raise ValueError(
                "per_account.OpportunityContactRole must be ≥ Opportunity "
                "(every opportunity has one primary contact role)"
            )
        if merged["CaseComment"] and not merged["Case"]:
            raise ValueError("per_account.CaseComment needs Case > 0")
        return merged

    @field_validator("task_mix", "event_mix")
    @classmethod
    def _mix(cls, value: dict[str, int], info) -> dict[str, int]:
        allowed = (
            ("Call", "Email", "Meeting Prep", "Follow Up")
            if info.field_name == "task_mix"
            else ("Meeting", "Demo")
        )
        for name, count in value.items():
            if name not in allowed:
                raise ValueError(f"unknown activity type {name!r}; one of {', '.join(allowed)}")
            if count < 0:
                raise ValueError(f"{info.field_name}.{name} is negative ({count})")
        if not any(value.values()):
            raise ValueError(f"{info.field_name} needs at least one positive count")
        return value

    def count(self, object_name: str) -> int:
        """Expected total of an object for this many accounts (exact when accounts % 10 == 0)."""
        if object_name == "Account":
            return self.accounts
        return round(self.per_account.get(object_name, 0) * self.accounts)


# orgforge.default_plugins registers these; other names are looked up among installed plugins.
BUILTIN_ENGINES = ("offline", "llm")
BUILTIN_PROVIDERS = ("openai", "azure", "anthropic", "compatible")


def _registered(value: str, known: Mapping[str, Any]) -> str:
    """``value`` if a plugin registered it; the message lists what is (plugins add names)."""
    if value not in known:
        raise ValueError(f"{value!r} is not registered; registered: {', '.join(sorted(known))}")
    return value


class ContentConfig(_Model):
    """Which engine writes the text fields, and how the LLM engine talks to its provider.

    API keys come from the environment or ``.env`` only (``OPENAI_API_KEY``,
    ``AZURE_OPENAI_API_KEY``, ``ANTHROPIC_API_KEY`` or ``ORGFORGE_CONTENT__API_KEY``), never
    from a YAML file, and are masked in every dump. See docs/content.md.
    """

    engine: str = Field(
        "offline", description="A registered text engine: offline | llm (or a plugin's)"
    )
    provider: str = Field(
        "openai",
        description="A registered LLM provider: openai | azure | anthropic | compatible "
        "(any OpenAI-compatible server at base_url), or a plugin's",
    )
    model: str = Field("gpt-4o-mini", min_length=1, description="Model name (prices, cache)")

    @field_validator("engine")
    @classmethod
    def _registered_engine(cls, value: str) -> str:
        if value in BUILTIN_ENGINES:  # no need to load every installed plugin to know these
            return value
        from orgforge.plugins import content_engines

        return _registered(value, content_engines())

    @field_validator("provider")
    @classmethod
    def _registered_provider(cls, value: str) -> str:
        if value in BUILTIN_PROVIDERS:
            return value
        from orgforge.plugins import llm_providers

        return _registered(value, llm_providers())

    base_url: HttpUrl | None = Field(None, description="API base URL (required for compatible)")
    api_key: SecretStr | None = Field(None, description="Env/.env only; masked everywhere")
    azure_endpoint: HttpUrl | None = Field(None, description="Azure: https://NAME.openai.azure.com")
    azure_deployment: str | None = Field(None, description="Azure: deployment name")
    api_version: str = Field("2024-10-21", description="Azure OpenAI API version")
    batch_size: int = Field(15, ge=1, le=50, description="Requests of one kind per call")
    concurrency: int = Field(8, ge=1, le=256, description="Calls in flight at once")
    requests_per_minute: int = Field(0, ge=0, description="Client-side limit; 0 = none")
    tokens_per_minute: int = Field(0, ge=0, description="Client-side limit; 0 = none")
    timeout: float = Field(60.0, gt=0, le=3600, description="Seconds per call")
    max_attempts: int = Field(4, ge=1, le=20, description="Tries per batch before splitting")
    backoff: float = Field(1.0, ge=0, le=120, description="Base backoff seconds (doubles)")
    backoff_max: float = Field(30.0, ge=0, le=600, description="Longest backoff wait")
    deadline: float = Field(1800.0, gt=0, description="Seconds for all calls of one run")
    max_consecutive_failures: int = Field(
        3, ge=1, description="Failed batches in a row before the provider counts as down"
    )
    max_output_tokens: int = Field(8192, ge=256, description="Output token cap per call")
    temperature: float | None = Field(None, ge=0, le=2, description="None = provider default")
    structured: Literal["auto", "json_schema", "json_object", "none"] = Field(
        "auto", description="JSON output mode for OpenAI-style APIs; auto falls back"
    )
    max_cost: float | None = Field(None, ge=0, description="Budget in USD for one run")
    prices_file: str | None = Field(None, description="YAML prices overriding prices.yaml")
    prompts_dir: str | None = Field(None, description="Folder of prompt files overriding ours")


class ExportConfig(_Model):
    format: Literal["csv", "json", "parquet"] = "csv"
    out: str | None = None


def _check_range(value: tuple[int, int], what: str, high: int) -> tuple[int, int]:
    low, top = value
    if not (0 <= low <= top <= high):
        raise ValueError(
            f"{what} must be [min, max] with 0 ≤ min ≤ max ≤ {high}, got {list(value)}"
        )
    return value


def _refuse_unwritten(value: str, unwritten: set[str], instead: str) -> str:
    """A mode the config describes but no sink writes yet is refused, not silently ignored."""
    if value in unwritten:
        raise ValueError(f"mode {value!r} is not written by any target yet; use {instead}")
    return value


class TagConfig(_Model):
    """Optional marker on records the activity job creates, besides the world's own state.

    ``description`` appends ``marker`` to the record's Description (works in any org);
    ``field`` (the record's signature in the custom field ``field``) is planned and refused
    until the Salesforce sink sends it. ``none``: no marker.
    """

    mode: Literal["none", "description", "field"] = "none"
    marker: str = Field("[orgforge:activity]", min_length=3, max_length=60)
    field: str = Field("Orgforge_Activity__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")

    @field_validator("mode")
    @classmethod
    def _written(cls, value: str) -> str:
        return _refuse_unwritten(value, {"field"}, "none or description")


class ScorecardSalesforceConfig(_Model):
    """How scorecards reach Salesforce.

    ``task``: one completed Task per scorecard on the opportunity (Subject: framework, coverage,
    confidence; Description: every question and answer) — a world record like the meetings and
    emails, so it goes to every export and to an org with ``--target salesforce``. Planned,
    and refused until a target writes them: ``note`` — one ContentNote per scorecard linked
    to the opportunity; ``object`` — one record of ``object`` per scorecard and one of
    ``answer_object`` per answer, fields mapped below. ``none``: scorecards stay in the world's
    scorecard tables and the exports' Scorecard file.
    """

    mode: Literal["none", "task", "note", "object"] = "none"
    object: str = "Orgforge_Scorecard__c"

    @field_validator("mode")
    @classmethod
    def _written(cls, value: str) -> str:
        return _refuse_unwritten(value, {"note", "object"}, "none or task")

    fields: dict[str, str] = Field(
        default_factory=lambda: {
            "opportunity": "Opportunity__c",
            "framework": "Framework__c",
            "coverage": "Coverage__c",
            "confidence": "Confidence__c",
            "mode": "Mode__c",
        }
    )
    answer_object: str = "Orgforge_Scorecard_Answer__c"
    answer_fields: dict[str, str] = Field(
        default_factory=lambda: {
            "scorecard": "Scorecard__c",
            "question": "Question__c",
            "answer": "Answer__c",
            "confidence": "Confidence__c",
            "evidence": "Evidence__c",
        }
    )


class ScorecardConfig(_Model):
    frameworks: list[str] = Field(
        default_factory=lambda: ["meddicc"],
        description="Framework ids to fill (built-in: meddicc, meddpicc, bant)",
    )
    files: list[str] = Field(default_factory=list, description="Extra framework YAML files")
    mode: Literal["heuristic", "llm", "hybrid"] = "heuristic"
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="hybrid: answers below this go to the text engine"
    )
    llm_confidence: float = Field(0.6, ge=0, le=1, description="confidence of an engine answer")
    salesforce: ScorecardSalesforceConfig = Field(default_factory=ScorecardSalesforceConfig)


class ActivityConfig(_Model):
    """Meetings, emails and scorecards on opportunities (``orgforge activity``)."""

    where: str | None = Field(None, description="Opportunity filter, SOQL WHERE syntax")
    max_opps: int | None = Field(
        None, gt=0, lt=2**63, description="At most this many opportunities"
    )
    past_meetings: tuple[int, int] = (3, 8)
    future_meetings: tuple[int, int] = (1, 3)
    emails: tuple[int, int] = (5, 20)
    meeting_minutes: list[int] = Field(default_factory=lambda: [30, 45, 60])
    business_hours: BusinessHours = (9, 17)
    timezone_from: Literal["account", "owner"] = "account"
    skip_weekends: bool = True
    holidays: str | None = Field(
        "auto",
        description="auto (by account country) | a built-in calendar (us, uk) | a YAML file "
        "| null for none",
    )
    subjects: str | None = Field(None, description="Subject types YAML file; default built-in")
    future_days: int = Field(45, ge=1, le=365, description="Horizon for future meetings")
    prune: bool = Field(
        True, description="Remove activity orgforge created that is no longer planned"
    )
    tag: TagConfig = Field(default_factory=TagConfig)
    concurrency: int = Field(4, ge=1, le=64, description="Opportunities chunks in flight")
    chunk_size: int = Field(200, ge=1, le=10_000, description="Opportunities per write")
    scorecards: ScorecardConfig = Field(default_factory=ScorecardConfig)

    @field_validator("past_meetings", "future_meetings", "emails")
    @classmethod
    def _ranges(cls, value: tuple[int, int], info) -> tuple[int, int]:
        return _check_range(value, info.field_name, 200)

    @field_validator("meeting_minutes")
    @classmethod
    def _minutes(cls, value: list[int]) -> list[int]:
        if not value or any(m <= 0 or m % 15 or m > 240 for m in value):
            raise ValueError(
                f"meeting_minutes must be multiples of 15 between 15 and 240, got {value}"
            )
        return value

    @model_validator(mode="after")
    def _fits(self) -> ActivityConfig:
        span = (self.business_hours[1] - self.business_hours[0]) * 60
        if max(self.meeting_minutes) > span:
            raise ValueError(
                f"a {max(self.meeting_minutes)}-minute meeting does not fit business_hours "
                f"{list(self.business_hours)}"
            )
        return self


class SalesforceConfig(_Model):
    """How to reach a Salesforce org and how to load it (see docs/salesforce.md).

    Secrets never live here: SF_ACCESS_TOKEN, SF_PASSWORD, SF_SECURITY_TOKEN (and
    SF_CONSUMER_SECRET) come from the environment, ``.env`` or flags only.
    """

    auth: Literal["auto", "sf-cli", "jwt", "password", "token"] = Field(
        "auto",
        description="auto: token if SF_ACCESS_TOKEN, jwt if key_file, password if SF_PASSWORD, "
        "else the sf CLI",
    )
    org: str | None = Field(None, description="sf CLI alias or username (--target-org)")
    instance_url: HttpUrl | None = Field(None, description="https://MyDomain.my.salesforce.com")
    login_url: HttpUrl = "https://login.salesforce.com"
    username: str | None = None
    consumer_key: str | None = Field(None, description="Connected app consumer key (JWT)")
    key_file: str | None = Field(None, description="Private key PEM file for the JWT flow")
    api_version: str = Field("59.0", pattern=r"^\d{2,3}\.0$")
    api: Literal["auto", "rest", "bulk"] = "auto"
    bulk_threshold: int = Field(
        2000, ge=1, description="auto: Bulk API 2.0 for an object with at least this many records"
    )
    batch_size: int = Field(200, ge=1, le=200, description="Records per sObject Collections call")
    concurrency: int = Field(4, ge=1, le=16, description="REST requests in flight at once")
    external_id: Literal["auto", "upsert", "key", "none"] = Field(
        "auto",
        description="upsert on Orgforge_Key__c | insert writing it | none (fingerprints); "
        "auto picks per object from the org's describe",
    )
    skip_fields: list[str] = Field(
        default_factory=list, description="Object.Field names not to send (org lacks them)"
    )

    @field_validator("skip_fields")
    @classmethod
    def _skip_fields(cls, value: list[str]) -> list[str]:
        from orgforge.schema import salesforce as sf

        for name in value:
            obj_name, _, field_name = name.partition(".")
            obj = sf.BY_NAME.get(obj_name)
            if obj is None or not field_name:
                raise ValueError(
                    f"{name!r} is not Object.Field with an object orgforge loads "
                    f"({', '.join(sorted(sf.BY_NAME))})"
                )
            if not obj.has_field(field_name):
                raise ValueError(f"{name!r}: orgforge sends no field {field_name!r} on {obj_name}")
        return value

    owner_mapping: Literal["role", "running-user", "round-robin"] = Field(
        "role",
        description="World users without an owners entry: the org's active users with the same "
        "Title (role), the loading user, or all active users in turn",
    )
    owners: dict[str, str] = Field(
        default_factory=dict,
        description="World user key (User/03) or role (a Title) → org user Id or Username",
    )
    max_retries: int = Field(5, ge=0, le=20, description="Retries of a retryable failure")
    timeout: float = Field(120.0, gt=0, description="Seconds per HTTP request")


class AsanaConfig(_Model):
    """How to reach Asana and how hard to push it (see docs/asana.md).

    Tokens never live here: ORGFORGE_ASANA_TOKEN (the default persona) and
    ORGFORGE_ASANA_TOKEN__<PERSONA> (one per person, e.g. ORGFORGE_ASANA_TOKEN__ADA_PARK) come
    from the environment or ``.env`` only.
    """

    url: str = Field(
        "https://app.asana.com/api/1.0",
        description="API base (a sandbox: http://127.0.0.1:8643/api/1.0)",
    )
    workspace: str | None = Field(None, description="Workspace gid (default: the first one)")
    tier: Literal["free", "paid"] = Field(
        "free", description="free: 150 requests/min per token, paid: 1,500"
    )
    rate_limit: int | None = Field(
        None, ge=1, description="Requests/min per token (overrides tier)"
    )
    rate_share: float = Field(
        0.8, gt=0, le=1, description="Share of the quota orgforge uses (stays under it)"
    )
    max_retries: int = Field(5, ge=0, le=20, description="Retries of a 429/5xx/connection error")
    timeout: float = Field(60.0, gt=0, description="Seconds per HTTP request")
    tasks_per_project: int = Field(12, ge=1, le=500, description="asana seed: tasks per project")
    comments_per_task: float = Field(
        1.5, ge=0, le=20, description="asana seed: average comments per task"
    )


class Config(_Model):
    seed: int = Field(42, ge=0, lt=2**63)
    as_of: dt.date | None = Field(None, description="Dates are relative to this day; default today")
    world: str = "orgforge.db"
    runs_dir: str = "runs"
    preset: Literal["tiny", "prd", "large", "xl"] | None = None
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    content: ContentConfig = Field(default_factory=ContentConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)
    salesforce: SalesforceConfig = Field(default_factory=SalesforceConfig)
    asana: AsanaConfig = Field(default_factory=AsanaConfig)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> Any:
        if isinstance(value, bool | float):
            raise ValueError("seed must be a whole number")
        return value

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, value: dt.date | None) -> dt.date | None:
        low, high = AS_OF_RANGE
        if value is not None and not low <= value <= high:
            raise ValueError(
                f"{value.isoformat()} is outside {low.isoformat()}..{high.isoformat()}"
            )
        return value

    # Not a setting: what "today" is when as_of is unset, and what this config's runs stamp
    # their times with. `api.resolve(clock=...)` or `with_clock` set it; the real clock if not.
    _clock: Clock = PrivateAttr(default=REAL)

    @property
    def clock(self) -> Clock:
        return self._clock

    def with_clock(self, clock: Clock) -> Config:
        """A copy of this config whose "today" (and runs' timestamps) are read on ``clock``."""
        copy = self.model_copy()
        copy._clock = clock
        return copy

    @property
    def today(self) -> dt.date:
        """``as_of``, else today on this config's clock (UTC)."""
        return self.as_of or self._clock.today()

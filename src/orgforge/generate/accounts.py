"""Accounts and their subtrees, one block of accounts at a time.

Determinism rules this module:

* account i's subtree draws only from its own stream ``(seed, "account", i)``;
* per-block totals (contacts, opportunities, …) are split among the block's accounts with the
  block's stream ``(seed, "block", b)``, using every account slot of the block — even ones past
  the world's end — so a partial last block splits exactly like a full one (prefix stability);
* text is never drawn here: every text field is a :class:`ContentRequest` filled afterwards.

Dates are offsets in days from ``as_of``; shifting as_of shifts every date by the same delta
(with ``skip_weekends``, a delta of whole weeks, since meetings snap to weekdays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from random import Random

from orgforge.config import BLOCK_SIZE
from orgforge.content.contract import ContentRequest
from orgforge.generate.distributions import (
    Weighted,
    allocate,
    block_total,
    quota_sequence,
    stream,
)
from orgforge.generate.names import AccountName
from orgforge.generate.plan import Plan
from orgforge.generate.timeutil import iso_date as _date
from orgforge.generate.timeutil import utc as _utc
from orgforge.generate.timeutil import weekday_snap as _weekday_snap
from orgforge.schema.salesforce import ACCOUNT_TYPES, LEAD_SOURCES, STAGE_FACTS

ACCOUNT_TYPE = {
    "Customer": "Customer - Direct",
    "Prospect": "Prospect",
    "Partner": ACCOUNT_TYPES[2],
}
SENIORITY_WEIGHTS = {"executive": 8, "vp": 14, "director": 24, "manager": 30, "individual": 24}
SENIOR = ("executive", "vp", "director")
PRIMARY_ROLES = ("Decision Maker", "Economic Buyer", "Executive Sponsor")
OTHER_ROLES = ("Evaluator", "Technical Buyer", "Influencer", "Business User", "Other")
CASE_PRIORITY = {
    "Escalated": Weighted((("High", 75), ("Medium", 20), ("Low", 5))),
    "Working": Weighted((("High", 35), ("Medium", 45), ("Low", 20))),
}
CASE_PRIORITY_DEFAULT = Weighted((("High", 25), ("Medium", 50), ("Low", 25)))
COMMENT_WEIGHT = {"New": 0.3, "Working": 1.2, "Escalated": 1.6, "On Hold": 1.0, "Closed": 1.2}
CASE_WEIGHT_BY_TYPE = {"Customer": 1.6, "Partner": 0.8, "Prospect": 0.25, "Other": 0.6}
TASK_SHAPE = {  # activity type → (TaskSubtype, Type)
    "Call": ("Call", "Call"),
    "Email": ("Email", "Email"),
    "Meeting Prep": ("Task", "Meeting"),
    "Follow Up": ("Task", "Other"),
}
LOCATIONS = ("Zoom", "Microsoft Teams", "Google Meet", "On site", "Phone")
OPEN_TASK_STATUSES = ("Not Started", "In Progress", "Waiting on someone else", "Deferred")
_TASK_PRIORITY = Weighted((("Normal", 70), ("High", 20), ("Low", 10)))


@dataclass
class Header:
    """What the block needs to know about an account before splitting totals among them."""

    index: int
    rng: Random
    size: float  # 0..1, log-scaled employees within the pack's range
    employees: int
    type_key: str  # Customer | Prospect | Partner | Other


@dataclass
class BlockResult:
    rows: dict[str, list[dict]] = field(default_factory=dict)
    requests: list[tuple[dict, str, ContentRequest]] = field(default_factory=list)

    def add(self, object_name: str, record: dict) -> dict:
        record["job"] = "generate"
        self.rows.setdefault(object_name, []).append(record)
        return record

    def text(self, record: dict, field_name: str, kind: str, context: dict) -> None:
        record[field_name] = None
        self.requests.append((record, field_name, ContentRequest(kind, record["key"], context)))


def _header(plan: Plan, index: int, industry: str, types: Weighted[str]) -> Header:
    rng = stream(plan.seed, "account", index)
    low, high = plan.packs[industry].company.employees
    size = rng.random()
    employees = int(round(math.exp(math.log(low) + size * math.log(high / low)), -1) or low)
    return Header(index, rng, size, max(employees, 1), types.pick(rng))


class BlockGenerator:
    """Generates one block of accounts; construct once per process and reuse."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.asof = plan.as_of_ordinal
        # Per pack: its titles by seniority, and a weighted pick of seniority levels.
        self.titles: dict[str, tuple[dict[str, list], Weighted[str]]] = {}
        for pack_id, pack in plan.packs.items():
            by_level: dict[str, list] = {}
            for title in pack.titles:
                by_level.setdefault(title.seniority, []).append(title)
            levels = Weighted({lvl: w for lvl, w in SENIORITY_WEIGHTS.items() if lvl in by_level})
            self.titles[pack_id] = (by_level, levels)
        self.tier_of = plan.density.pick_unit  # a density tier from one uniform draw
        self.company_types = {pid: Weighted(p.company.types) for pid, p in plan.packs.items()}

    # -- the block -----------------------------------------------------------------------------

    def block(
        self, block: int, names: dict[int, AccountName], industries: list[str]
    ) -> BlockResult:
        """Generate the accounts of ``block`` listed in ``names`` (the others are phantoms).

        ``industries`` holds the industry of every slot of the block (phantoms included), since
        the split of the block's totals depends on every slot's size.
        """
        plan = self.plan
        first = block * BLOCK_SIZE
        headers = [
            _header(plan, first + j, industries[j], self.company_types[industries[j]])
            for j in range(BLOCK_SIZE)
        ]
        brng = stream(plan.seed, "block", block)
        per = plan.per_account

        def total(name: str) -> int:
            return block_total(per[name], block, BLOCK_SIZE)

        sizes = [0.3 + h.size for h in headers]
        contacts = allocate(total("Contact"), sizes, brng, minimum=2 if per["Contact"] >= 2 else 1)
        opps = allocate(total("Opportunity"), sizes, brng)
        ocr_total = max(total("OpportunityContactRole"), sum(opps))
        ocr = allocate(
            ocr_total,
            [float(o) for o in opps],
            brng,
            minimum=opps,
            cap=[o * min(4, c) for o, c in zip(opps, contacts, strict=True)],
        )
        case_weights = [
            s * CASE_WEIGHT_BY_TYPE[h.type_key] for s, h in zip(sizes, headers, strict=True)
        ]
        cases = allocate(total("Case"), case_weights, brng)
        comments = allocate(total("CaseComment"), [float(c) for c in cases], brng)
        task_types = quota_sequence(plan.task_mix, total("Task"), brng)
        event_types = quota_sequence(plan.event_mix, total("Event"), brng)
        tasks = allocate(len(task_types), [s + o for s, o in zip(sizes, opps, strict=True)], brng)
        events = allocate(len(event_types), [s + o for s, o in zip(sizes, opps, strict=True)], brng)

        result = BlockResult()
        task_cursor = event_cursor = 0
        for j, header in enumerate(headers):
            task_slice = task_types[task_cursor : task_cursor + tasks[j]]
            event_slice = event_types[event_cursor : event_cursor + events[j]]
            task_cursor += tasks[j]
            event_cursor += events[j]
            if header.index in names:
                counts = (contacts[j], opps[j], ocr[j], cases[j], comments[j])
                self.account(result, header, names[header.index], counts, task_slice, event_slice)
        return result

    # -- one account ---------------------------------------------------------------------------

    def account(
        self,
        out: BlockResult,
        h: Header,
        naming: AccountName,
        counts: tuple[int, int, int, int, int],
        task_types: list[str],
        event_types: list[str],
    ) -> None:
        plan, rng = self.plan, h.rng
        n_contacts, n_opps, n_roles, n_cases, n_comments = counts
        pack = plan.packs[naming.industry]
        number = f"{h.index + 1:04d}"
        tier = plan.density.pick(rng)
        place = plan.pools.places.pick(rng)
        owner = plan.owners[int(rng.random() * len(plan.owners))]
        rich, sparse = tier == "rich", tier == "sparse"
        moderate_half = tier == "moderate" and rng.random() < 0.5
        revenue_lo, revenue_hi = pack.company.revenue_per_employee
        revenue = round(h.employees * rng.uniform(revenue_lo, revenue_hi), -4)
        account = out.add(
            "Account",
            {
                "key": f"Account/{number}",
                "account_idx": h.index,
                "seq": 0,
                "tier": tier,
                "Name": naming.name,
                "Industry": pack.industry,
                "Type": ACCOUNT_TYPE.get(h.type_key, "Other"),
                "Phone": None if sparse else self._phone(rng, place),
                "Website": None if sparse else f"https://www.{naming.domain}",
                "AnnualRevenue": revenue
                if rich or (tier == "moderate" and rng.random() < 0.3)
                else None,
                "NumberOfEmployees": h.employees if rich else None,
                "BillingStreet": None if sparse else self._street(rng),
                "BillingCity": None if sparse else place.city,
                "BillingState": None if sparse else place.state,
                "BillingPostalCode": None if sparse else self._postal(rng, place),
                "BillingCountry": place.country,
                "Rating": None if sparse else ("Hot", "Warm", "Cold")[int(rng.random() * 3)],
                "AccountSource": None if sparse else LEAD_SOURCES[int(rng.random() * 5)],
                "OwnerId": owner.key,
            },
        )
        out.text(
            account,
            "Description",
            "account.description",
            {
                "account": naming.name,
                "industry": naming.industry,
                "industry_label": pack.label.lower(),
                "city": place.city,
                "state": place.state_name,
                "employees": f"{h.employees:,}",
                "size": "large" if h.size > 0.66 else "mid-sized" if h.size > 0.33 else "growing",
                "type": h.type_key,
            },
        )
        if not (rich or moderate_half):
            account["Description"] = None
            out.requests.pop()

        contacts = self.contacts(out, h, naming, place, owner.key, n_contacts)
        opps = self.opportunities(out, h, naming, contacts, owner.key, n_opps, n_roles)
        cases = self.cases(out, h, naming, contacts, owner.key, n_cases, n_comments)
        self.tasks(out, h, naming, contacts, opps, cases, task_types)
        self.events(out, h, naming, place.tz, contacts, opps, event_types)

    # -- helpers for realistic values ----------------------------------------------------------

    @staticmethod
    def _phone(rng: Random, place) -> str:
        line = int(rng.random() * 100)
        if place.country in ("United States", "Canada"):
            return f"({place.area}) 555-01{line:02d}"
        if place.country == "United Kingdom":
            return f"+44 {place.area} 7946 0{line:03d}"
        code = {"Germany": "49", "Australia": "61"}.get(place.country, "1")
        return f"+{code} {place.area} {5550000 + int(rng.random() * 9999)}"

    def _street(self, rng: Random) -> str:
        streets = self.plan.pools.streets
        return f"{int(rng.random() * 9800) + 100} {streets[int(rng.random() * len(streets))]}"

    @staticmethod
    def _postal(rng: Random, place) -> str:
        if place.country == "United States":
            return f"{place.postal}{int(rng.random() * 100):02d}"
        if place.country == "Canada":
            return f"{place.postal} {int(rng.random() * 9)}A{int(rng.random() * 9)}"
        return (
            f"{place.postal} {int(rng.random() * 9)}AB"
            if place.country == "United Kingdom"
            else f"{place.postal}{int(rng.random() * 100):02d}"
        )

    # -- contacts ------------------------------------------------------------------------------

    def contacts(self, out, h, naming, place, owner_key, count) -> list[dict]:
        plan, rng = self.plan, h.rng
        rnd = rng.random
        tier_of = self.tier_of
        by_seniority, levels = self.titles[naming.industry]
        first_names, last_names = plan.pools.first_names, plan.pools.last_names
        n_first, n_last = len(first_names), len(last_names)
        female_first = plan.pools.female_first
        phone, street, postal = self._phone, self._street, self._postal
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Contact/{h.index + 1:04d}/"
        used_names: set[tuple[str, str]] = set()
        rows = out.rows.setdefault("Contact", [])
        result = []
        for n in range(1, count + 1):
            tier = tier_of(rnd())
            rich, sparse = tier == "rich", tier == "sparse"
            level = "executive" if n == 1 and "executive" in by_seniority else levels.pick(rng)
            titles = by_seniority[level]
            title = titles[int(rnd() * len(titles))]
            while True:
                first = first_names[int(rnd() * n_first)]
                last = last_names[int(rnd() * n_last)]
                if (first, last) not in used_names:
                    used_names.add((first, last))
                    break
            email_user = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
            record = {
                "key": f"{key_prefix}{n}",
                "account_idx": h.index,
                "seq": n,
                "tier": tier,
                "job": "generate",
                "AccountId": account_key,
                "Salutation": ("Ms." if first in female_first else "Mr.") if rich else None,
                "FirstName": first,
                "LastName": last,
                "Title": title.title,
                "Department": None if sparse else title.department,
                "Email": f"{email_user}@{naming.domain}",
                "Phone": None if sparse else phone(rng, place),
                "MobilePhone": phone(rng, place) if rich else None,
                "LeadSource": None if sparse else LEAD_SOURCES[int(rnd() * 5)],
                "MailingStreet": street(rng) if rich else None,
                "MailingCity": None if sparse else place.city,
                "MailingState": None if sparse else place.state,
                "MailingPostalCode": postal(rng, place) if rich else None,
                "MailingCountry": None if sparse else place.country,
                "OwnerId": owner_key,
                "_seniority": level,
                "_name": f"{first} {last}",
            }
            rows.append(record)
            result.append(record)
        return result

    # -- opportunities and contact roles -------------------------------------------------------

    def opportunities(self, out, h, naming, contacts, owner_key, count, n_roles) -> list[dict]:
        plan, rng, asof = self.plan, h.rng, self.asof
        rnd, choice = rng.random, rng.choice
        tier_of, pick_stage = self.tier_of, plan.stages.pick
        pack = plan.packs[naming.industry]
        products, themes = pack.products, pack.opportunity_types
        opps = []
        senior = [c for c in contacts if c["_seniority"] in SENIOR] or contacts
        roles_per_opp = (
            allocate(n_roles, [1.0] * count, rng, minimum=1, cap=[min(4, len(contacts))] * count)
            if count
            else []
        )
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Opportunity/{h.index + 1:04d}/"
        opp_type = "New Customer" if h.type_key == "Prospect" else "Existing Customer - Upgrade"
        scale = 0.15 + 0.85 * h.size
        rows = out.rows.setdefault("Opportunity", [])
        for n in range(1, count + 1):
            tier = tier_of(rnd())
            rich, sparse = tier == "rich", tier == "sparse"
            stage = pick_stage(rng)
            probability, forecast = STAGE_FACTS[stage]
            closed = stage.startswith("Closed")
            product = choice(products)
            theme = choice(themes)
            amount = product.min + (product.max - product.min) * scale * rng.uniform(0.55, 1.1)
            amount = max(product.min, min(product.max, round(amount, -3)))
            if closed:
                close = asof - 3 - int(rnd() * 360)
                created = close - 20 - int(rnd() * 200)
            else:
                stage_rank = probability / 100
                close = asof + 7 + int(rnd() * (200 - 150 * stage_rank))
                created = asof - 5 - int(rnd() * (40 + 200 * stage_rank))
            name = f"{naming.name} - {theme}"
            record = {
                "key": f"{key_prefix}{n}",
                "account_idx": h.index,
                "seq": n,
                "tier": tier,
                "job": "generate",
                "AccountId": account_key,
                "Name": name if len(name) <= 120 else name[:117] + "...",
                "StageName": stage,
                "CloseDate": _date(close),
                "Amount": None if sparse and rnd() < 0.5 else float(amount),
                "Probability": float(probability),
                "ForecastCategoryName": forecast,
                "Type": opp_type,
                "LeadSource": None if sparse else LEAD_SOURCES[int(rnd() * 5)],
                "NextStep": None,
                "Description": None,
                "IsClosed": int(closed),
                "IsWon": int(stage == "Closed Won"),
                "CreatedDate": _utc(created, 9 * 60 + int(rnd() * 480), "UTC"),
                "OwnerId": owner_key if rnd() < 0.85 else choice(plan.owners).key,
                "_product": product.name,
                "_close": close,
                "_created": created,
            }
            rows.append(record)
            primary = self._roles(out, h, n, record["key"], contacts, senior, roles_per_opp[n - 1])
            context = {
                "account": naming.name,
                "industry": naming.industry,
                "opportunity": theme,
                "product": product.name,
                "stage": stage,
                "amount": f"${amount:,.0f}",
                "contact": primary["_name"],
                "title": primary["Title"],
            }
            if not closed and not sparse:
                out.text(record, "NextStep", "opportunity.next_step", context)
            if rich or (tier == "moderate" and rnd() < 0.5):
                out.text(record, "Description", "opportunity.description", context)
            record["_context"] = context
            opps.append(record)
        return opps

    def _roles(self, out, h, opp_number, opp_key, contacts, senior, count) -> dict:
        """The opportunity's contact roles; returns the primary contact."""
        rng = h.rng
        primary = rng.choice(senior)
        others = [c for c in contacts if c is not primary]
        rng.shuffle(others)
        key_prefix = f"OpportunityContactRole/{h.index + 1:04d}/{opp_number}/"
        rows = out.rows.setdefault("OpportunityContactRole", [])
        for n, contact in enumerate((primary, *others[: count - 1]), start=1):
            rows.append(
                {
                    "key": f"{key_prefix}{n}",
                    "account_idx": h.index,
                    "seq": opp_number * 100 + n,
                    "tier": None,
                    "job": "generate",
                    "OpportunityId": opp_key,
                    "ContactId": contact["key"],
                    "Role": rng.choice(PRIMARY_ROLES if n == 1 else OTHER_ROLES),
                    "IsPrimary": int(n == 1),
                }
            )
        return primary

    # -- cases and comments --------------------------------------------------------------------

    def cases(self, out, h, naming, contacts, owner_key, count, n_comments) -> list[dict]:
        plan, rng, asof = self.plan, h.rng, self.asof
        rnd, choice = rng.random, rng.choice
        tier_of = self.tier_of
        pack = plan.packs[naming.industry]
        statuses = [plan.case_status.pick(rng) for _ in range(count)]
        per_case = (
            allocate(n_comments, [COMMENT_WEIGHT[s] for s in statuses], rng, cap=[8] * count)
            if count
            else []
        )
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Case/{h.index + 1:04d}/"
        comment_prefix = f"CaseComment/{h.index + 1:04d}/"
        case_rows = out.rows.setdefault("Case", [])
        comment_rows = out.rows.setdefault("CaseComment", [])
        result = []
        for n, status in enumerate(statuses, start=1):
            tier = tier_of(rnd())
            contact = choice(contacts)
            priority = CASE_PRIORITY.get(status, CASE_PRIORITY_DEFAULT).pick(rng)
            age = 1 + int(rnd() * (14 if status == "New" else 180))
            created = asof - age
            closed_on = min(asof, created + 1 + int(rnd() * 30)) if status == "Closed" else None
            key = f"{key_prefix}{n}"
            record = {
                "key": key,
                "account_idx": h.index,
                "seq": n,
                "tier": tier,
                "job": "generate",
                "AccountId": account_key,
                "ContactId": contact["key"],
                "Subject": None,
                "Description": None,
                "Status": status,
                "Priority": priority,
                "Origin": ("Phone", "Email", "Web")[int(rnd() * 3)],
                "Type": choice(pack.case.types) if tier != "sparse" else None,
                "Reason": choice(pack.case.reasons) if tier == "rich" else None,
                "IsEscalated": int(status == "Escalated"),
                "IsClosed": int(status == "Closed"),
                "ClosedDate": _utc(closed_on, 10 * 60 + int(rnd() * 420), "UTC")
                if closed_on
                else None,
                "CreatedDate": _utc(created, 8 * 60 + int(rnd() * 540), "UTC"),
                "OwnerId": owner_key,
            }
            case_rows.append(record)
            context = {
                "account": naming.name,
                "industry": naming.industry,
                "contact": contact["_name"],
                "title": contact["Title"],
                "priority": priority,
                "status": status,
            }
            out.text(record, "Subject", "case.subject", dict(context))
            # The description and comments mention the subject, known only once text is filled:
            # ``subject_of`` tells apply_text which record's subject to put in ``subject``.
            context["subject_of"] = key
            if tier != "sparse":
                out.text(record, "Description", "case.description", context)
            end = closed_on if closed_on is not None else asof
            span = max(1, end - created + 1)
            of = str(per_case[n - 1])
            for m in range(1, per_case[n - 1] + 1):
                day = created + int(rnd() * span)
                comment = {
                    "key": f"{comment_prefix}{n}/{m}",
                    "account_idx": h.index,
                    "seq": n * 100 + m,
                    "tier": None,
                    "job": "generate",
                    "ParentId": key,
                    "CommentBody": None,
                    "IsPublished": int(rnd() < 0.7),
                    "CreatedDate": _utc(min(day, asof), 8 * 60 + int(rnd() * 540), "UTC"),
                }
                comment_rows.append(comment)
                out.text(
                    comment, "CommentBody", "case_comment.body", {**context, "n": str(m), "of": of}
                )
            result.append(record)
        return result

    # -- tasks and events ----------------------------------------------------------------------

    def _what(
        self, rng: Random, account_key: str, opps: list, cases: list, p_opp: float
    ) -> tuple[str, dict | None]:
        u = rng.random()
        if opps and u < p_opp:
            opp = opps[int(rng.random() * len(opps))]
            return opp["key"], opp
        if cases and u < p_opp + 0.15:
            return cases[int(rng.random() * len(cases))]["key"], None
        return account_key, None

    def tasks(self, out, h, naming, contacts, opps, cases, types) -> None:
        plan, rng, asof = self.plan, h.rng, self.asof
        rnd = rng.random
        tier_of, what_of = self.tier_of, self._what
        skip_weekends = plan.skip_weekends
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Task/{h.index + 1:04d}/"
        n_contacts = len(contacts)
        rows = out.rows.setdefault("Task", [])
        for n, kind in enumerate(types, start=1):
            tier = tier_of(rnd())
            contact = contacts[int(rnd() * n_contacts)]
            what, opp = what_of(rng, account_key, opps, cases, 0.55)
            completed = rnd() < 0.6
            if completed:
                day = asof - 1 - int(rnd() * 120)
                status = "Completed"
            else:
                day = asof - 7 + int(rnd() * 38)
                status = OPEN_TASK_STATUSES[int(rnd() * 4)]
            if skip_weekends:
                day = _weekday_snap(day)
                if completed and day >= asof:
                    day -= 3
            subtype, type_ = TASK_SHAPE[kind]
            is_call = kind == "Call"
            record = {
                "key": f"{key_prefix}{n}",
                "account_idx": h.index,
                "seq": n,
                "tier": tier,
                "job": "generate",
                "Subject": None,
                "Description": None,
                "Status": status,
                "Priority": _TASK_PRIORITY.pick_unit(rnd()),
                "ActivityDate": _date(day),
                "TaskSubtype": subtype,
                "Type": type_,
                "CallType": "Outbound" if is_call else None,
                "CallDurationInSeconds": 60 + int(rnd() * 1740) if is_call and completed else None,
                "WhoId": contact["key"],
                "WhatId": what,
                "IsClosed": int(completed),
                "OwnerId": opp["OwnerId"] if opp else contact["OwnerId"],
            }
            rows.append(record)
            _activity_text(out, record, "task", kind, naming, contact, opp, status=status)

    def events(self, out, h, naming, tz, contacts, opps, types) -> None:
        plan, rng, asof = self.plan, h.rng, self.asof
        rnd = rng.random
        tier_of, what_of = self.tier_of, self._what
        skip_weekends = plan.skip_weekends
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Event/{h.index + 1:04d}/"
        start_hour, end_hour = plan.business_hours
        n_contacts = len(contacts)
        rows = out.rows.setdefault("Event", [])
        for n, kind in enumerate(types, start=1):
            tier = tier_of(rnd())
            contact = contacts[int(rnd() * n_contacts)]
            what, opp = what_of(rng, account_key, opps, (), 0.7)
            lengths = (30, 45, 60) if kind == "Meeting" else (45, 60)
            duration = lengths[int(rnd() * len(lengths))]
            day = asof - 90 + int(rnd() * 136)
            if skip_weekends:
                day = _weekday_snap(day)
            slots = (end_hour - start_hour) * 4 - duration // 15
            minutes = start_hour * 60 + 15 * int(rnd() * (slots + 1))
            start = _utc(day, minutes, tz)
            record = {
                "key": f"{key_prefix}{n}",
                "account_idx": h.index,
                "seq": n,
                "tier": tier,
                "job": "generate",
                "Subject": None,
                "Description": None,
                "StartDateTime": start,
                "EndDateTime": _utc(day, minutes + duration, tz),
                "DurationInMinutes": duration,
                "ActivityDateTime": start,
                "Location": None if tier == "sparse" else LOCATIONS[int(rnd() * len(LOCATIONS))],
                "Type": kind,
                "ShowAs": "Busy",
                "IsAllDayEvent": 0,
                "WhoId": contact["key"],
                "WhatId": what,
                "OwnerId": opp["OwnerId"] if opp else contact["OwnerId"],
            }
            rows.append(record)
            _activity_text(out, record, "event", kind, naming, contact, opp, title=contact["Title"])


def _activity_text(out, record, prefix, kind, naming, contact, opp, **extra) -> None:
    """Ask for a task's or event's Subject, and its Description unless the record is sparse."""
    context = {
        "type": kind,
        "industry": naming.industry,
        "account": naming.name,
        "contact": contact["_name"],
        "opportunity": opp["_context"]["opportunity"] if opp else "",
        "product": opp["_product"] if opp else "",
        **extra,
    }
    out.text(record, "Subject", f"{prefix}.subject", context)
    if record["tier"] != "sparse":
        out.text(record, "Description", f"{prefix}.description", context)
    else:
        record["Description"] = None


__all__ = ["BlockGenerator", "BlockResult"]

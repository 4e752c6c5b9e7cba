"""Accounts and their histories, one block of accounts at a time.

Determinism rules this module:

* account i's subtree draws only from its own stream ``(seed, "account", i)``;
* per-block totals (contacts, opportunities, …) are split among the block's accounts with the
  block's stream ``(seed, "block", b)``, using every account slot of the block — even ones past
  the world's end — so a partial last block splits exactly like a full one (prefix stability);
* text is never drawn here: every text field is a :class:`ContentRequest` filled afterwards.

Each account is a *history* (docs/generate.md, "The time model"): the account is created some
months to years before as_of, its contacts join over time, each opportunity moves through its
stages on dated steps, and its meetings, calls and emails are the steps of a sales script placed
inside the stage they belong to (intro call → discovery → thanks → demo prep → demo → demo
follow-up → proposal → negotiation; post-sale after a win). Cases go New → Working → maybe
Escalated / On Hold → Closed with their comments in between. The records are that history's
state at as_of; every field change is also a row of the ``History`` table.

Times are absolute UTC minutes (timeutil.stamp); as_of's midnight UTC is *now*: everything
that has happened is before it, open tasks and planned meetings after it. Shifting as_of shifts
every date by the same delta (with ``skip_weekends``, a delta of whole weeks).
"""

from __future__ import annotations

import math
import unicodedata
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
from orgforge.generate.objects import ObjectMaker
from orgforge.generate.plan import Plan
from orgforge.generate.team import Staffing, TeamUser
from orgforge.generate.timeutil import (
    is_weekend,
    stamp,
    utc_offset_minutes,
    work_day,
    working_minute,
)
from orgforge.generate.timeutil import iso_date as _date
from orgforge.schema.salesforce import ACCOUNT_TYPES, LEAD_SOURCES, STAGE_FACTS, STAGES

ACCOUNT_TYPE = {
    "Customer": "Customer - Direct",
    "Prospect": "Prospect",
    "Partner": ACCOUNT_TYPES[2],
}
# How long ago (days before as_of) an account of each type was created: (least, most).
ACCOUNT_AGE = {"Customer": (240, 1800), "Partner": (180, 1500), "Prospect": (14, 420)}
ACCOUNT_AGE_DEFAULT = (60, 900)
SENIORITY_WEIGHTS = {"executive": 8, "vp": 14, "director": 24, "manager": 30, "individual": 24}
SENIOR = ("executive", "vp", "director")
EXCLUSIVE = SENIOR  # titles one person at an account holds
PRIMARY_ROLES = ("Decision Maker", "Economic Buyer", "Executive Sponsor")
OTHER_ROLES = ("Evaluator", "Technical Buyer", "Influencer", "Business User", "Other")
CASE_PRIORITY = {
    "Escalated": Weighted((("High", 75), ("Medium", 20), ("Low", 5))),
    "Working": Weighted((("High", 35), ("Medium", 45), ("Low", 20))),
}
CASE_PRIORITY_DEFAULT = Weighted((("High", 25), ("Medium", 50), ("Low", 25)))
COMMENT_WEIGHT = {"New": 0.3, "Working": 1.2, "Escalated": 1.6, "On Hold": 1.0, "Closed": 1.2}
COMMENTS_PER_CASE = 8
CASE_WEIGHT_BY_TYPE = {"Customer": 1.6, "Partner": 0.8, "Prospect": 0.25, "Other": 0.6}
# Days a case spends in a status: (least, most).
CASE_STATUS_DAYS = {"New": (0, 2), "Working": (1, 20), "Escalated": (1, 10), "On Hold": (2, 15)}
TASK_SHAPE = {  # activity type → (TaskSubtype, Type)
    "Call": ("Call", "Call"),
    "Email": ("Email", "Email"),
    "Meeting Prep": ("Task", "Meeting"),
    "Follow Up": ("Task", "Other"),
}
LOCATIONS = ("Zoom", "Microsoft Teams", "Google Meet", "On site", "Phone")
OPEN_TASK_STATUSES = ("Not Started", "In Progress", "Waiting on someone else", "Deferred")
_TASK_PRIORITY = Weighted((("Normal", 70), ("High", 20), ("Low", 10)))

# The sales script: (step, object, activity type, stage index it happens in). An opportunity
# gets a prefix of it (what its stage history reached and the account's activity budget
# allows), so a step never exists without the steps it follows.
SCRIPT: tuple[tuple[str, str, str, int], ...] = (
    ("intro_call", "Task", "Call", 0),
    ("discovery", "Event", "Meeting", 1),
    ("thanks", "Task", "Email", 1),
    ("demo_prep", "Task", "Meeting Prep", 2),
    ("demo", "Event", "Demo", 3),
    ("demo_follow_up", "Task", "Follow Up", 3),
    ("proposal", "Task", "Email", 4),
    ("negotiation_call", "Task", "Call", 5),
    ("negotiation_meeting", "Event", "Meeting", 5),
)
WON_SCRIPT = (("kickoff", "Event", "Meeting"), ("check_in", "Task", "Call"))
LOST_SCRIPT = (("keep_in_touch", "Task", "Follow Up"),)
# A step that follows another only exists with it.
STEP_NEEDS = {"thanks": "discovery", "demo_follow_up": "demo"}
POST_SALE_STEPS = frozenset(s for s, _, _ in WON_SCRIPT + LOST_SCRIPT)
SALES_STEPS = tuple(s for s, _, _, _ in SCRIPT)
# Activity the budget has left after the opportunities' scripts: account-level touches.
ACCOUNT_STEP = {
    "Call": "account_call",
    "Email": "account_email",
    "Meeting Prep": "account_prep",
    "Follow Up": "account_follow_up",
    "Meeting": "account_meeting",
    "Demo": "account_demo",
}
STEP_DAYS = (5, 30)  # days an open stage lasts: (least, most)
PLANNED_DAYS = 21  # how far ahead open tasks and planned meetings go
MOVE_DAYS = 10  # working days a meeting may move to when its owner's calendar is full
MIN_WINDOW = 4 * 1440  # a script step's window holds a weekday, whatever day it starts


@dataclass
class Header:
    """What the block needs to know about an account before splitting totals among them."""

    index: int
    rng: Random
    size: float  # 0..1, log-scaled employees within the pack's range
    employees: int
    type_key: str  # Customer | Prospect | Partner | Other
    age: int  # days between the account's creation and as_of


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
    type_key = types.pick(rng)
    least, most = ACCOUNT_AGE.get(type_key, ACCOUNT_AGE_DEFAULT)
    age = least + int(rng.random() * (most - least))
    return Header(index, rng, size, max(employees, 1), type_key, age)


def activity_weight(size: float, opps: int, age: int) -> float:
    """How much of a block's activity an account draws: its size and deals, and its age (a
    two-week-old prospect has had a call or two, not twenty)."""
    return (size + opps) * min(1.0, (age + 7) / 240)


@dataclass(slots=True)
class _Opp:
    record: dict
    stages: list[tuple[str, int]]  # (stage, minute entered), in order
    owner: TeamUser
    contacts: list[dict]  # its contact roles' contacts, primary first
    created: int
    closed: int | None  # minute closed, if closed


class _Clock:
    """Minutes of one generation: as_of's midnight UTC is ``now``. People work on working days
    (weekdays, with ``skip_weekends``) inside their working hours."""

    __slots__ = ("asof", "now", "weekdays_only")

    def __init__(self, asof: int, weekdays_only: bool = True) -> None:
        self.asof = asof
        self.now = asof * 1440
        self.weekdays_only = weekdays_only

    def workday(self, day: int) -> int:
        return work_day(day, self.asof, self.weekdays_only)

    def at(self, day: int, user: TeamUser, u: float) -> int:
        """A minute of ``day`` (its working day) within ``user``'s working hours (their zone)."""
        day = self.workday(day)
        start, end = user.hours
        minute = day * 1440 + start * 60 + int(u * (end - start) * 60)
        # as_of's eve, evening, west of UTC: already past midnight UTC, i.e. not yet happened
        return min(minute - utc_offset_minutes(user.tz, day), self.now - 1)

    def nudge(self, minute: int, user: TeamUser, floor: int, ceiling: int | None = None) -> int:
        """``minute`` moved into ``user``'s working time, kept in [floor, ceiling (now)]."""
        ceiling = self.now - 1 if ceiling is None else ceiling
        return working_minute(minute, user.tz, user.hours, floor, ceiling, self.weekdays_only)

    def between(self, lo: int, hi: int, user: TeamUser, u: float) -> int:
        """A minute at ``u`` of the way from lo to hi, measured on ``user``'s wall clock (a
        world moved by whole days draws the same local times), kept in [lo, hi]."""
        tz = user.tz
        local_lo = lo + utc_offset_minutes(tz, lo // 1440)
        local_hi = hi + utc_offset_minutes(tz, hi // 1440)
        local = local_lo + int(u * max(1, local_hi - local_lo))
        return min(max(local - utc_offset_minutes(tz, local // 1440), lo), hi)

    def days_later(self, minute: int, user: TeamUser, days: int) -> int:
        """The same wall-clock time ``days`` later (earlier, if negative) in ``user``'s zone, so a
        daylight-saving change in between doesn't move it out of their hours."""
        local = minute + utc_offset_minutes(user.tz, minute // 1440)
        target = local + days * 1440
        return target - utc_offset_minutes(user.tz, target // 1440)

    def end_of_day(self, day: int, user: TeamUser, u: float) -> int:
        """Shortly after ``user``'s working day ends (when they log what they did)."""
        return day * 1440 + user.hours[1] * 60 + int(u * 30) - utc_offset_minutes(user.tz, day)


class BlockGenerator:
    """Generates one block of accounts; construct once per process and reuse."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.asof = plan.as_of_ordinal
        self.clock = _Clock(self.asof, plan.skip_weekends)
        # Per pack and segment: its titles by seniority, a weighted pick of seniority levels,
        # its products and its opportunity themes.
        self.titles: dict[tuple[str, str], tuple[dict[str, list], Weighted[str]]] = {}
        self.offer: dict[tuple[str, str], tuple[list, list[str]]] = {}
        for pack_id, pack in plan.packs.items():
            for segment in pack.segments or [None]:
                segment_id = segment.id if segment else ""
                lists = pack.segment_lists(segment_id or None)
                allowed = set(lists["titles"])
                by_level: dict[str, list] = {}
                for title in pack.titles:
                    if title.title in allowed:
                        by_level.setdefault(title.seniority, []).append(title)
                levels = Weighted(
                    {lvl: w for lvl, w in SENIORITY_WEIGHTS.items() if lvl in by_level}
                )
                self.titles[pack_id, segment_id] = (by_level, levels)
                products = [p for p in pack.products if p.name in set(lists["products"])]
                self.offer[pack_id, segment_id] = (products, lists["opportunity_types"])
        self.tier_of = plan.density.pick_unit  # a density tier from one uniform draw
        self.company_types = {pid: Weighted(p.company.types) for pid, p in plan.packs.items()}
        self.staffing = Staffing(plan.team, plan.users)
        self.story: dict[str, str] = {}
        self.objects = ObjectMaker(plan, self.clock, self.titles)

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
        # Capped at what the account's cases hold, so the block's total is always placed.
        comments = allocate(
            total("CaseComment"),
            [float(c) for c in cases],
            brng,
            cap=[COMMENTS_PER_CASE * c for c in cases],
        )
        task_types = quota_sequence(plan.task_mix, total("Task"), brng)
        event_types = quota_sequence(plan.event_mix, total("Event"), brng)
        weights = [
            activity_weight(s, o, h.age) for s, o, h in zip(sizes, opps, headers, strict=True)
        ]
        tasks = allocate(len(task_types), weights, brng)
        events = allocate(len(event_types), weights, brng)
        leads = self.objects.block_counts(block, sizes, opps, contacts)  # its own stream

        result = BlockResult()
        task_cursor = event_cursor = 0
        for j, header in enumerate(headers):
            task_slice = task_types[task_cursor : task_cursor + tasks[j]]
            event_slice = event_types[event_cursor : event_cursor + events[j]]
            task_cursor += tasks[j]
            event_cursor += events[j]
            if header.index in names:
                counts = (contacts[j], opps[j], ocr[j], cases[j], comments[j])
                self.account(
                    result, header, names[header.index], counts, task_slice, event_slice, leads[j]
                )
        self.objects.subsidiaries(result)  # Account.ParentId (generate/objects.py)
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
        leads: tuple[int, int] = (0, 0),
    ) -> None:
        plan, rng, clock = self.plan, h.rng, self.clock
        n_contacts, n_opps, n_roles, n_cases, n_comments = counts
        pack = plan.packs[naming.industry]
        number = f"{h.index + 1:04d}"
        tier = plan.density.pick(rng)
        place = plan.pools.places.pick(rng)
        if naming.place is not None:  # the city or state its name shows is where it is
            place = naming.place
        segment = pack.segment(naming.segment or None)
        # Text context naming the segment: its label for a model, its key for offline text.
        story = {
            "segment": segment.label if segment else pack.label.lower(),
            "pack_segment": f"{naming.industry}/{naming.segment}" if segment else "",
        }
        self.story = story  # for the account's activities' text
        staffing = self.staffing
        territory = staffing.territory(place.tz)
        team = {
            job: staffing.pick(job, territory, h.index, rng.random())
            for job in ("owner", "sdr", "se", "csm", "support")
        }
        owner = team["owner"]
        created_day = clock.workday(self.asof - h.age)
        created = clock.at(created_day, owner, rng.random())
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
                "BillingStreet": None if sparse else self._street(rng, place),
                "BillingCity": None if sparse else place.city,
                "BillingState": None if sparse else place.state,
                "BillingPostalCode": None if sparse else self._postal(rng, place),
                "BillingCountry": place.country,
                "Rating": None if sparse else ("Hot", "Warm", "Cold")[int(rng.random() * 3)],
                "AccountSource": None if sparse else LEAD_SOURCES[int(rng.random() * 5)],
                "OwnerId": owner.key,
                **_audit(created, owner),
                "_created": created,
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
                **story,
            },
        )
        if not (rich or moderate_half):
            account["Description"] = None
            out.requests.pop()

        contacts = self.contacts(out, h, naming, place, team, created_day, n_contacts)
        self.objects.org_chart(h, naming, contacts)
        opps = self.opportunities(
            out, h, naming, story, contacts, team, created_day, n_opps, n_roles
        )
        # The account's type is its history's: a customer has won a deal, a prospect has not;
        # partners are partners whatever they bought.
        if h.type_key != "Partner":
            h.type_key = "Customer" if any(o.record["IsWon"] for o in opps) else "Prospect"
        account["Type"] = ACCOUNT_TYPE[h.type_key]
        self.cases(out, h, naming, story, contacts, team, created_day, n_cases, n_comments)
        self.activities(out, h, naming, place.tz, contacts, opps, team, task_types, event_types)
        # line items, leads and campaign members, email messages (generate/objects.py)
        self.objects.account(out, h, naming, place, team, contacts, opps, leads)
        account.pop("_created")

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

    def _street(self, rng: Random, place) -> str:
        pools = self.plan.pools
        streets = pools.country_streets.get(place.country, pools.streets)
        number = int(rng.random() * 9800) + 100
        street = streets[int(rng.random() * len(streets))]
        if place.country in pools.street_format:
            number = number % 180 + 1  # house numbers there are small
            return pools.street_format[place.country].format(street=street, number=number)
        return f"{number} {street}"

    @staticmethod
    def _postal(rng: Random, place) -> str:
        if place.country == "United States":
            return f"{place.postal}{int(rng.random() * 100):02d}"
        if place.country == "Canada":
            return f"{place.postal} {int(rng.random() * 9)}A{int(rng.random() * 9)}"
        if place.country == "United Kingdom":  # outward code, then digit and two letters
            u = rng.random()
            letters = "ABDEFGHJLNPQRSTUWXYZ"
            pair = letters[int(u * 180) % 20] + letters[int(u * 3600) % 20]
            return f"{place.postal} {int(u * 9) + 1}{pair}"
        if place.country == "Australia":  # four digits
            return f"{place.postal}{int(rng.random() * 10)}"
        return f"{place.postal}{int(rng.random() * 100):02d}"

    # -- contacts ------------------------------------------------------------------------------

    def contacts(self, out, h, naming, place, team, created_day, count) -> list[dict]:
        """Contacts, in the order they joined: the first the day after the account was created,
        the others over the account's life (earlier ones more likely)."""
        plan, rng, clock = self.plan, h.rng, self.clock
        rnd = rng.random
        tier_of = self.tier_of
        by_seniority, levels = self.titles[naming.industry, naming.segment]
        first_names, last_names = plan.pools.first_names, plan.pools.last_names
        n_first, n_last = len(first_names), len(last_names)
        female_first = plan.pools.female_first
        phone, street, postal = self._phone, self._street, self._postal
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Contact/{h.index + 1:04d}/"
        # A prospect's contacts come in through the SDR's outreach; others through the owner.
        creator = team["sdr"] if h.type_key == "Prospect" else team["owner"]
        owner = team["owner"]
        span = max(1, self.asof - created_day - 2)
        days = sorted(created_day + 1 + int(rnd() ** 2 * span) for _ in range(count))
        if days:
            days[0] = created_day + 1
        used_names: set[tuple[str, str]] = set()
        held: set[str] = set()  # exclusive titles (director and up) already held here
        rows = out.rows.setdefault("Contact", [])
        result = []
        for n in range(1, count + 1):
            tier = tier_of(rnd())
            rich, sparse = tier == "rich", tier == "sparse"
            level = "executive" if n == 1 and "executive" in by_seniority else levels.pick(rng)
            titles = by_seniority[level]
            title = titles[int(rnd() * len(titles))]
            if level in EXCLUSIVE:
                title = self._free_title(by_seniority, level, title, held)
                if title.seniority in EXCLUSIVE:
                    held.add(title.title)
            while True:
                first = first_names[int(rnd() * n_first)]
                last = last_names[int(rnd() * n_last)]
                if (first, last) not in used_names:
                    used_names.add((first, last))
                    break
            email_user = email_local(first, last)
            created = clock.at(days[n - 1], creator, rnd())
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
                "MailingStreet": street(rng, place) if rich else None,
                "MailingCity": None if sparse else place.city,
                "MailingState": None if sparse else place.state,
                "MailingPostalCode": postal(rng, place) if rich else None,
                "MailingCountry": None if sparse else place.country,
                "OwnerId": owner.key,
                **_audit(created, creator),
                "_seniority": title.seniority,  # _free_title may have gone a level down
                "_name": f"{first} {last}",
                "_created": created,
            }
            rows.append(record)
            result.append(record)
        return result

    @staticmethod
    def _free_title(by_seniority, level, title, held):
        """``title`` if nobody at the account holds it yet, else the next free one of its level
        (in the pack's order), else one a level down: one CEO, one Director of Claims."""
        if title.title not in held:
            return title
        order = list(SENIORITY_WEIGHTS)
        for lvl in order[order.index(level) :]:
            titles = by_seniority.get(lvl, [])
            start = titles.index(title) + 1 if lvl == level else 0
            for candidate in titles[start:] + titles[:start]:
                if lvl not in EXCLUSIVE or candidate.title not in held:
                    return candidate
        return title

    # -- opportunities, their stage histories and contact roles --------------------------------

    def _stage_path(self, rng: Random, stage: str) -> list[str]:
        """The stages an opportunity went through to reach ``stage``, in order."""
        if stage == "Closed Won":
            return [*STAGES[:6], stage]
        if stage == "Closed Lost":  # lost from any open stage
            return [*STAGES[: 1 + int(rng.random() * 6)], stage]
        return list(STAGES[: STAGES.index(stage) + 1])

    def opportunities(self, out, h, naming, story, contacts, team, created_day, count, n_roles):
        plan, rng, asof, clock = self.plan, h.rng, self.asof, self.clock
        rnd, choice = rng.random, rng.choice
        tier_of, pick_stage = self.tier_of, plan.stages.pick
        products, themes = self.offer[naming.industry, naming.segment]
        owner = team["owner"]
        opps: list[_Opp] = []
        roles_per_opp = (
            allocate(n_roles, [1.0] * count, rng, minimum=1, cap=[min(4, len(contacts))] * count)
            if count
            else []
        )
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Opportunity/{h.index + 1:04d}/"
        history_prefix = f"History/{key_prefix}"
        scale = 0.15 + 0.85 * h.size
        earliest = _after_first_contact(created_day, contacts)
        rows = out.rows.setdefault("Opportunity", [])
        history = out.rows.setdefault("History", [])
        for n in range(1, count + 1):
            tier = tier_of(rnd())
            rich, sparse = tier == "rich", tier == "sparse"
            stage = pick_stage(rng)
            probability, forecast = STAGE_FACTS[stage]
            closed = stage.startswith("Closed")
            path = self._stage_path(rng, stage)
            product = choice(products)
            theme = choice(themes)
            fraction = scale * rng.uniform(0.55, 1.1)  # of the product's range
            amount = product.min + (product.max - product.min) * fraction
            amount = max(product.min, min(product.max, round(amount, -3)))
            # Days spent in each stage before the current one (a closed deal: before closing).
            spent = [STEP_DAYS[0] + int(rnd() * (STEP_DAYS[1] - STEP_DAYS[0])) for _ in path[:-1]]
            if closed:
                room = max(2, asof - 1 - earliest)
                if sum(spent) > room - 1:  # a young account: a faster deal
                    spent = [max(1, d * (room - 1) // max(1, sum(spent))) for d in spent]
                latest_close = asof - 1
                close_day = clock.workday(latest_close - int(rnd() * max(1, room - sum(spent))))
                first_day = close_day - sum(spent)
                close = close_day
            else:
                # at least a working week in its current stage: a deal opened days ago is new
                in_stage = STEP_DAYS[0] + int(rnd() * (STEP_DAYS[1] - STEP_DAYS[0]))
                room = max(1, asof - earliest)
                total = sum(spent) + in_stage
                if total > room:
                    spent = [d * room // total for d in spent]
                    in_stage = max(1, room - sum(spent))
                first_day = asof - in_stage - sum(spent)
                stage_rank = probability / 100
                close = asof + 7 + int(rnd() * (200 - 150 * stage_rank))
            first_day = max(first_day, earliest)
            entered, day = [], first_day
            for d in [0, *spent]:
                day = min(day + d, asof - 1)
                entered.append(clock.at(day, owner, rnd()))
            last = len(entered) - 1
            for i in range(1, len(entered)):  # same day: still in order, and before now
                latest = clock.now - 1 - (last - i)
                entered[i] = min(max(entered[i], entered[i - 1] + 1), latest)
                entered[i] = clock.nudge(entered[i], owner, entered[i - 1] + 1, latest)
            created = entered[0]
            name = f"{naming.name} - {theme}"
            stages = list(zip(path, entered, strict=True))
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
                # a sparse deal may lack an Amount, but not a won one (the draw is made anyway)
                "Amount": None
                if sparse and rnd() < 0.5 and stage != "Closed Won"
                else float(amount),
                "Probability": float(probability),
                "ForecastCategoryName": forecast,
                "Type": "New Customer",  # until _opportunity_types reads the history
                "LeadSource": None if sparse else LEAD_SOURCES[int(rnd() * 5)],
                "NextStep": None,
                "Description": None,
                "IsClosed": int(closed),
                "IsWon": int(stage == "Closed Won"),
                "OwnerId": owner.key,
                **_audit(created, owner, entered[-1]),
                "_product": product.name,
            }
            rows.append(record)
            for i, (stage_name, minute) in enumerate(stages):
                history.append(
                    _history(
                        f"{history_prefix}{n}/{i + 1}",
                        h.index,
                        n * 100 + i + 1,
                        record["key"],
                        "Opportunity",
                        "StageName",
                        stages[i - 1][0] if i else None,
                        stage_name,
                        minute,
                        owner.key,
                    )
                )
            existing = [c for c in contacts if c["_created"] < created] or contacts[:1]
            senior = [c for c in existing if c["_seniority"] in SENIOR] or existing
            roles = self._roles(
                out, h, n, record, owner, created, contacts, senior, roles_per_opp[n - 1]
            )
            primary = roles[0]
            context = {
                "account": naming.name,
                "industry": naming.industry,
                "opportunity": theme,
                "product": product.name,
                "stage": stage,
                "amount": f"${amount:,.0f}",
                "contact": primary["_name"],
                "title": primary["Title"],
                **story,
            }
            if not closed and not sparse:
                out.text(record, "NextStep", "opportunity.next_step", context)
            if rich or (tier == "moderate" and rnd() < 0.5):
                out.text(record, "Description", "opportunity.description", context)
            record["_context"] = context
            record["_fraction"] = fraction
            opps.append(
                _Opp(record, stages, owner, roles, created, entered[-1] if closed else None)
            )
        self._opportunity_types(h, naming, opps, products, themes)
        return opps

    def _opportunity_types(self, h, naming, opps, products, themes) -> None:
        """Each deal's Type from the deals before it: New Customer until a deal was won, then
        Existing Customer - Upgrade (something new) or - Replacement (again what it bought).
        A renewal theme renews something sold before, so only follows a win of its product;
        a renewal picked for an account that has none becomes another theme, and so does a
        theme another deal of the account has (while unused ones are left). Picks come from
        the account's own "opportunity_type" stream, so no other draw moves."""
        rng = stream(self.plan.seed, "opportunity_type", h.index)
        fresh = [t for t in themes if not _is_renewal(t)] or themes
        by_name = {p.name: p for p in products}
        wins: list[tuple[int, str]] = []  # (minute won, product)
        used: set[str] = set()  # themes of the account's deals so far
        for opp in sorted(opps, key=lambda o: o.created):
            record, context = opp.record, opp.record["_context"]
            u = rng.random()
            sold = [product for won_at, product in wins if won_at < opp.created]
            theme = context["opportunity"]
            if _is_renewal(theme):
                if sold:
                    context["product"] = record["_product"] = sold[int(u * len(sold))]
                else:
                    theme = context["opportunity"] = fresh[int(u * len(fresh))]
            if theme in used:  # one deal per theme while the segment has themes left
                unused = [t for t in fresh if t not in used]
                if unused:
                    theme = context["opportunity"] = unused[int(u * len(unused))]
            used.add(theme)
            product = by_name.get(record["_product"])
            if product is not None and record["Amount"] is not None:
                amount = product.min + (product.max - product.min) * record.pop("_fraction")
                amount = max(product.min, min(product.max, round(amount, -3)))
                record["Amount"] = float(amount)
                context["amount"] = f"${amount:,.0f}"
            if not sold:
                record["Type"] = "New Customer"
            elif record["_product"] in sold:
                record["Type"] = "Existing Customer - Replacement"
            else:
                record["Type"] = "Existing Customer - Upgrade"
            name = f"{naming.name} - {theme}"
            record["Name"] = name if len(name) <= 120 else name[:117] + "..."
            if record["IsWon"]:
                wins.append((opp.closed, record["_product"]))

    def _roles(self, out, h, opp_number, opp, owner, created, contacts, senior, count) -> list:
        """The opportunity's contact roles; returns their contacts, primary first. A role is
        added when the opportunity opens, or when its contact joins the account later."""
        rng = h.rng
        primary = rng.choice(senior)
        others = [c for c in contacts if c is not primary]
        rng.shuffle(others)
        key_prefix = f"OpportunityContactRole/{h.index + 1:04d}/{opp_number}/"
        rows = out.rows.setdefault("OpportunityContactRole", [])
        chosen = [primary, *others[: count - 1]]
        owner_key = opp["OwnerId"]
        for n, contact in enumerate(chosen, start=1):
            joined = max(created, contact["_created"]) + 1
            at = min(joined + int(rng.random() * 120), self.clock.now - 1)
            rows.append(
                {
                    "key": f"{key_prefix}{n}",
                    "account_idx": h.index,
                    "seq": opp_number * 100 + n,
                    "tier": None,
                    "job": "generate",
                    "OpportunityId": opp["key"],
                    "ContactId": contact["key"],
                    "Role": rng.choice(PRIMARY_ROLES if n == 1 else OTHER_ROLES),
                    "IsPrimary": int(n == 1),
                    **_audit(self.clock.nudge(at, owner, joined), owner_key),
                }
            )
        return chosen

    # -- cases and comments --------------------------------------------------------------------

    def _case_path(self, rng: Random, status: str) -> list[str]:
        if status == "New":
            return ["New"]
        if status in ("Working", "Escalated", "On Hold"):
            return ["New", "Working"] if status == "Working" else ["New", "Working", status]
        detour = rng.random()  # a closed case: maybe escalated or on hold on the way
        if detour < 0.2:
            return ["New", "Working", "Escalated", "Working", "Closed"]
        if detour < 0.35:
            return ["New", "Working", "On Hold", "Working", "Closed"]
        return ["New", "Working", "Closed"]

    def cases(self, out, h, naming, story, contacts, team, created_day, count, n_comments) -> None:
        plan, rng, asof, clock = self.plan, h.rng, self.asof, self.clock
        rnd, choice = rng.random, rng.choice
        tier_of = self.tier_of
        pack = plan.packs[naming.industry]
        agent = team["support"]
        statuses = [plan.case_status.pick(rng) for _ in range(count)]
        per_case = (
            allocate(
                n_comments,
                [COMMENT_WEIGHT[s] for s in statuses],
                rng,
                cap=[COMMENTS_PER_CASE] * count,
            )
            if count
            else []
        )
        account_key = f"Account/{h.index + 1:04d}"
        key_prefix = f"Case/{h.index + 1:04d}/"
        comment_prefix = f"CaseComment/{h.index + 1:04d}/"
        case_rows = out.rows.setdefault("Case", [])
        comment_rows = out.rows.setdefault("CaseComment", [])
        history = out.rows.setdefault("History", [])
        earliest = _after_first_contact(created_day, contacts)
        for n, status in enumerate(statuses, start=1):
            tier = tier_of(rnd())
            path = self._case_path(rng, status)
            spent = []
            for step in path[:-1]:
                least, most = CASE_STATUS_DAYS[step]
                spent.append(least + int(rnd() * (most - least + 1)))
            room = max(1, asof - 1 - earliest)
            if status == "Closed":
                total = sum(spent)
                if total > room:
                    spent = [d * room // total for d in spent]
                end_day = asof - 1 - int(rnd() * max(1, min(180, room - sum(spent))))
                first_day = end_day - sum(spent)
            else:
                least, most = CASE_STATUS_DAYS[status]
                in_status = 1 + int(rnd() * (most - least + 1))
                total = sum(spent) + in_status
                if total > room:
                    spent = [d * room // total for d in spent]
                    in_status = max(1, room - sum(spent))
                first_day = asof - in_status - sum(spent)
            first_day = max(first_day, earliest)
            entered, day = [], first_day
            for d in [0, *spent]:
                day = min(day + d, asof - 1)
                entered.append(clock.at(day, agent, rnd()))
            last = len(entered) - 1
            for i in range(1, len(entered)):  # in order, and all before now
                latest = clock.now - 1 - (last - i)
                entered[i] = min(max(entered[i], entered[i - 1] + 5), latest)
                entered[i] = clock.nudge(entered[i], agent, entered[i - 1] + 5, latest)
            created = entered[0]
            existing = [c for c in contacts if c["_created"] < created] or contacts[:1]
            contact = choice(existing)
            priority = CASE_PRIORITY.get(status, CASE_PRIORITY_DEFAULT).pick(rng)
            closed_at = entered[-1] if status == "Closed" else None
            key = f"{key_prefix}{n}"
            end = closed_at if closed_at is not None else clock.now - 1
            # Comments between opening and closing (or now); the status at each one's time
            # gives its tone. A closed case's last comment is the resolution, just before closing.
            n_case_comments = per_case[n - 1]
            lo, hi = created + 1, end - 1
            times = sorted(
                clock.nudge(clock.between(lo, hi, agent, rnd()), agent, lo, hi)
                for _ in range(n_case_comments)
            )
            if closed_at is not None and times:
                resolved = closed_at - 1 - int(rnd() * 30)
                times[-1] = clock.nudge(resolved, agent, lo, closed_at - 1)
                times = sorted(max(created + 1, t) for t in times)
            last_change = max(entered[-1], times[-1] if times else 0)
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
                "IsEscalated": int("Escalated" in path),
                "IsClosed": int(status == "Closed"),
                "ClosedDate": stamp(closed_at) if closed_at is not None else None,
                "OwnerId": agent.key,
                **_audit(created, agent, last_change),
            }
            case_rows.append(record)
            for i, (step, minute) in enumerate(zip(path, entered, strict=True)):
                history.append(
                    _history(
                        f"History/{key}/{i + 1}",
                        h.index,
                        100_000 + n * 100 + i + 1,
                        key,
                        "Case",
                        "Status",
                        path[i - 1] if i else None,
                        step,
                        minute,
                        agent.key,
                    )
                )
            context = {
                "account": naming.name,
                "industry": naming.industry,
                "contact": contact["_name"],
                "title": contact["Title"],
                "priority": priority,
                "status": status,
                **story,
            }
            out.text(record, "Subject", "case.subject", dict(context))
            # The description and comments mention the subject, known only once text is filled:
            # ``subject_of`` tells apply_text which record's subject to put in ``subject``.
            context["subject_of"] = key
            if tier != "sparse":
                out.text(record, "Description", "case.description", context)
            of = str(n_case_comments)
            for m, minute in enumerate(times, start=1):
                if closed_at is not None and m == n_case_comments:
                    step = "Closed"  # the resolution, written as the case closes
                else:
                    step = _status_at(path, entered, minute)
                comment = {
                    "key": f"{comment_prefix}{n}/{m}",
                    "account_idx": h.index,
                    "seq": n * 100 + m,
                    "tier": None,
                    "job": "generate",
                    "step": step,
                    "ParentId": key,
                    "CommentBody": None,
                    "IsPublished": int(rnd() < 0.7),
                    **_audit(minute, agent),
                }
                comment_rows.append(comment)
                out.text(
                    comment,
                    "CommentBody",
                    "case_comment.body",
                    {**context, "status": step, "n": str(m), "of": of},
                )

    # -- tasks and events: the steps of each opportunity's script, then account touches -------

    def activities(self, out, h, naming, tz, contacts, opps, team, task_types, event_types):
        """Place the account's tasks and events (their types fixed by the block's quotas).

        Opportunities take their script steps round robin, each a prefix of its script, while
        the account's budget of that activity type lasts; what the budget has left becomes
        account-level touches, dated anywhere in the account's life.
        """
        rng = h.rng
        budget: dict[str, int] = {}
        for kind in (*task_types, *event_types):
            budget[kind] = budget.get(kind, 0) + 1
        plans = [self._script(rng, opp) for opp in opps]
        chosen: list[list[tuple]] = [[] for _ in opps]
        taken: list[set[str]] = [set() for _ in opps]
        cursor = [0] * len(opps)
        active = list(range(len(opps)))
        while active:  # one step per opportunity per round, so deals share the budget
            still = []
            for i in active:
                steps = plans[i]
                while cursor[i] < len(steps):
                    step = steps[cursor[i]]
                    cursor[i] += 1
                    needs = STEP_NEEDS.get(step[0])
                    if budget.get(step[2], 0) > 0 and (needs is None or needs in taken[i]):
                        budget[step[2]] -= 1
                        chosen[i].append(step)
                        taken[i].add(step[0])
                        still.append(i)
                        break
            active = still
        task_n = event_n = 0
        for opp, steps in zip(opps, chosen, strict=True):
            last_meeting: dict[str, int] = {}  # contact key → end of the last meeting with them
            for step in steps:
                name, obj, kind, lo, hi = step
                contact = self._who(rng, opp.contacts, lo)
                if obj == "Event":
                    event_n += 1
                    end = self._event(
                        out, h, naming, tz, team, opp, contact, name, kind, lo, hi, event_n
                    )
                    last_meeting[contact["key"]] = end
                else:
                    if name == "thanks":  # after the meeting with the contact it thanks
                        contact = next(
                            (c for c in opp.contacts if c["key"] in last_meeting), contact
                        )
                        # after the meeting, in its own window (the meeting may move
                        # inside its window when calendars are full)
                        lo = max(lo, last_meeting.get(contact["key"], lo))
                    task_n += 1
                    self._task(out, h, naming, team, opp, contact, name, kind, lo, hi, task_n)
        # Account-level touches with what is left, in a stable order of types.
        account = {"_created": out.rows["Account"][-1]["_created"]}
        start = account["_created"] + 1440
        horizon = self.clock.now + PLANNED_DAYS * 1440
        for kind in (*self.plan.task_mix, *self.plan.event_mix):
            for _ in range(budget.get(kind, 0)):
                # whole days from a working-hours minute: a date never depends on daylight saving
                lo = start + int(rng.random() * max(1, (horizon - start) // 1440)) * 1440
                contact = self._who(rng, contacts, lo)
                lo = max(lo, contact["_created"] + 60)
                step = ACCOUNT_STEP[kind]
                if kind in self.plan.event_mix:
                    event_n += 1
                    self._event(
                        out,
                        h,
                        naming,
                        tz,
                        team,
                        None,
                        contact,
                        step,
                        kind,
                        lo,
                        lo + MIN_WINDOW,
                        event_n,
                    )
                else:
                    task_n += 1
                    self._task(
                        out, h, naming, team, None, contact, step, kind, lo, lo + MIN_WINDOW, task_n
                    )

    def _script(self, rng: Random, opp: _Opp) -> list[tuple[str, str, str, int, int]]:
        """The opportunity's script steps with the window (minutes) each falls in: the stage it
        belongs to, from entering it to leaving it (the current stage: up to a few weeks ahead).
        """
        now = self.clock.now
        planned = now + PLANNED_DAYS * 1440 + 720  # noon UTC: far from midnight in the team's zones
        stages = opp.stages
        open_stages = [s for s in stages if not s[0].startswith("Closed")]
        steps = []
        for name, obj, kind, stage_index in SCRIPT:
            if stage_index >= len(open_stages):
                break
            lo = open_stages[stage_index][1]
            if stage_index + 1 < len(stages):
                hi = stages[stage_index + 1][1]
            else:
                hi = planned
            steps.append((name, obj, kind, lo, hi))
        if opp.closed is not None:
            post = WON_SCRIPT if opp.record["IsWon"] else LOST_SCRIPT
            lo = opp.closed + 1440
            for name, obj, kind in post:
                steps.append(
                    (name, obj, kind, lo, max(lo + MIN_WINDOW, min(lo + 90 * 1440, planned)))
                )
        # Within a stage, steps come in script order: split each window evenly among them.
        windows: dict[tuple[int, int], list[int]] = {}
        for i, step in enumerate(steps):
            windows.setdefault((step[3], step[4]), []).append(i)
        placed = list(steps)
        for (lo, hi), members in windows.items():
            # Whole days: boundaries keep lo's time of day (working hours), so no date they
            # decide moves when as_of shifts across a daylight-saving change. The window is
            # measured on the owner's wall clock: in UTC minutes one that spans a change is an
            # hour longer or shorter, which could tip its division into another whole day.
            tz = opp.owner.tz
            local = (
                hi + utc_offset_minutes(tz, hi // 1440) - lo - utc_offset_minutes(tz, lo // 1440)
            )
            width = max(1440, local // len(members) // 1440 * 1440)
            for j, i in enumerate(members):
                name, obj, kind, _, _ = steps[i]
                end = lo + (j + 1) * width
                placed[i] = (name, obj, kind, lo + j * width, min(end, max(hi, lo + width)))
        # A step needs room for a working day: a deal that raced through a stage skips the rest.
        for i, step in enumerate(placed):
            if step[4] - step[3] < MIN_WINDOW:
                return placed[:i]
        return placed

    @staticmethod
    def _who(rng: Random, contacts: list[dict], at: int) -> dict:
        """A contact who had joined by minute ``at`` (the first contact always had)."""
        existing = [c for c in contacts if c["_created"] < at] or contacts[:1]
        return existing[int(rng.random() * len(existing))]

    def _task(self, out, h, naming, team, opp, contact, step, kind, lo, hi, n) -> None:
        clock, rng = self.clock, h.rng
        rnd = rng.random
        owner = opp.owner if opp else (team["csm"] if h.type_key == "Customer" else team["owner"])
        if step == "intro_call" and opp is not None and opp.record["Type"] == "New Customer":
            owner = team["sdr"]
        earliest = max(lo, contact["_created"] + 60)
        floor = max(contact["_created"], opp.created if opp else 0) + 1
        days = self._days(earliest, hi, owner)
        spread = int(rnd() * min(3, len(days)))
        day = days[spread]
        now_day = self.asof
        completed = day < now_day
        if completed:
            done = clock.end_of_day(day, owner, rnd())
            if done < earliest:  # the contact joined late that day: done in working time after
                done = clock.nudge(earliest, owner, earliest)
            if done >= clock.now:  # finished on the last evening: logged before midnight
                done = clock.now - 1
            created = min(max(clock.days_later(done, owner, -int(rnd() * 3)), floor), done)
            created = clock.nudge(created, owner, floor, done)
            modified = done
            status = "Completed"
        else:
            created = min(max(clock.now - 1 - int(rnd() * 2880), floor), clock.now - 1)
            created = clock.nudge(created, owner, floor)
            modified = created
            status = OPEN_TASK_STATUSES[int(rnd() * 4)]
        subtype, type_ = TASK_SHAPE[kind]
        is_call = kind == "Call"
        tier = self.tier_of(rnd())
        what = opp.record["key"] if opp else f"Account/{h.index + 1:04d}"
        record = {
            "key": f"Task/{h.index + 1:04d}/{n}",
            "account_idx": h.index,
            "seq": n,
            "tier": tier,
            "job": "generate",
            "step": step,
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
            "OwnerId": owner.key,
            **_audit(created, owner, modified),
        }
        out.rows.setdefault("Task", []).append(record)
        tense = "past" if completed else "future"
        self._activity_text(
            out, record, "task", kind, step, tense, naming, contact, opp, owner, status=status
        )

    def _event(self, out, h, naming, tz, team, opp, contact, step, kind, lo, hi, n) -> int:
        """An event in the window; returns the minute it ends."""
        clock, rng = self.clock, h.rng
        rnd = rng.random
        owner = opp.owner if opp else (team["csm"] if h.type_key == "Customer" else team["owner"])
        lengths = (30, 45, 60) if kind == "Meeting" else (45, 60)
        duration = lengths[int(rnd() * len(lengths))]
        earliest = max(lo, contact["_created"] + 60)
        days = self._days(earliest, hi, owner)
        first = int(rnd() * min(3, len(days)))
        u = rnd()  # one draw whatever the search takes: later records' draws never shift
        for day in days[first:] + days[:first]:
            start, day_lo, day_hi = self._slot(u, day, tz, owner, duration)
            if start >= earliest and start + duration <= hi:
                break
        else:  # no working slot fits the window: its first day's (check reports it)
            start, day_lo, day_hi = self._slot(u, days[0], tz, owner, duration)
        end = start + duration
        future = start >= clock.now
        floor = max(contact["_created"], opp.created if opp else 0) + 1
        ahead, minutes = rnd(), rnd()  # drawn either way (see u above)
        if future:
            created = clock.now - 1 - int(ahead * 7) * 1440 - int(minutes * 600)
        else:
            created = clock.days_later(start, owner, -(1 + int(ahead * 7)))
        created = min(max(created, floor), clock.now - 1, start - 1)
        created = clock.nudge(created, owner, floor, min(clock.now - 1, start - 1))
        # Where the world's writer may move it if a calendar is taken (generate/calendar.py):
        # any working day of the step's window, inside that day's hours, on the same side of
        # now, after it was scheduled: its own day first, then the nearest.
        floor_start = max(earliest, created + 1, clock.now if future else 0)
        ceiling = min(hi, clock.now) if not future else hi
        windows = []
        chosen = _day_of(start, owner)
        first_window = (day_lo, day_hi)
        for day in sorted(days, key=lambda d: abs(d - chosen))[:MOVE_DAYS]:
            if day == chosen:
                lo_of_day, hi_of_day = first_window
            else:
                _, lo_of_day, hi_of_day = self._slot(0.0, day, tz, owner, duration)
            w_lo, w_hi = max(lo_of_day, floor_start), min(hi_of_day, ceiling - duration)
            if w_lo <= w_hi:
                windows.append((w_lo, w_hi))
        tier = self.tier_of(rnd())
        what = opp.record["key"] if opp else f"Account/{h.index + 1:04d}"
        record = {
            "key": f"Event/{h.index + 1:04d}/{n}",
            "account_idx": h.index,
            "seq": n,
            "tier": tier,
            "job": "generate",
            "step": step,
            "Subject": None,
            "Description": None,
            "StartDateTime": stamp(start),
            "EndDateTime": stamp(end),
            "DurationInMinutes": duration,
            "ActivityDateTime": stamp(start),
            "Location": None if tier == "sparse" else LOCATIONS[int(rnd() * len(LOCATIONS))],
            "Type": kind,
            "ShowAs": "Busy",
            "IsAllDayEvent": 0,
            "WhoId": contact["key"],
            "WhatId": what,
            "OwnerId": owner.key,
            **_audit(created, owner),
        }
        out.rows.setdefault("Event", []).append(record)
        if kind == "Demo":  # the sales engineer runs the demo with the owner
            se = team["se"]
            out.rows.setdefault("EventRelation", []).append(
                {
                    "key": f"EventRelation/{h.index + 1:04d}/{n}/1",
                    "account_idx": h.index,
                    "seq": n * 10 + 1,
                    "tier": None,
                    "job": "generate",
                    "EventId": record["key"],
                    "RelationId": se.key,
                    "IsInvitee": 1,
                    "Status": "Accepted",
                    **_audit(created, owner),
                }
            )
            users: tuple[str, ...] = (owner.key, se.key)
        else:
            users = (owner.key,)
        record["_slot"] = (users, start, duration, tuple(windows))
        tense = "future" if future else "past"
        self._activity_text(
            out,
            record,
            "event",
            kind,
            step,
            tense,
            naming,
            contact,
            opp,
            owner,
            title=contact["Title"],
        )
        return end

    def _activity_text(self, *args, **extra) -> None:
        """:func:`_activity_text` with the account's story (its segment) in the context."""
        _activity_text(*args, **extra, **self.story)

    def _days(self, lo: int, hi: int, user: TeamUser) -> list[int]:
        """The user's working days (weekdays with ``skip_weekends``) from minute lo to hi."""
        first, last = _day_of(lo, user), _day_of(max(lo, hi - 1), user)
        days = [
            d for d in range(first, last + 1) if not (self.plan.skip_weekends and is_weekend(d))
        ]
        return days or [_next_weekday(first) if self.plan.skip_weekends else first]

    def _slot(
        self, u: float, day: int, tz: str, owner: TeamUser, duration: int
    ) -> tuple[int, int, int]:
        """A meeting start on a weekday on or after ``day`` (the account's calendar) inside the
        account's business hours and, where they overlap, the owner's working hours; with the
        range of starts that day allows."""
        start_hour, end_hour = self.plan.business_hours
        if self.plan.skip_weekends:
            day = _next_weekday(day)
        offset = utc_offset_minutes(tz, day)
        lo, hi = start_hour * 60, end_hour * 60 - duration
        # The owner's working day in the account's local minutes of ``day`` (±1 day).
        shift = offset - utc_offset_minutes(owner.tz, day)
        best = (lo, hi)
        for wrap in (-1440, 0, 1440):
            o_lo = owner.hours[0] * 60 + shift + wrap
            o_hi = owner.hours[1] * 60 + shift + wrap - duration
            both = (max(lo, o_lo), min(hi, o_hi))
            if both[1] >= both[0]:
                best = both
                break
        slots = (best[1] - best[0]) // 15
        minutes = best[0] + 15 * int(u * (slots + 1))
        base = day * 1440 - offset
        return base + minutes, base + best[0], base + best[1]


def _is_renewal(theme: str) -> bool:
    return "renewal" in theme.lower()


def email_local(first: str, last: str) -> str:
    """An email's local part: the name in lower-case ASCII letters, dotted (O'Connell → oconnell,
    José → jose)."""
    text = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    return "".join(c for c in text.lower() if c.isalnum() or c == ".")


def _after_first_contact(created_day: int, contacts: list[dict]) -> int:
    """The first day an account's deals and cases can start: after the account was created and
    after its first contact joined (the day after, which a weekend may have moved)."""
    first = contacts[0]["_created"] // 1440 + 1 if contacts else 0
    return max(created_day + 2, first)


def _day_of(minute: int, user: TeamUser) -> int:
    """The user's local calendar day of an absolute minute."""
    day = minute // 1440
    return (minute + utc_offset_minutes(user.tz, day)) // 1440


def _next_weekday(day: int) -> int:
    while is_weekend(day):
        day += 1
    return day


def _audit(created: int, by: TeamUser | str, modified: int | None = None) -> dict:
    """The four audit fields: created by ``by`` at ``created``; last modified (by them) then or
    at ``modified``."""
    key = by if isinstance(by, str) else by.key
    return {
        "CreatedDate": stamp(created),
        "CreatedById": key,
        "LastModifiedDate": stamp(max(created, modified) if modified is not None else created),
        "LastModifiedById": key,
    }


def _history(key, account_idx, seq, parent, obj, field_name, old, new, minute, by) -> dict:
    return {
        "key": key,
        "account_idx": account_idx,
        "seq": seq,
        "tier": None,
        "job": "generate",
        "ParentKey": parent,
        "Object": obj,
        "Field": field_name,
        "OldValue": old,
        "NewValue": new,
        "CreatedDate": stamp(minute),
        "CreatedById": by,
    }


def _status_at(path: list[str], entered: list[int], minute: int) -> str:
    status = path[0]
    for name, at in zip(path, entered, strict=True):
        if at <= minute:
            status = name
    return status


def _activity_text(
    out, record, prefix, kind, step, tense, naming, contact, opp, owner, **extra
) -> None:
    """Ask for a task's or event's Subject, and its Description unless the record is sparse.

    The context carries the step of the timeline and its tense (past: it happened; future: it
    is planned), and the owner, who signs the emails."""
    context = {
        "type": kind,
        "step": step,
        "timing": tense,
        "industry": naming.industry,
        "account": naming.name,
        "contact": contact["_name"],
        "opportunity": opp.record["_context"]["opportunity"] if opp else "",
        "product": opp.record["_product"] if opp else "",
        "owner": owner.name,
        "owner_title": owner.title,
        **extra,
    }
    out.text(record, "Subject", f"{prefix}.subject", context)
    if record["tier"] != "sparse":
        out.text(record, "Description", f"{prefix}.description", context)
    else:
        record["Description"] = None


__all__ = ["POST_SALE_STEPS", "SALES_STEPS", "BlockGenerator", "BlockResult"]

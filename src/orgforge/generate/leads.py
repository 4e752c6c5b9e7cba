"""Leads and campaign members, one account's at a time (the account's own streams).

A block's leads (``per_account.Lead``, default 3) are split among its accounts by size, like
contacts; a third of them are converted (the block's quota, placed where the account has deals
to convert into). The rest are people at companies that are not accounts.

* A **converted** lead is the person who became one of the account's contacts: same name, title
  and email, Company the account's name. It was created by the SDR some days before converting;
  the conversion is the moment its contact was created (ConvertedDate), before the opportunity
  it became (ConvertedOpportunityId) was created. Status ``Closed - Converted``.
* An **unconverted** lead is someone at another company of the same industry and region,
  created within the last year: Open - Not Contacted when new, Working - Contacted, or Closed -
  Not Converted when older.
* A lead created while a campaign ran may have come from it: a CampaignMember (Responded for a
  converted lead, and the opportunity's CampaignId is the campaign). Some contacts are members of
  a later campaign too.
"""

from __future__ import annotations

from random import Random

from orgforge.config import CONVERTED_LEAD_SHARE
from orgforge.generate.catalog import CampaignSpan, campaign_at
from orgforge.generate.team import TeamUser
from orgforge.generate.timeutil import iso_date, local_minute, stamp
from orgforge.schema.salesforce import CONVERTED_STATUS, LEAD_SOURCES

CONVERTED_SHARE = CONVERTED_LEAD_SHARE
FROM_CAMPAIGN = 0.6  # share of leads created during a campaign that came from it
CONTACT_MEMBER = 0.25  # share of contacts that are members of a campaign after joining
RESPONDED = 0.4  # share of unconverted members that responded
LEAD_AGE_DAYS = 365  # unconverted leads were created within the last year
LEAD_TO_CONVERSION_DAYS = (3, 45)
_LEAD_SUFFIXES = ("Partners", "Associates", "Holdings", "Services", "Solutions", "Collective")
_RATING = ("Hot", "Warm", "Cold")


def conversion_pairs(contacts: list[dict], opps: list) -> list[tuple[dict, object]]:
    """(contact, opportunity) a lead may have converted into: the contact joined before the
    deal was created; each contact and each deal at most once, in deal order."""
    used: set[str] = set()
    pairs = []
    for opp in opps:
        joined = [c for c in opp.contacts if c["_created"] < opp.created and c["key"] not in used]
        joined = joined or [
            c for c in contacts if c["_created"] < opp.created and c["key"] not in used
        ]
        if joined:
            used.add(joined[0]["key"])
            pairs.append((joined[0], opp))
    return pairs


def _status_of_open(age_days: int, u: float) -> str:
    if age_days < 14:
        return "Open - Not Contacted" if u < 0.7 else "Working - Contacted"
    if age_days < 90:
        if u < 0.6:
            return "Working - Contacted"
        return "Open - Not Contacted" if u < 0.8 else "Closed - Not Converted"
    return "Closed - Not Converted" if u < 0.75 else "Working - Contacted"


class LeadMaker:
    """Makes one account's leads and campaign members; construct once per process."""

    def __init__(self, plan, spans: list[CampaignSpan], clock) -> None:
        self.plan = plan
        self.spans = spans
        self.clock = clock
        self.asof = plan.as_of_ordinal
        self.live = [s for s in spans if s.start < self.asof]

    def leads(
        self,
        out,
        rng: Random,
        h,
        naming,
        place,
        team,
        contacts: list[dict],
        pairs: list[tuple[dict, object]],
        n_leads: int,
        n_converted: int,
        titles: list,
    ) -> None:
        plan, clock = self.plan, self.clock
        rnd = rng.random
        pools = plan.pools
        sdr = team["sdr"]
        number = f"{h.index + 1:04d}"
        account = out.rows["Account"][-1]
        pack = plan.packs[naming.industry]
        rows = out.rows.setdefault("Lead", [])
        members: list[dict] = []
        tier_of = plan.density.pick_unit
        n_converted = min(n_converted, len(pairs), n_leads)
        for n in range(1, n_leads + 1):
            tier = tier_of(rnd())
            sparse = tier == "sparse"
            converted = n <= n_converted
            if converted:
                contact, opp = pairs[n - 1]
                converted_at = contact["_created"]
                days = LEAD_TO_CONVERSION_DAYS
                created = converted_at - (days[0] + int(rnd() * (days[1] - days[0]))) * 1440
                created = clock.at(created // 1440, sdr, rnd())
                created = min(created, converted_at - 1)
                first, last = contact["FirstName"], contact["LastName"]
                title, email = contact["Title"], contact["Email"]
                company = naming.name
                employees = h.employees
                status = CONVERTED_STATUS
                modified = converted_at
            else:
                first = pools.first_names[int(rnd() * len(pools.first_names))]
                last = pools.last_names[int(rnd() * len(pools.last_names))]
                word = pack.company.words[int(rnd() * len(pack.company.words))]
                other = pools.last_names[int(rnd() * len(pools.last_names))]
                suffix = _LEAD_SUFFIXES[int(rnd() * len(_LEAD_SUFFIXES))]
                company = f"{other} & {word} {suffix}"
                title = titles[int(rnd() * len(titles))].title
                domain = "".join(ch for ch in f"{other}{word}".lower() if ch.isalnum())
                email_user = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
                email = f"{email_user}@{domain}.example.com"
                low, high = pack.company.employees
                employees = int(low + rnd() * (high - low))
                age = 1 + int(rnd() ** 1.5 * LEAD_AGE_DAYS)
                created = clock.at(self.asof - age, sdr, rnd())
                status = _status_of_open(age, rnd())
                modified = created
                if status != "Open - Not Contacted":
                    later = 1 + int(rnd() * max(1, min(age - 1, 30)))
                    touched = clock.days_later(created, sdr, later)
                    modified = clock.nudge(min(touched, clock.now - 1), sdr, created)
            source = LEAD_SOURCES[int(rnd() * len(LEAD_SOURCES))]
            record = {
                "key": f"Lead/{number}/{n}",
                "account_idx": h.index,
                "seq": n,
                "tier": tier,
                "job": "generate",
                "Salutation": None,
                "FirstName": first,
                "LastName": last,
                "Company": company,
                "Title": title,
                "Email": email,
                "Phone": None if sparse else account.get("Phone"),
                "LeadSource": source,
                "Status": status,
                "Industry": pack.industry,
                "Rating": None if sparse else _RATING[int(rnd() * 3)],
                "NumberOfEmployees": None if sparse else employees,
                "Description": None,
                "City": None if sparse else place.city,
                "State": None if sparse else place.state,
                "Country": place.country,
                "IsConverted": int(converted),
                "ConvertedDate": iso_date(converted_at // 1440) if converted else None,
                "ConvertedAccountId": account["key"] if converted else None,
                "ConvertedContactId": contact["key"] if converted else None,
                "ConvertedOpportunityId": opp.record["key"] if converted else None,
                "OwnerId": sdr.key,
                "CreatedDate": stamp(created),
                "CreatedById": sdr.key,
                "LastModifiedDate": stamp(max(created, modified)),
                # whoever converted it (made its contact) touched it last
                "LastModifiedById": contact["CreatedById"] if converted else sdr.key,
            }
            rows.append(record)
            if not sparse:
                out.text(
                    record,
                    "Description",
                    "lead.description",
                    {
                        "company": company,
                        "contact": f"{first} {last}",
                        "title": title,
                        "industry": naming.industry,
                        "source": source.lower(),
                    },
                )
            span = campaign_at(self.spans, created // 1440)
            if span is not None and rnd() < FROM_CAMPAIGN:
                responded = converted or rnd() < RESPONDED
                until = (converted_at if converted else clock.now) - 1
                members.append(
                    self._member(
                        rng, span, "LeadId", record["key"], created + 1, until, responded, sdr
                    )
                )
                if converted:
                    opp.record["CampaignId"] = span.key
        for contact in contacts:
            if rnd() >= CONTACT_MEMBER:
                continue
            day = contact["_created"] // 1440
            later = [s for s in self.live if s.end >= day]
            if not later:
                continue
            span = later[int(rnd() * len(later))]
            joined = max(contact["_created"] + 60, span.start * 1440 + 15 * 60)
            if joined >= clock.now - 1:
                continue
            members.append(
                self._member(
                    rng,
                    span,
                    "ContactId",
                    contact["key"],
                    joined,
                    clock.now - 1,
                    rnd() < RESPONDED,
                    self.plan.users[0],
                    floor=contact["_created"] + 1,
                )
            )
        member_rows = out.rows.setdefault("CampaignMember", [])
        for n, member in enumerate(members, start=1):
            member["key"] = f"CampaignMember/{number}/{n}"
            member["account_idx"] = h.index
            member["seq"] = n
            member_rows.append(member)

    def _member(
        self,
        rng: Random,
        span: CampaignSpan,
        field: str,
        who: str,
        at: int,
        until: int,
        responded: bool,
        by: TeamUser,
        floor: int | None = None,
    ) -> dict:
        """A campaign member added by ``by`` (a lead by the SDR who works it, a contact by the
        campaign's owner) at minute ``at`` or, to be in working time, as early as ``floor``; a
        responder responded between then and ``until``."""
        owner = by.key
        at = min(at, until)
        at = self.clock.nudge(at, by, at if floor is None else min(floor, at), until)
        responded_day = None
        if responded:
            responded_day = min(at // 1440 + int(rng.random() * 10), until // 1440)
        noon = local_minute(responded_day, 12 * 60, by.tz) if responded_day else at
        modified = max(at, noon)
        # the response is recorded in working time
        modified = self.clock.nudge(min(modified, until), by, at, until)
        return {
            "tier": None,
            "job": "generate",
            "CampaignId": span.key,
            "LeadId": who if field == "LeadId" else None,
            "ContactId": who if field == "ContactId" else None,
            "Status": "Responded" if responded else "Sent",
            "HasResponded": int(bool(responded)),
            "FirstRespondedDate": iso_date(responded_day) if responded_day else None,
            "CreatedDate": stamp(at),
            "CreatedById": owner,
            "LastModifiedDate": stamp(max(at, modified)),
            "LastModifiedById": owner,
        }

"""A deterministic 1,000-lead fixture: leads arriving around the clock over two weeks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orgforge.agents.first_touch import Touch
from orgforge.agents.policy import load_policy
from orgforge.agents.routing import Lead

START = datetime(2026, 10, 26, tzinfo=UTC)  # a Monday; US clocks go back on Nov 1
COUNTRIES = ["US", "Canada", "UK", "Germany", "France", "Japan", "Australia", "Brazil", None]


def make_leads(n: int, seed: int = 7) -> list[Lead]:
    rng = random.Random(seed)
    leads = []
    for i in range(n):
        created = START + timedelta(seconds=rng.randrange(14 * 86400))
        employees = rng.choice(
            [None, rng.randrange(1, 200), rng.randrange(200, 2000), rng.randrange(2000, 90000)]
        )
        leads.append(
            Lead(
                id=f"Lead/{i:04d}",
                created=created,
                company=f"Company {i}",
                email=f"buyer{i}@company{i}.example.com",
                country=rng.choice(COUNTRIES),
                employees=employees,
            )
        )
    return sorted(leads, key=lambda lead: (lead.created, lead.id))


def make_touches(
    leads: list[Lead], owners: dict[str, str], seed: int = 11, max_seconds: int = 3 * 86400
) -> list[Touch]:
    """One first touch per lead, 1 minute to ``max_seconds`` after creation, at a random second."""
    rng = random.Random(seed)
    touches = []
    for lead in leads:
        at = lead.created + timedelta(seconds=rng.randrange(60, max_seconds))
        kind = rng.choice(["call", "email", "email_message"])
        touches.append(Touch(lead.id, at, owners.get(lead.id, "User/99"), kind, f"T-{lead.id}"))
    return touches


@pytest.fixture(scope="session")
def policy():
    return load_policy()


@pytest.fixture(scope="session")
def leads():
    return make_leads(1000)


FIELDS = Path(__file__).parents[2] / "src/orgforge/agents/data/lead-response-fields.yaml"


@pytest.fixture
def org(tmp_path):
    """A sandbox with the Lead first-response fields, and simple-salesforce logged in to it."""
    from orgforge.sandbox.salesforce import SandboxConfig, run_in_thread
    from orgforge.sandbox.salesforce.client import simple_salesforce

    with run_in_thread(SandboxConfig(db_path=tmp_path / "org.db", schema=FIELDS)) as sb:
        yield sb, simple_salesforce(sb)


def active_users(sf) -> list[str]:
    """The org's active user ids, in id order (the policies' reps and fallback)."""
    query = "SELECT Id FROM User WHERE IsActive = true ORDER BY Id"
    return [r["Id"] for r in sf.query(query)["records"]]


def logged(folder: Path, workload: str = "lead.route") -> list[dict]:
    """The metadata of every line of a flywheel folder's ``workload`` logs, in file order."""
    import json

    return [
        json.loads(line)["metadata"]
        for f in sorted(Path(folder).glob(f"{workload}_*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    ]

"""Feeds, workloads and the Asana target come from the plugin registry: the built-ins are
listed by `orgforge plugins`, an in-test plugin's feed and workload drive `run_agents`, and an
installed package's feed and target show up in a fresh `orgforge` process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import orgforge
from orgforge import plugins
from orgforge.agents.feeds import ListFeed
from orgforge.agents.routing import Lead
from orgforge.agents.run import run_agents
from orgforge.agents.session import lead_created
from orgforge.clock import SimulatedClock
from orgforge.errors import UsageError
from orgforge.hookspecs import hookimpl
from orgforge.plugins import FeedPlugin, TargetPlugin, WorkloadPlugin

from .test_plugins import _install_plugin, _orgforge

START = datetime(2026, 10, 27, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def _leads(n: int) -> list[Lead]:
    return [
        Lead(
            f"00Q{i:015d}",
            START + timedelta(minutes=i),
            company=f"Company {i}",
            email=f"buyer{i}@company{i}.example.com",
            country="US",
            employees=50 + i,
        )
        for i in range(n)
    ]


class InMemoryAgents:
    """A plugin adding a feed (events in hand, replayed at their own times), a workload that
    counts the leads it sees assigned, and a target that only whoamis."""

    def __init__(self, leads: list[Lead]) -> None:
        self.events = [lead_created(lead) for lead in leads]
        self.feed_calls: list[dict] = []
        self.assigned: list[str] = []

    def make_feed(self, config, *, position=None, **options):
        self.feed_calls.append({"position": position, **options})
        return ListFeed(self.events, batch=3, position=position or 0)

    def make_counter(self, config, **options):
        def attach(agents):
            agents.desk.on_assigned = lambda lead, decision, at: self.assigned.append(lead.id)

        return attach

    @hookimpl
    def register_feeds(self, register):
        register(
            FeedPlugin("memory", "Events in hand", self.make_feed, decide_at="event", finite=True)
        )

    @hookimpl
    def register_workloads(self, register):
        register(WorkloadPlugin("lead.count", "Counts assigned leads", self.make_counter))

    @hookimpl
    def register_targets(self, register):
        register(TargetPlugin("memory-crm", "Answers whoami", whoami=lambda config, env: []))


def test_an_in_test_plugins_feed_and_workload_drive_an_agents_run(tmp_path):
    agent = InMemoryAgents(_leads(7))
    config = orgforge.api.resolve(None, world=str(tmp_path / "w.db"))
    clock = SimulatedClock(START)
    with plugins.registered(agent, "in-memory-agents"):
        assert plugins.feed("memory").finite and plugins.workload("lead.count")
        assert plugins.target("memory-crm", "whoami").whoami(config, env={}) == []
        listed = {(r["kind"], r["name"]) for r in orgforge.api.plugins()}
        report = run_agents(
            config,
            feed="memory",
            workloads=("lead.route", "lead.count"),
            log_dir=tmp_path / "flywheel",
            clock=clock,
        )
    assert {("feed", "memory"), ("workload", "lead.count"), ("target", "memory-crm")} <= listed
    # 7 events in batches of 3, then the empty poll that ends a finite feed: 4 steps
    assert (report.feed, report.events, report.routed, report.steps) == ("memory", 7, 7, 4)
    assert clock.slept == [5.0, 5.0, 5.0]  # --interval between batches, on the clock
    assert agent.assigned == [lead.id for lead in _leads(7)]  # every lead, in arrival order
    (call,) = agent.feed_calls
    assert call["position"] is None and call["client"] is None and call["objects"] is None
    assert "memory" not in plugins.feeds()  # unregistered with the block


def test_without_lead_route_a_lead_is_remembered_but_not_assigned(tmp_path):
    agent = InMemoryAgents(_leads(4))
    config = orgforge.api.resolve(None, world=str(tmp_path / "w.db"))
    with plugins.registered(agent, "in-memory-agents"):
        report = run_agents(
            config, feed="memory", workloads=("lead.count",), log_dir=tmp_path / "flywheel"
        )
    assert report.events == 4 and report.decisions == [] and agent.assigned == []


def test_unknown_feeds_and_workloads_name_the_registered_ones(tmp_path):
    config = orgforge.api.resolve(None, world=str(tmp_path / "w.db"))
    with pytest.raises(UsageError, match="--feed: unknown feed 'kafka'") as error:
        run_agents(config, feed="kafka")
    assert "poll, stream, world" in error.value.hint
    with pytest.raises(UsageError, match=r"--workload: unknown workload 'lead\.score'") as error:
        run_agents(config, feed="world", workloads=("lead.route", "lead.score"))
    assert "lead.first_touch, lead.route, outreach.suggest" in error.value.hint
    with pytest.raises(UsageError, match="--send: nothing to send") as error:
        run_agents(config, feed="world", send=True)
    assert "outreach.suggest" in error.value.hint
    assert not (tmp_path / "w.db").exists()  # refused before the world opens


PLUGIN = '''
"""A separate package adding a feed and a target."""
from orgforge.agents.feeds import ListFeed
from orgforge.hookspecs import hookimpl
from orgforge.plugins import FeedPlugin, TargetPlugin


@hookimpl
def register_feeds(register):
    register(FeedPlugin("kafka", "Change events from a Kafka topic", lambda c, **o: ListFeed([])))


@hookimpl
def register_targets(register):
    register(TargetPlugin("hubspot", "HubSpot CRM", whoami=lambda config, env: []))
'''


def test_the_command_lists_built_in_feeds_workloads_asana_and_an_installed_plugins(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    (site / "orgforge_demo.py").write_text(PLUGIN, encoding="utf-8")
    done = _orgforge("plugins", "--json", cwd=tmp_path, site=site)
    assert done.returncode == 0, done.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(done.stdout)}
    builtin = {k: r["plugin"] for k, r in rows.items() if r["package"] == "orgforge"}
    for name in ("world", "poll", "stream"):
        assert builtin[("feed", name)] == "orgforge.default_plugins.agents"
    for name in ("lead.route", "lead.first_touch", "outreach.suggest"):
        assert builtin[("workload", name)] == "orgforge.default_plugins.agents"
    assert rows[("target", "asana")]["operations"] == ["seed", "unseed", "whoami", "simulate"]
    assert rows[("feed", "kafka")]["package"] == "orgforge-demo"
    assert rows[("target", "hubspot")]["operations"] == ["whoami"]
    table = _orgforge("plugins", cwd=tmp_path, site=site)
    assert table.returncode == 0 and "kafka" in table.stdout and "asana" in table.stdout

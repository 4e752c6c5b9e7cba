"""Built-in change feeds (``world``, ``poll``, ``stream``) and agent workloads (``lead.route``,
``lead.first_touch``, ``outreach.suggest``), registered like any plugin's.

Each factory imports its implementation when called, so listing them loads nothing.
"""

from __future__ import annotations

from typing import Any

from orgforge.hookspecs import hookimpl
from orgforge.plugins import FeedPlugin, WorkloadPlugin


def _world_feed(config: Any, *, world: Any, position: Any = None, **_: Any) -> Any:
    from orgforge.agents.feeds import WorldFeed

    return WorldFeed(world, position or 0)


def _poll_feed(
    config: Any, *, client: Any, objects: Any, position: Any = None, clock: Any, **_: Any
) -> Any:
    from orgforge.agents.feeds import PollFeed

    return PollFeed(client, objects, position, clock=clock)


def _stream_feed(
    config: Any,
    *,
    client: Any,
    objects: Any,
    position: Any = None,
    interval: float,
    clock: Any,
    **_: Any,
) -> Any:
    from orgforge.agents.feeds import StreamFeed, channel_of, http_for

    return StreamFeed(
        client.instance_url,
        client.sf.session_id,
        channels=tuple(channel_of(o) for o in objects),
        position=position,
        version=config.salesforce.api_version,
        wait=min(interval, 60.0),
        http=http_for(client),
        clock=clock,
    )


def _lead_route(config: Any, **_: Any) -> Any:
    def attach(agents: Any) -> None:
        agents.desk.route = True

    return attach


def _lead_first_touch(config: Any, **_: Any) -> Any:
    def attach(agents: Any) -> None:
        agents.desk.first_touch = True

    return attach


def _outreach(config: Any, *, templates: Any = None, send: bool = False, **_: Any) -> Any:
    from orgforge.agents.outreach import load_templates
    from orgforge.agents.run import outreach_hook

    loaded = load_templates(templates)  # a bad file is refused before the world opens

    def attach(agents: Any) -> None:
        agents.desk.on_assigned = outreach_hook(
            agents.session,
            agents.policy,
            loaded,
            agents.log,
            agents.writer if send else None,
            agents.report,
        )

    return attach


@hookimpl
def register_feeds(register: Any) -> None:
    register(
        FeedPlugin(
            "world",
            "Replay the world's own change log (no server); decisions at the events' times",
            _world_feed,
            decide_at="event",
            finite=True,
        )
    )
    register(
        FeedPlugin(
            "poll",
            "Sweep an org with SOQL on SystemModstamp, and getDeleted for deletions",
            _poll_feed,
            org=True,
        )
    )
    register(
        FeedPlugin(
            "stream",
            "Change Data Capture over CometD with replay ids; falls back to polling on a gap",
            _stream_feed,
            org=True,
            waits=True,
        )
    )


@hookimpl
def register_workloads(register: Any) -> None:
    register(
        WorkloadPlugin(
            "lead.route",
            "Give every new Lead an owner from the policy; SLA reassignments",
            _lead_route,
        )
    )
    register(
        WorkloadPlugin(
            "lead.first_touch",
            "Write each lead's first response (time, user, minutes) from its first call/email",
            _lead_first_touch,
        )
    )
    register(
        WorkloadPlugin(
            "outreach.suggest",
            "Suggest a first email per assigned lead from templates; --send sends it",
            _outreach,
            sends=True,
        )
    )

"""A session's saved state: encoded incrementally, yet always exactly the whole state, and a
replay's decisions don't depend on how its events are batched."""

from __future__ import annotations

import json

from orgforge.agents.feeds import ListFeed
from orgforge.agents.session import Session, replay_events
from orgforge.agents.workloads import LeadDesk

from .conftest import make_leads, make_touches


class Store:
    def __init__(self):
        self.meta = {}

    def get_meta(self, name):
        return self.meta.get(name)

    def set_meta(self, name, value):
        self.meta[name] = value


def _events(n=400):
    leads = make_leads(n, seed=21)
    return replay_events(leads, make_touches(leads[::2], {}, seed=5, max_seconds=6 * 3600))


def _whole_state(session: Session) -> dict:
    """The state as one plain encoding of everything, the way it was saved before."""
    desk = session.desk
    return {
        "feed": session.feed.name,
        "position": session.feed.position,
        "router": json.loads(desk.router.state.to_json()),
        "leads": {k: v.as_dict() for k, v in desk.leads.items()},
        "assigned": {k: [o, t.isoformat()] for k, (o, t) in desk.assigned.items()},
        "watch": {
            k: [w.owner, w.assigned.isoformat(), w.checkpoint] for k, w in desk.watch.items()
        },
        "responded": sorted(desk.responded),
        "held": {
            k: [when.isoformat(), m.__dict__ if m else None] for k, (when, m) in desk.held.items()
        },
    }


def _replay(policy, events, batch, store=None):
    session = Session("s", ListFeed(events, batch), LeadDesk(policy), store, decide_at="event")
    while session.step().events:
        if store is not None:  # after every save: what was saved is the whole state
            saved = json.loads(store.meta["agents:s"])
            saved["responded"] = sorted(saved["responded"])
            assert saved == _whole_state(session)
    return session


def test_the_incrementally_saved_state_is_always_the_whole_state(policy):
    events = _events()
    store = Store()
    session = _replay(policy, events, 37, store)
    desk = session.desk
    actions = {d.action for d in desk.decisions}
    assert {"route", "reassign", "dispatch"} <= actions  # holds, SLA moves and touches happened
    assert desk.responded and desk.watch is not None
    # a session restored from it holds the same state (its feed resumes from the position)
    saved = json.loads(store.meta["agents:s"])
    feed = ListFeed(events, 37, saved["position"])
    restored = Session("s", feed, LeadDesk(policy), store, decide_at="event")
    restored.restore(saved)
    assert _whole_state(restored) == _whole_state(session)


def test_a_replay_decides_the_same_whatever_its_batch_size(policy):
    events = _events()
    outcomes = [
        [
            (d.lead_id, d.action, d.decided_at, d.owner)
            for d in _replay(policy, events, b).desk.decisions
        ]
        for b in (1, 50, 5000)
    ]
    assert outcomes[0] == outcomes[1] == outcomes[2]

"""The optional LLM check of lead.route, against an OpenAI-compatible server on 127.0.0.1 (the
real openai SDK over a real socket): it confirms or flags, never changes an owner, never
accepts an owner the rules excluded, and a rerun answers from the world's cache."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orgforge.agents.flywheel import FlywheelLog
from orgforge.agents.llm_check import RouteChecker
from orgforge.agents.workloads import LeadDesk
from orgforge.config import ContentConfig
from orgforge.world.store import World

from .conftest import active_users, logged, make_leads
from .test_cli import _policy, orgforge


class Reviewer:
    """Answers like a model would, from what the prompt says: a lead whose company has "Odd"
    is flagged naming a rep the rules excluded (the checker must refuse it), "Better" is
    flagged naming another eligible candidate, everything else is confirmed."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        reviewer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with reviewer._lock:
                    reviewer.requests.append(body)
                answer = reviewer.answer(body["messages"][-1]["content"])
                reply = {
                    "id": "chk",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": json.dumps(answer)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def answer(prompt: str) -> dict:
        inputs = json.loads(prompt.split("\n", 1)[1])
        company = inputs["lead"]["company"] or ""
        others = [c["rep"] for c in inputs["eligible_candidates"] if c["rep"] != inputs["owner"]]
        if "Odd" in company and inputs["exclusions"]:
            better = inputs["exclusions"][0]["rep"]
            return {"verdict": "flag", "reason": "region looks off", "better_owner": better}
        if "Better" in company and others:
            return {"verdict": "flag", "reason": "a closer fit", "better_owner": others[0]}
        return {"verdict": "confirm", "reason": "fits the segment and region", "better_owner": None}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def reviewer():
    server = Reviewer()
    yield server
    server.close()


def _content(url: str) -> ContentConfig:
    return ContentConfig(
        provider="compatible", model="route-checker", base_url=url, backoff=0.01, backoff_max=0.05
    )


def _leads():
    return [
        replace(lead, company=f"{'Odd' if i % 5 == 0 else 'Better' if i % 5 == 1 else 'Plain'} {i}")
        for i, lead in enumerate(make_leads(120, seed=3))
    ]


def _route(policy, leads, checker, log_dir=None):
    log = FlywheelLog(log_dir, client_id="test") if log_dir else None
    desk = LeadDesk(policy, checker=checker, log=log)
    for lead in leads:
        desk.check_slas(lead.created)
        desk.new_lead(lead, lead.created)
    if log is not None:
        log.close()
    return desk


def test_the_check_confirms_or_flags_and_never_changes_an_owner(policy, reviewer, tmp_path):
    leads = _leads()
    plain = _route(policy, leads, None)
    with World(tmp_path / "w.db") as world:
        checker = RouteChecker(_content(reviewer.url), world)
        checked = _route(policy, leads, checker, tmp_path / "fly")
        checker.close()
        assert [d.outcome() for d in checked.decisions] == [d.outcome() for d in plain.decisions]
        n = len(checked.decisions)
        assert checker.calls == n == len(reviewer.requests) and checker.cached == 0
        lines = logged(tmp_path / "fly")
        assert len(lines) == n and all("llm_check" in m for m in lines)
        by_company = {m["inputs"]["lead"]["company"]: m for m in lines if m["action"] == "route"}
        refused = [m for c, m in by_company.items() if c.startswith("Odd") and m["exclusions"]]
        assert refused, "the fixture has off-shift reps excluded from some Odd leads"
        for m in refused:  # the model named an excluded rep: recorded as refused, not applied
            check = m["llm_check"]
            assert check["verdict"] == "flag" and "better_owner" not in check
            assert check["refused_owner"] == m["exclusions"][0]["rep"] != m["assigned_to"]
            assert check["refused_because"].startswith("excluded by the rules: ")
        better = [m for c, m in by_company.items() if c.startswith("Better")]
        kept = [m for m in better if "better_owner" in m["llm_check"]]
        assert kept and all(
            m["llm_check"]["better_owner"] != m["assigned_to"] for m in kept
        )  # suggestion kept for a human, the rules' owner stands
        plain_ones = [m for c, m in by_company.items() if c.startswith("Plain")]
        assert {m["llm_check"]["verdict"] for m in plain_ones} == {"confirm"}
        assert checker.flagged == sum(m["llm_check"]["verdict"] == "flag" for m in lines)

        # a rerun over the same decisions: every answer from the world's cache, no call
        again = RouteChecker(_content(reviewer.url), world)
        rerun = _route(policy, leads, again, tmp_path / "fly2")
        again.close()
        assert again.calls == 0 and again.cached == n and len(reviewer.requests) == n
        assert [d.outcome() for d in rerun.decisions] == [d.outcome() for d in plain.decisions]
        relog = [m["llm_check"] for m in logged(tmp_path / "fly2")]
        assert [c["source"] for c in relog] == ["cache"] * n
        strip = [{k: v for k, v in m["llm_check"].items() if k != "source"} for m in lines]
        assert [{k: v for k, v in c.items() if k != "source"} for c in relog] == strip


def test_a_failing_model_leaves_decisions_unchecked_never_blocked(policy, tmp_path):
    dead = _content("http://127.0.0.1:9/v1")  # nothing listens on the discard port
    dead.max_attempts = 2
    checker = RouteChecker(dead)
    desk = _route(policy, make_leads(5, seed=4), checker)
    checker.close()
    n = len(desk.decisions)  # the 5 leads' routes, dispatches and SLA reassignments
    assert {d.lead_id for d in desk.decisions} == {f"Lead/{i:04d}" for i in range(5)}
    assert checker.unchecked == n and checker.cached == 0 and checker.calls == 2 * n


def test_agents_run_llm_check_logs_verdicts_and_refuses_a_missing_key(org, reviewer, tmp_path):
    sb, sf = org
    policy = _policy(tmp_path, active_users(sf))
    args = (
        "agents", "run", "--feed", "poll", "--once", "--llm-check", "--policy", str(policy),
        "--world", "w.db", "--instance-url", sb.instance_url, "--auth", "token",
    )  # fmt: skip
    env = {
        "SF_ACCESS_TOKEN": sb.token,
        "ORGFORGE_CONTENT__PROVIDER": "compatible",
        "ORGFORGE_CONTENT__MODEL": "route-checker",
        "ORGFORGE_CONTENT__BASE_URL": reviewer.url,
    }
    assert orgforge(*args, cwd=tmp_path, env=env).returncode == 0
    leads = [
        sf.Lead.create({"LastName": f"N{i}", "Company": f"Plain N{i}", "Country": "US"})["id"]
        for i in range(3)
    ]
    done = orgforge(*args, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "3 leads routed" in done.stdout
    assert "llm check: 0 flagged, 0 unchecked; 3 calls, 0 answers from the cache" in done.stdout
    lines = logged(tmp_path / "flywheel")
    assert sorted(m["lead_id"] for m in lines) == sorted(leads)
    assert {m["llm_check"]["verdict"] for m in lines} == {"confirm"}

    other = tmp_path / "nokey"
    other.mkdir()
    refused = orgforge(
        *args, cwd=other, env={"SF_ACCESS_TOKEN": sb.token, "ORGFORGE_CONTENT__PROVIDER": "openai"}
    )
    assert refused.returncode == 2, refused.stderr
    err = refused.stderr.strip().splitlines()
    assert err[0] == "error: no API key for content.provider openai" and err[1].startswith("hint:")
    assert not (other / "w.db").exists() and not (other / "flywheel").exists()

"""outreach.suggest: templates chosen by the lead's words, filled, and sent as a first touch."""

from __future__ import annotations

import pytest

from orgforge.agents.outreach import TemplatesError, load_templates, suggest

from .conftest import active_users
from .test_cli import _policy, orgforge


def test_the_first_matching_template_wins_and_the_default_covers_the_rest():
    templates = load_templates()
    lead = {
        "Id": "00Q1",
        "FirstName": "Ada",
        "Company": "Acme",
        "Title": "CFO",
        "Description": "Asked for a quote for 40 seats",
        "Email": "ada@acme.example.com",
    }
    s = suggest(templates, lead, "Avery Brooks")
    assert (s.template_id, s.matched) == ("pricing_inquiry", "quote")
    assert s.subject == "Pricing for Acme" and "Hi Ada," in s.body and "Avery Brooks" in s.body
    plain = suggest(templates, {"Id": "00Q2", "Company": "Beta"}, "Jordan")
    assert (plain.template_id, plain.matched) == ("general", None)
    assert "Hi there," in plain.body  # no first name: a greeting that still reads


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "version: x\ntemplates:\n- {id: a, intent: b, subject: 'Hi {nme}', body: x, "
            "default: true}\n",
            "unknown placeholder {nme}",
        ),
        (
            "version: x\ntemplates:\n- {id: a, intent: b, subject: s, body: x}\n",
            "exactly one template needs default: true",
        ),
        (
            "version: x\ntemplates:\n- {id: a, intent: b, subject: 'Hi {', body: x, "
            "default: true}\n",
            "template 'a'",
        ),
    ],
)
def test_bad_templates_files_name_file_and_problem(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TemplatesError) as exc:
        load_templates(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_sent_outreach_is_logged_on_the_lead_and_counts_as_its_first_touch(org, tmp_path):
    sb, sf = org
    users = active_users(sf)
    policy = _policy(tmp_path, users)
    env = {"SF_ACCESS_TOKEN": sb.token}
    run = (
        "agents",
        "run",
        "--feed",
        "poll",
        "--once",
        "--policy",
        str(policy),
        "--workload",
        "lead.route",
        "--workload",
        "lead.first_touch",
        "--workload",
        "outreach.suggest",
        "--send",
        "--instance-url",
        sb.instance_url,
        "--auth",
        "token",
        "--world",
        "w.db",
    )
    assert orgforge(*run, cwd=tmp_path, env=env).returncode == 0
    lead = sf.Lead.create(
        {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Company": "Acme",
            "Email": "ada@acme.example.com",
            "Country": "US",
            "Description": "Would like a demo for the finance team",
        }
    )["id"]
    done = orgforge(*run, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "outreach: 1 suggested, 1 sent, 0 not sent" in done.stdout, done.stdout
    tasks = sf.query(f"SELECT Subject, Status, TaskSubtype, WhoId FROM Task WHERE WhoId = '{lead}'")
    (task,) = tasks["records"]
    assert task["Subject"] == "Email: Your demo, Ada" and task["Status"] == "Completed"
    again = orgforge(*run, cwd=tmp_path, env=env)  # the logged email is the first touch
    assert again.returncode == 0 and "1 first touches" in again.stdout, again.stdout
    metrics = orgforge("metrics", "--log-dir", "flywheel", "--json", cwd=tmp_path)
    assert '"demo_request": 1' in metrics.stdout and '"send_success_rate": 1.0' in metrics.stdout

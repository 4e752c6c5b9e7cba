"""Framework and subject-type files: the built-ins hold up, bad files say file:line:field."""

from __future__ import annotations

import pytest

from orgforge import activity
from orgforge.activity.frameworks import builtin_frameworks, parse_framework
from orgforge.activity.subjects import (
    load_holidays,
    load_subject_types,
    parse_subject_types,
)
from orgforge.errors import ConfigError, FrameworkError

GOOD = """\
id: mine
name: Mine
questions:
  - id: budget
    text: Is there budget?
    weight: 2
    evidence:
      - field: Amount
        confidence: 0.5
        answer: "Budget {Amount}."
"""


def test_builtin_frameworks() -> None:
    found = builtin_frameworks()
    assert {k: len(v.questions) for k, v in found.items()} == {
        "bant": 4,
        "meddicc": 7,
        "meddpicc": 8,
    }
    subjects = load_subject_types()
    for fw in found.values():  # every activity cue names a real subject type
        parse_framework(_text(fw.id), fw.id, subjects)
        for q in fw.questions:
            assert q.weight > 0 and q.evidence


def _text(framework_id: str) -> str:
    from importlib import resources

    return (
        resources.files("orgforge.activity") / "frameworks" / f"{framework_id}.yaml"
    ).read_text()


def test_user_framework_is_added(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    found = activity.frameworks([str(path)])
    assert found["mine"].questions[0].weight == 2
    assert found["mine"].source == str(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD.replace("weight: 2", "weight: -1"), "mine.yaml:6: questions.0.weight"),
        (GOOD.replace("    text: Is", "    txt: Is"), "mine.yaml:4: questions.0.text: missing"),
        (
            GOOD.replace(
                "      - field: Amount", "      - field: Amount\n        persona: [champion]"
            ),
            "mine.yaml:8: questions.0.evidence.0: a cue needs exactly one of",
        ),
        (
            GOOD.replace("field: Amount", "field: Budget__c"),
            "'Budget__c' is not an Opportunity field",
        ),
        (
            GOOD.replace("field: Amount", "activity: [golf_outing]"),
            "mine.yaml:8: questions.0.evidence.0.activity: unknown subject type 'golf_outing'",
        ),
        (GOOD.replace("field: Amount", "persona: [ceo]"), "unknown persona 'ceo'"),
        (GOOD.replace("name: Mine\n", ""), "mine.yaml: name: missing"),
        (GOOD.replace("questions:", "questions: [\n"), "mine.yaml:5: malformed YAML"),
        ("- just a list", "a framework is a mapping"),
        (
            GOOD + GOOD[GOOD.index("  - id: budget") :],
            "question id 'budget' is used twice",
        ),
    ],
)
def test_bad_framework_files(tmp_path, text: str, fragment: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(FrameworkError) as info:
        activity.frameworks([str(path)])
    assert fragment in info.value.message, info.value.message
    assert info.value.exit_code == 2 and info.value.hint


def test_missing_framework_file() -> None:
    with pytest.raises(FrameworkError, match=r"framework file nope\.yaml not found"):
        activity.frameworks(["nope.yaml"])


def test_subject_types_and_holidays() -> None:
    subjects = load_subject_types()
    assert len(subjects.meetings) >= 12 and len(subjects.emails) >= 12
    bad = (
        "personas:\n  Economic Buyer: economic_buyer\nmeetings:\n  - id: x\n    label: Xy\n"
        "    from: Closing\n    to: Prospecting\n    personas: [champion]\n    subjects: [a]\n"
        "emails: []\n"
    )
    with pytest.raises(
        ConfigError, match=r"subjects\.yaml:4: meetings\.0: unknown stage 'Closing'"
    ):
        parse_subject_types(bad, "subjects.yaml")
    us = load_holidays("auto").for_country("United States")
    assert len(us) >= 30
    assert load_holidays("auto").for_country("Germany") == frozenset()
    with pytest.raises(ConfigError, match="unknown calendar 'mars'"):
        load_holidays("mars")

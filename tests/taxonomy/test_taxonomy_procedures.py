"""Procedures with optional steps, and acknowledgement deadlines per priority and per type."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from watchfloor.core.alarm_types import DEFAULT_ACK_DEADLINES
from watchfloor.core.errors import TaxonomyError
from watchfloor.taxonomy import load_taxonomy, parse_taxonomy

from .test_taxonomy_validation import BASE, SOURCE, Document, alarm_type, render


def _with(**top: object) -> Document:
    document = copy.deepcopy(BASE)
    document.update(top)
    return document


def _parse(document: Document) -> object:
    return parse_taxonomy(render(document), source=SOURCE)


def test_steps_are_mandatory_unless_marked_optional() -> None:
    document = _with()
    types = document["types"]
    assert isinstance(types, list)
    types[0] = alarm_type(
        300,
        "Burglary alarm",
        sop=[
            "Call the keyholder",
            {"step": "Check the cameras", "optional": True},
            {"step": "Record the outcome"},
        ],
    )
    taxonomy = parse_taxonomy(render(document), source=SOURCE)
    burglary = taxonomy.get(300)
    assert burglary.sop == ("Call the keyholder", "Check the cameras", "Record the outcome")
    assert burglary.optional_steps == {1}


def test_a_step_can_require_the_call_list() -> None:
    document = _with()
    types = document["types"]
    assert isinstance(types, list)
    types[0] = alarm_type(
        300,
        "Burglary alarm",
        sop=[
            {"step": "Call keyholders until one answers", "requires": "call_list"},
            "Record the outcome",
        ],
    )
    burglary = parse_taxonomy(render(document), source=SOURCE).get(300)
    assert burglary.call_list_steps == {0}
    assert burglary.optional_steps == frozenset()


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"step": "x", "colour": "red"}, 'sop step 1: unknown key "colour"'),
        ({"step": "x", "optional": "yes"}, "sop step 1: optional must be true or false"),
        ({"optional": True}, "sop step 1 must be a non-empty string"),
        ({"step": "x", "requires": "luck"}, 'sop step 1: requires "luck" must be one of call_list'),
    ],
)
def test_bad_steps_are_named(step: dict[str, object], expected: str) -> None:
    document = _with()
    types = document["types"]
    assert isinstance(types, list)
    types[0] = alarm_type(300, "Burglary alarm", sop=[step])
    with pytest.raises(TaxonomyError) as caught:
        _parse(document)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_default_deadlines_follow_the_priority() -> None:
    taxonomy = parse_taxonomy(render(_with()), source=SOURCE)
    assert taxonomy.ack_deadlines == DEFAULT_ACK_DEADLINES
    assert taxonomy.get(300).ack_within == timedelta(minutes=3)  # priority 3


def test_deadlines_can_be_set_per_priority_and_per_type() -> None:
    document = _with(acknowledge_within={"p3": 90, "p5": 0})
    types = document["types"]
    assert isinstance(types, list)
    types[1] = alarm_type(800, "Opening or closing", raises_alarm=False, priority=5)
    types[2] = alarm_type(990, "Unclassified signal", basis="equipment fault", ack_within_seconds=0)
    taxonomy = parse_taxonomy(render(document), source=SOURCE)
    assert taxonomy.ack_deadlines[3] == timedelta(seconds=90)
    assert taxonomy.ack_deadlines[5] is None
    assert taxonomy.get(300).ack_within == timedelta(seconds=90)
    assert taxonomy.get(800).ack_within is None
    assert taxonomy.get(990).ack_within is None


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ({"acknowledge_within": {"p9": 30}}, "acknowledge_within.p9: keys are p1 to p5"),
        ({"acknowledge_within": {"urgent": 30}}, "acknowledge_within.urgent: keys are p1 to p5"),
        ({"acknowledge_within": {"p1": -1}}, "acknowledge_within.p1: -1 is not a number"),
        ({"acknowledge_within": {"p1": "soon"}}, 'acknowledge_within.p1: "soon" is not'),
        ({"acknowledge_within": 30}, "acknowledge_within: must be a table"),
    ],
)
def test_bad_deadlines_are_named(top: dict[str, object], expected: str) -> None:
    with pytest.raises(TaxonomyError) as caught:
        _parse(_with(**top))
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_bad_type_deadline_is_named() -> None:
    document = _with()
    types = document["types"]
    assert isinstance(types, list)
    types[0] = alarm_type(300, "Burglary alarm", ack_within_seconds=True)
    with pytest.raises(TaxonomyError, match="ack_within_seconds true is not a number"):
        _parse(document)


def test_shipped_taxonomy_has_deadlines_and_supervision() -> None:
    taxonomy = load_taxonomy()
    fire = taxonomy.get(110)
    assert fire.priority == 1
    assert fire.ack_within == timedelta(seconds=30)
    assert fire.optional_steps == frozenset()

"""The escalation ladder in the taxonomy file: who is told of an overdue alarm, and when."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from watchfloor.core.alarm_types import DEFAULT_ESCALATION_LADDER, EscalationLevel
from watchfloor.core.errors import TaxonomyError
from watchfloor.taxonomy import load_taxonomy, parse_taxonomy

from .test_taxonomy_validation import BASE, SOURCE, Document, render


def _with_escalation(escalation: object) -> Document:
    document = copy.deepcopy(BASE)
    document["escalation"] = escalation
    return document


def test_without_a_ladder_the_default_one_is_used() -> None:
    taxonomy = parse_taxonomy(render(copy.deepcopy(BASE)), source=SOURCE)
    assert taxonomy.escalation_ladder == DEFAULT_ESCALATION_LADDER


def test_a_ladder_names_its_levels_and_the_time_after_each_level_before() -> None:
    document = _with_escalation(
        {
            "ladder": [
                {"level": "supervisor"},
                {"level": "duty_manager", "after_seconds": 90},
                {"level": "regional_director", "after_seconds": 600},
            ]
        }
    )
    taxonomy = parse_taxonomy(render(document), source=SOURCE)
    assert taxonomy.escalation_ladder == (
        EscalationLevel(name="supervisor"),
        EscalationLevel(name="duty_manager", after=timedelta(seconds=90)),
        EscalationLevel(name="regional_director", after=timedelta(seconds=600)),
    )


def test_the_shipped_ladder_tells_the_supervisor_then_the_duty_manager() -> None:
    ladder = load_taxonomy().escalation_ladder
    assert [level.name for level in ladder] == ["supervisor", "duty_manager"]
    assert ladder[0].after == timedelta(0)


_SUPERVISOR = {"level": "supervisor"}


@pytest.mark.parametrize(
    ("escalation", "expected"),
    [
        ("supervisor", "escalation: must be a table like ladder = "),
        ({}, 'escalation: missing key "ladder"'),
        ({"ladder": [_SUPERVISOR], "levels": 2}, 'escalation: unknown key "levels"'),
        ({"ladder": "supervisor"}, "escalation.ladder: must be a list of tables"),
        ({"ladder": []}, "escalation.ladder: must name 1 to 5 levels"),
        (
            {"ladder": [{"level": f"level_{n}", "after_seconds": 60} for n in range(6)]},
            "escalation.ladder: must name 1 to 5 levels",
        ),
        (
            {"ladder": [{"level": "Duty Manager"}]},
            'escalation.ladder[0] "Duty Manager": level must be a lower-case name',
        ),
        ({"ladder": [{"after_seconds": 60}]}, "escalation.ladder[0]: level must be"),
        (
            {"ladder": [{"level": "operator"}]},
            'escalation.ladder[0] "operator": operators see every alarm from the start',
        ),
        (
            {"ladder": [_SUPERVISOR, {"level": "supervisor", "after_seconds": 60}]},
            'escalation.ladder[1] "supervisor": the level is named twice',
        ),
        (
            {"ladder": [{"level": "supervisor", "after_seconds": 30}]},
            'escalation.ladder[0] "supervisor": the first level is told when the alarm becomes '
            "overdue",
        ),
        (
            {"ladder": [_SUPERVISOR, {"level": "duty_manager"}]},
            'escalation.ladder[1] "duty_manager": missing key "after_seconds"',
        ),
        (
            {"ladder": [_SUPERVISOR, {"level": "duty_manager", "after_seconds": 0}]},
            'escalation.ladder[1] "duty_manager": after_seconds 0 is not a number of seconds',
        ),
        (
            {"ladder": [_SUPERVISOR, {"level": "duty_manager", "after_seconds": "2m"}]},
            'escalation.ladder[1] "duty_manager": after_seconds "2m" is not a number of seconds '
            "above 0 and at most 86400",
        ),
        (
            {"ladder": [{"level": "supervisor", "when": "soon"}]},
            'escalation.ladder[0] "supervisor": unknown key "when"',
        ),
    ],
)
def test_bad_ladders_are_named(escalation: object, expected: str) -> None:
    with pytest.raises(TaxonomyError) as caught:
        parse_taxonomy(render(_with_escalation(escalation)), source=SOURCE)
    problems = caught.value.problems
    assert any(f"{SOURCE}: {expected}" in problem for problem in problems), problems

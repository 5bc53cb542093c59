"""Validation of taxonomy files: every rule, reported with the entry it concerns."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from watchfloor.core.alarm_types import Basis, CodeSystem, SourceCode
from watchfloor.core.errors import TaxonomyError
from watchfloor.taxonomy import check_taxonomy_file, load_taxonomy, parse_taxonomy

Document = dict[str, object]

SOURCE = "test.toml"


def render_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(render_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{json.dumps(k)} = {render_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    return str(value)


def is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def render(document: Document) -> str:
    """Write a document as TOML: plain keys first, then tables, then arrays of tables."""
    lines = [
        f"{json.dumps(key)} = {render_value(value)}"
        for key, value in document.items()
        if not isinstance(value, dict) and not is_table_array(value)
    ]
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(f"[{json.dumps(key)}]")
            lines.extend(f"{json.dumps(k)} = {render_value(v)}" for k, v in value.items())
    for key, value in document.items():
        if is_table_array(value):
            assert isinstance(value, list)
            for entry in value:
                lines.append(f"[[{json.dumps(key)}]]")
                lines.extend(f"{json.dumps(k)} = {render_value(v)}" for k, v in entry.items())
    return "\n".join(lines) + "\n"


def alarm_type(code: object, name: object, **fields: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "code": code,
        "name": name,
        "category": "intrusion",
        "priority": 3,
        "basis": "intrusion",
        "sop": ["Call the keyholder", "Record the outcome"],
    }
    entry.update(fields)
    return entry


BASE: Document = {
    "version": "test",
    "types": [
        alarm_type(300, "Burglary alarm"),
        alarm_type(800, "Opening or closing", category="arming", raises_alarm=False),
        alarm_type(990, "Unclassified signal", basis="equipment fault", category="other"),
        alarm_type(991, "Unregistered transmitter", basis="supervision", category="supervision"),
    ],
    "contact_id": {"130": 300, "401": 800},
    "sia_dcs": {"BA": 300, "BR": {"type": 300, "restore": True}},
}


def types_of(document: Document) -> list[dict[str, object]]:
    types = document["types"]
    assert isinstance(types, list)
    return types


def mappings_of(document: Document, system: str) -> dict[str, object]:
    table = document[system]
    assert isinstance(table, dict)
    return table


def add_type(**fields: object) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        code, name = fields.pop("code", 305), fields.pop("name", "Glass break")
        types_of(document).append(alarm_type(code, name, **fields))

    return mutate


def drop_key(key: str) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        del types_of(document)[0][key]

    return mutate


def set_top(key: str, value: object) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        document[key] = value

    return mutate


def drop_top(key: str) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        del document[key]

    return mutate


def map_code(system: str, code: str, value: object) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        mappings_of(document, system)[code] = value

    return mutate


def drop_type(code: int) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        document["types"] = [t for t in types_of(document) if t["code"] != code]

    return mutate


def parse_problems(document: Document) -> tuple[str, ...]:
    with pytest.raises(TaxonomyError) as caught:
        parse_taxonomy(render(document), source=SOURCE)
    return caught.value.problems


BASES = ", ".join(b.value for b in Basis)

CASES: list[tuple[str, Callable[[Document], None], str]] = [
    (
        "basis-not-in-closed-list",
        add_type(basis="protest"),
        f'type 305 "Glass break": basis "protest" is not one of: {BASES}',
    ),
    ("basis-not-a-string", add_type(basis=3), 'type 305 "Glass break": basis 3 is not one of'),
    (
        "mapping-to-unknown-type",
        map_code("sia_dcs", "BA", 399),
        "sia_dcs.BA: maps to unknown type 399",
    ),
    (
        "restore-mapping-to-unknown-type",
        map_code("sia_dcs", "BR", {"type": 399, "restore": True}),
        "sia_dcs.BR: maps to unknown type 399",
    ),
    (
        "contact-id-to-unknown-type",
        map_code("contact_id", "110", 100),
        "contact_id.110: maps to unknown type 100",
    ),
    (
        "duplicate-code",
        add_type(code=300, name="Burglary again"),
        'type 300 "Burglary again": code 300 is used by an earlier type too',
    ),
    (
        "duplicate-name",
        add_type(code=301, name="Burglary alarm"),
        'type 301 "Burglary alarm": name is used by type 300 too',
    ),
    ("priority-zero", add_type(priority=0), 'type 305 "Glass break": priority 0 is not in 1..5'),
    ("priority-six", add_type(priority=6), 'type 305 "Glass break": priority 6 is not in 1..5'),
    (
        "priority-not-a-number",
        add_type(priority="high"),
        'type 305 "Glass break": priority "high" is not in 1..5',
    ),
    ("priority-boolean", add_type(priority=True), 'type 305 "Glass break": priority true is not'),
    ("empty-name", add_type(name=""), "type 305: name must be a non-empty string"),
    ("blank-name", add_type(name="   "), "type 305: name must be a non-empty string"),
    ("name-not-a-string", add_type(name=5), "type 305: name must be a non-empty string"),
    ("missing-name", drop_key("name"), 'type 300: missing key "name"'),
    ("missing-basis", drop_key("basis"), 'type 300 "Burglary alarm": missing key "basis"'),
    ("missing-sop", drop_key("sop"), 'type 300 "Burglary alarm": missing key "sop"'),
    ("missing-code", drop_key("code"), 'types[0] "Burglary alarm": missing key "code"'),
    ("missing-category", drop_key("category"), 'type 300 "Burglary alarm": missing key "category"'),
    ("missing-priority", drop_key("priority"), 'type 300 "Burglary alarm": missing key "priority"'),
    (
        "empty-sop",
        add_type(sop=[]),
        'type 305 "Glass break": sop must be a non-empty list of steps',
    ),
    (
        "sop-not-a-list",
        add_type(sop="Call the police"),
        'type 305 "Glass break": sop must be a non-empty list of steps',
    ),
    (
        "blank-sop-step",
        add_type(sop=["Call the keyholder", " "]),
        'type 305 "Glass break": sop step 2 must be a non-empty string',
    ),
    (
        "sop-step-not-a-string",
        add_type(sop=[1]),
        'type 305 "Glass break": sop step 1 must be a non-empty string',
    ),
    (
        "code-not-a-number",
        add_type(code="abc"),
        'types[4] "Glass break": code "abc" is not a whole number from 1 to 999',
    ),
    ("code-zero", add_type(code=0), 'types[4] "Glass break": code 0 is not a whole number'),
    ("code-too-big", add_type(code=1000), 'types[4] "Glass break": code 1000 is not a whole'),
    ("code-boolean", add_type(code=True), 'types[4] "Glass break": code true is not a whole'),
    (
        "category-not-a-slug",
        add_type(category="Glass Break"),
        'type 305 "Glass break": category "Glass Break" must be a lower-case slug',
    ),
    (
        "category-not-a-string",
        add_type(category=1),
        'type 305 "Glass break": category 1 must be a lower-case',
    ),
    (
        "raises-alarm-not-a-boolean",
        add_type(raises_alarm="yes"),
        'type 305 "Glass break": raises_alarm "yes" must be true or false',
    ),
    ("unknown-type-key", add_type(colour="red"), 'type 305 "Glass break": unknown key "colour"'),
    ("unknown-top-level-key", set_top("extra", 1), 'top level: unknown key "extra"'),
    ("missing-unclassified", drop_type(990), "types: no type 990: it is required"),
    ("missing-unregistered", drop_type(991), "types: no type 991: it is required"),
    (
        "unclassified-log-only",
        lambda d: types_of(d)[2].update(raises_alarm=False),
        'type 990 "Unclassified signal": raises_alarm must be true',
    ),
    ("missing-version", drop_top("version"), "version: missing"),
    ("empty-version", set_top("version", " "), "version: must be a non-empty string"),
    ("version-not-a-string", set_top("version", 1), "version: must be a non-empty string"),
    ("missing-types", drop_top("types"), "types: missing"),
    ("types-not-tables", set_top("types", [1, 2]), "types: must be an array of tables"),
    ("types-a-number", set_top("types", 3), "types: must be an array of tables"),
    ("mapping-not-a-table", set_top("contact_id", 5), "contact_id: must be a table"),
    (
        "contact-id-code-malformed",
        map_code("contact_id", "1x0", 300),
        'contact_id.1x0: "1x0" is not a three-digit Contact ID event code',
    ),
    (
        "sia-code-lower-case",
        map_code("sia_dcs", "ba", 300),
        'sia_dcs.ba: "ba" is not a two-letter upper-case SIA DCS event code',
    ),
    ("sia-code-too-long", map_code("sia_dcs", "BAA", 300), 'sia_dcs.BAA: "BAA" is not a two'),
    (
        "mapping-value-a-string",
        map_code("sia_dcs", "BA", "300"),
        'sia_dcs.BA: must be a type code or { type = N, restore = true }, not "300"',
    ),
    ("mapping-value-boolean", map_code("sia_dcs", "BA", True), "sia_dcs.BA: must be a type code"),
    (
        "mapping-table-without-type",
        map_code("sia_dcs", "BR", {"restore": True}),
        'sia_dcs.BR: missing key "type"',
    ),
    (
        "mapping-table-unknown-key",
        map_code("sia_dcs", "BR", {"type": 300, "restores": True}),
        'sia_dcs.BR: unknown key "restores"',
    ),
    (
        "mapping-restore-not-a-boolean",
        map_code("sia_dcs", "BR", {"type": 300, "restore": "yes"}),
        'sia_dcs.BR: restore "yes" must be true or false',
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_names_the_entry(mutate: Callable[[Document], None], expected: str) -> None:
    document = copy.deepcopy(BASE)
    mutate(document)
    problems = parse_problems(document)
    assert any(p.startswith(f"{SOURCE}: {expected}") for p in problems), problems


def test_base_document_is_valid() -> None:
    taxonomy = parse_taxonomy(render(BASE), source=SOURCE)
    assert taxonomy.version == "test"
    assert set(taxonomy.types) == {300, 800, 990, 991}
    assert taxonomy.get(800).raises_alarm is False
    assert taxonomy.get(300).basis is Basis.INTRUSION
    assert taxonomy.mappings == {
        SourceCode(system=CodeSystem.CONTACT_ID, code="130"): (300, False),
        SourceCode(system=CodeSystem.CONTACT_ID, code="401"): (800, False),
        SourceCode(system=CodeSystem.SIA_DCS, code="BA"): (300, False),
        SourceCode(system=CodeSystem.SIA_DCS, code="BR"): (300, True),
    }


def test_mapping_tables_are_optional() -> None:
    document = copy.deepcopy(BASE)
    del document["contact_id"], document["sia_dcs"]
    assert parse_taxonomy(render(document), source=SOURCE).mappings == {}


def test_names_and_steps_are_stripped() -> None:
    document = copy.deepcopy(BASE)
    types_of(document)[0].update(name=" Burglary alarm ", sop=[" Call the keyholder "])
    taxonomy = parse_taxonomy(render(document), source=SOURCE)
    assert taxonomy.get(300).name == "Burglary alarm"
    assert taxonomy.get(300).sop == ("Call the keyholder",)


def test_all_problems_are_reported_together() -> None:
    document = copy.deepcopy(BASE)
    add_type(basis="protest", priority=9, sop=[])(document)
    map_code("sia_dcs", "BA", 399)(document)
    drop_type(991)(document)
    set_top("colour", "red")(document)
    problems = parse_problems(document)
    assert problems == (
        'test.toml: top level: unknown key "colour"',
        'test.toml: type 305 "Glass break": priority 9 is not in 1..5',
        f'test.toml: type 305 "Glass break": basis "protest" is not one of: {BASES}',
        'test.toml: type 305 "Glass break": sop must be a non-empty list of steps',
        "test.toml: types: no type 991: it is required for signals from transmitters nobody "
        "registered",
        "test.toml: sia_dcs.BA: maps to unknown type 399",
    )


def test_the_error_message_lists_every_problem() -> None:
    document = copy.deepcopy(BASE)
    add_type(basis="protest")(document)
    map_code("sia_dcs", "BA", 399)(document)
    with pytest.raises(TaxonomyError, match=r"(?s)invalid taxonomy:.*protest.*399"):
        parse_taxonomy(render(document), source=SOURCE)


def test_mapping_to_an_invalid_type_is_not_reported_twice() -> None:
    document = copy.deepcopy(BASE)
    add_type(basis="protest")(document)
    map_code("sia_dcs", "BG", 305)(document)
    problems = parse_problems(document)
    assert len(problems) == 1
    assert "protest" in problems[0]


def test_a_duplicate_does_not_replace_the_first_type() -> None:
    document = copy.deepcopy(BASE)
    add_type(code=300, name="Burglary again")(document)
    assert len(parse_problems(document)) == 1


def test_invalid_toml_is_reported_with_its_source() -> None:
    with pytest.raises(TaxonomyError) as caught:
        parse_taxonomy('version = "0.1"\n[types\n', source=SOURCE)
    (problem,) = caught.value.problems
    assert problem.startswith("test.toml: not valid TOML: ")
    assert isinstance(caught.value.__cause__, ValueError)


def test_duplicate_toml_keys_are_refused() -> None:
    text = render(BASE) + "[sia_dcs]\nBA = 300\n"
    with pytest.raises(TaxonomyError, match="not valid TOML"):
        parse_taxonomy(text, source=SOURCE)


def test_load_taxonomy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(render(BASE), encoding="utf-8")
    assert load_taxonomy(path) == parse_taxonomy(render(BASE), source=str(path))
    assert check_taxonomy_file(path) == []


def test_load_taxonomy_names_the_file_in_problems(tmp_path: Path) -> None:
    document = copy.deepcopy(BASE)
    add_type(basis="protest")(document)
    path = tmp_path / "site.toml"
    path.write_text(render(document), encoding="utf-8")
    problems = check_taxonomy_file(path)
    assert problems == [f'{path}: type 305 "Glass break": basis "protest" is not one of: {BASES}']


def test_missing_file_is_a_taxonomy_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}: cannot be read: ")
    assert check_taxonomy_file(path) == [problem]


def test_file_that_is_not_utf8_is_a_taxonomy_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'version = "\xe9"\n')
    with pytest.raises(TaxonomyError, match="cannot be read"):
        load_taxonomy(path)

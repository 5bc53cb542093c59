"""The shipped catalogue: complete mappings, restores, the ethics line, classification."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.core.alarm_types import (
    UNCLASSIFIED_SIGNAL,
    UNREGISTERED_TRANSMITTER,
    Basis,
    CodeSystem,
    SourceCode,
    Taxonomy,
)
from watchfloor.taxonomy import SHIPPED_TAXONOMY, check_taxonomy_file, load_taxonomy

CODES = Path(__file__).parents[1] / "data" / "codes"
CONTACT_ID_EVENTS: dict[str, dict[str, str]] = json.loads(
    (CODES / "contact_id_events.json").read_text(encoding="utf-8")
)["events"]
SIA_CODES: dict[str, dict[str, str]] = json.loads(
    (CODES / "pysiaalarm_sia_codes.json").read_text(encoding="utf-8")
)
ADM_MAPPING: dict[str, dict[str, str]] = json.loads(
    (CODES / "pysiaalarm_adm_mapping.json").read_text(encoding="utf-8")
)
SHIPPED_FILE = Path(__file__).parents[2] / "src" / "watchfloor" / "taxonomy" / SHIPPED_TAXONOMY

#: SIA codes that report the end of a condition: restorals, unbypasses, "paper in", "online",
#: "service completed", test ends, and closings (the restore of "Opening or closing", as Contact
#: ID qualifier 3 "restore or closing" has it).
SIA_RESTORES = frozenset(
    {
        # restorals
        "AN", "AR", "BE", "BH", "BJ", "BR", "DH", "DR", "EJ", "EN", "ER", "FH", "FJ", "FQ",
        "FR", "FV", "GH", "GJ", "GR", "HH", "HJ", "HR", "IR", "JC", "KH", "KJ", "KR", "LR",
        "MH", "MJ", "MR", "NR", "NS", "OV", "PH", "PJ", "PO", "PR", "QH", "QJ", "QR", "SH",
        "SJ", "SR", "TH", "TJ", "TR", "UH", "UJ", "UR", "VI", "VR", "VY", "WH", "WJ", "WR",
        "XC", "XH", "XJ", "XR", "YE", "YH", "YJ", "YK", "YQ", "YR", "YZ", "ZH", "ZJ", "ZR",
        # unbypasses
        "BU", "FU", "GU", "HU", "KU", "MU", "PU", "QU", "SU", "TU", "UU", "WU", "ZU",
        # ends of a test
        "FK", "TE",
        # closings (arming)
        "AF", "CA", "CF", "CG", "CJ", "CK", "CL", "CP", "CQ", "CS", "CW", "CZ", "NB", "NF",
        "NL", "NM",
    }
)  # fmt: skip

#: Where this taxonomy deliberately differs from pysiaalarm's Contact ID -> SIA table (the SIA
#: code for qualifier 1 maps to another type), and why. A new difference must be added here.
ADM_DEVIATIONS = {
    "113": "DC-05 113 is sprinkler water flow, a fire alarm, not a flood",
    "121": "duress is refined from hold-up (SIA has only HA for both)",
    "124": "duress is refined from hold-up (SIA has only HA for both)",
    "125": "duress is refined from hold-up (SIA has only HA for both)",
    "139": "intrusion verifier means a confirmed intrusion (SIA BV), not a plain BA",
    "146": "silent burglary is a burglary (DC-05 burglary group), not a hold-up",
    "158": "environmental high temperature is not a heat detector's fire alarm (KA)",
    "162": "carbon monoxide is refined from gas (SIA has only GA for both)",
    "306": "programming changed is a parameter change (SIA YG), not service required",
    "320": "32x are sounder/relay troubles in DC-05, not relay state changes (RC/RO)",
    "321": "bell trouble is a siren fault (SIA YA), not generic service required",
    "322": "bell trouble is a siren fault (SIA YA), not generic service required",
    "323": "32x are sounder/relay troubles in DC-05, not relay state changes (RC/RO)",
    "324": "32x are sounder/relay troubles in DC-05, not relay state changes (RC/RO)",
    "325": "32x are sounder/relay troubles in DC-05, not relay state changes (RC/RO)",
    "341": "a keypad cover tamper is a tamper (SIA TA/ES), not an expansion trouble",
    "342": "an expansion module's AC loss is a mains failure (SIA AT)",
    "344": "RF jamming is radio jamming (SIA XQ), not a communication failure",
    "381": "loss of RF supervision is a missing device (SIA UY/EM)",
    "382": "loss of wired supervision is a missing device (SIA UY/EM)",
    "393": "'clean me' is a smoke detector needing service (SIA AS), a fire system fault",
    "414": "system shutdown stops the panel reporting; it is no battery trouble (YT)",
    "461": "wrong code entry is sent after repeated wrong codes: a code tamper (SIA JA)",
}

#: Whole words that no alarm type name or category may contain (the ethics line, DESIGN.md).
FORBIDDEN = re.compile(
    r"protest|assembl|demonstrat|procession|petition|religio|ethnic|politic|face|racial|faith",
    re.IGNORECASE,
)

LOG_ONLY_TYPES = frozenset({170, 705, 800, 810, 820, 830, 840, 845, 870})


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def classify_code(taxonomy: Taxonomy, system: CodeSystem, code: str) -> tuple[int, bool]:
    result = taxonomy.classify(SourceCode(system=system, code=code))
    return result.alarm_type.code, result.restore


def test_shipped_file_is_valid_and_versioned(taxonomy: Taxonomy) -> None:
    assert check_taxonomy_file(SHIPPED_FILE) == []
    assert taxonomy.version == "0.1"
    assert load_taxonomy(SHIPPED_FILE) == taxonomy


def test_shipped_tables_are_read_only(taxonomy: Taxonomy) -> None:
    assert isinstance(taxonomy.types, MappingProxyType)
    assert isinstance(taxonomy.mappings, MappingProxyType)


def test_shipped_types_are_sorted_by_code(taxonomy: Taxonomy) -> None:
    assert list(taxonomy.types) == sorted(taxonomy.types)
    assert all(code == t.code for code, t in taxonomy.types.items())


@pytest.mark.parametrize("code", sorted(CONTACT_ID_EVENTS))
def test_every_contact_id_event_is_mapped(taxonomy: Taxonomy, code: str) -> None:
    type_code, restore = classify_code(taxonomy, CodeSystem.CONTACT_ID, code)
    assert type_code != UNCLASSIFIED_SIGNAL
    # The qualifier says restore for Contact ID, never the event code.
    assert not restore


@pytest.mark.parametrize("code", sorted(SIA_CODES))
def test_every_sia_code_is_mapped(taxonomy: Taxonomy, code: str) -> None:
    type_code, _ = classify_code(taxonomy, CodeSystem.SIA_DCS, code)
    assert type_code != UNCLASSIFIED_SIGNAL


@pytest.mark.parametrize("code", sorted(SIA_CODES))
def test_sia_restore_codes_classify_as_restore(taxonomy: Taxonomy, code: str) -> None:
    _, restore = classify_code(taxonomy, CodeSystem.SIA_DCS, code)
    assert restore is (code in SIA_RESTORES)


def test_sia_codes_described_as_restores_are_restores() -> None:
    described = {
        code
        for code, entry in SIA_CODES.items()
        if re.search(r"restor|unbypass|test end|closing", entry["type"], re.IGNORECASE)
    }
    # Named after closings but no closing: CM and CR are alarms soon after arming, CD (closing
    # delinquent) says the site was *not* armed, CE (closing extend) moves the schedule.
    assert described - {"CM", "CR", "CD", "CE"} <= SIA_RESTORES
    assert set(SIA_RESTORES) <= set(SIA_CODES)


def test_restore_codes_restore_the_type_of_their_alarm(taxonomy: Taxonomy) -> None:
    pairs = {"BA": "BH", "FA": "FH", "AT": "AR", "PA": "PH", "HA": "HH", "MA": "MH", "TA": "TR"}
    for alarm, restore in pairs.items():
        assert classify_code(taxonomy, CodeSystem.SIA_DCS, alarm) == (
            classify_code(taxonomy, CodeSystem.SIA_DCS, restore)[0],
            False,
        )
        assert classify_code(taxonomy, CodeSystem.SIA_DCS, restore)[1]


def test_contact_id_restore_comes_from_the_message(taxonomy: Taxonomy) -> None:
    code = SourceCode(system=CodeSystem.CONTACT_ID, code="130")
    assert taxonomy.classify(code, restore=True).restore
    assert taxonomy.classify(code, restore=True).alarm_type.name == "Burglary alarm"
    assert not taxonomy.classify(code).restore


def test_mapped_restore_stays_a_restore_whatever_the_message_says(taxonomy: Taxonomy) -> None:
    assert taxonomy.classify(SourceCode(system=CodeSystem.SIA_DCS, code="BR")).restore


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (CodeSystem.CONTACT_ID, "999"),
        (CodeSystem.CONTACT_ID, "1300"),
        (CodeSystem.CONTACT_ID, ""),
        (CodeSystem.SIA_DCS, "QQ"),
        (CodeSystem.SIA_DCS, "ba"),
        (CodeSystem.SIA_DCS, "130"),
    ],
)
def test_unknown_codes_are_unclassified(taxonomy: Taxonomy, system: CodeSystem, code: str) -> None:
    assert classify_code(taxonomy, system, code) == (UNCLASSIFIED_SIGNAL, False)


def test_codes_of_one_meaning_map_alike_in_contact_id_and_sia(taxonomy: Taxonomy) -> None:
    differences = {}
    for code, sia in ADM_MAPPING.items():
        via_cid = taxonomy.classify(SourceCode(system=CodeSystem.CONTACT_ID, code=code))
        if via_cid.alarm_type.code == UNCLASSIFIED_SIGNAL:
            continue  # a Contact ID code outside DC-05's list as we know it: left unmapped
        via_sia = taxonomy.classify(SourceCode(system=CodeSystem.SIA_DCS, code=sia["1"]))
        if via_cid.alarm_type != via_sia.alarm_type:
            differences[code] = (via_cid.alarm_type.code, sia["1"], via_sia.alarm_type.code)
    assert set(differences) == set(ADM_DEVIATIONS), differences


def test_required_types_exist_and_raise_alarms(taxonomy: Taxonomy) -> None:
    unclassified = taxonomy.get(UNCLASSIFIED_SIGNAL)
    unregistered = taxonomy.get(UNREGISTERED_TRANSMITTER)
    assert unclassified.name == "Unclassified signal"
    assert unclassified.basis is Basis.EQUIPMENT_FAULT
    assert unregistered.name == "Unregistered transmitter"
    assert unregistered.basis is Basis.SUPERVISION
    assert unclassified.raises_alarm
    assert unregistered.raises_alarm


def test_extra_account_report_is_an_unregistered_transmitter(taxonomy: Taxonomy) -> None:
    assert classify_code(taxonomy, CodeSystem.SIA_DCS, "XA") == (UNREGISTERED_TRANSMITTER, False)


@pytest.mark.parametrize(
    ("sia", "name"),
    [
        ("FA", "Fire alarm"),
        ("HA", "Hold-up alarm"),
        ("PA", "Panic alarm"),
        ("MA", "Medical or personal emergency"),
        ("GA", "Gas alarm"),
        ("BA", "Burglary alarm"),
        ("BV", "Confirmed burglary alarm"),
        ("AT", "Mains power failure"),
        ("YT", "Alarm system battery fault"),
        ("VO", "Printer fault"),
        ("OP", "Opening or closing"),
        ("RP", "Test report"),
    ],
)
def test_common_sia_codes_reach_the_expected_type(taxonomy: Taxonomy, sia: str, name: str) -> None:
    assert (
        taxonomy.classify(SourceCode(system=CodeSystem.SIA_DCS, code=sia)).alarm_type.name == name
    )


def test_life_safety_types_have_top_priority(taxonomy: Taxonomy) -> None:
    for code in (110, 200, 210, 220, 225, 400, 401):
        assert taxonomy.get(code).priority == 1


def test_log_only_types_are_housekeeping(taxonomy: Taxonomy) -> None:
    log_only = {code for code, t in taxonomy.types.items() if not t.raises_alarm}
    assert log_only == LOG_ONLY_TYPES
    assert all(taxonomy.get(code).priority == 5 for code in log_only)


def test_codes_are_grouped_by_category(taxonomy: Taxonomy) -> None:
    groups = {
        1: {"fire", "fault"},
        2: {"medical", "panic"},
        3: {"intrusion", "access"},
        4: {"hazard"},
        5: {"tamper", "fault"},
        6: {"supervision"},
        7: {"video", "fire"},
        8: {"arming", "access", "maintenance", "test", "report", "call", "info", "fire"},
        9: {"other", "supervision"},
    }
    for code, alarm_type in taxonomy.types.items():
        assert alarm_type.category in groups[code // 100], alarm_type


def test_every_type_has_a_concrete_procedure(taxonomy: Taxonomy) -> None:
    for alarm_type in taxonomy.types.values():
        assert alarm_type.sop, alarm_type
        assert all(step[0].isupper() and not step.endswith(".") for step in alarm_type.sop)


def test_no_type_concerns_protest_belief_origin_or_faces(taxonomy: Taxonomy) -> None:
    for alarm_type in taxonomy.types.values():
        assert not FORBIDDEN.search(alarm_type.name), alarm_type.name
        assert not FORBIDDEN.search(alarm_type.category), alarm_type.category


def test_the_forbidden_topics_guard_catches_them() -> None:
    for name in ("Protest detected", "Face match", "Religious gathering", "Petition signing"):
        assert FORBIDDEN.search(name)


@given(system=st.sampled_from(CodeSystem), code=st.text(max_size=8), restore=st.booleans())
def test_classify_never_raises_and_returns_a_catalogued_type(
    taxonomy: Taxonomy, system: CodeSystem, code: str, restore: bool
) -> None:
    result = taxonomy.classify(SourceCode(system=system, code=code), restore=restore)
    assert taxonomy.types[result.alarm_type.code] == result.alarm_type
    assert result.restore or not restore


@given(
    system=st.sampled_from(CodeSystem),
    code=st.one_of(st.sampled_from(sorted(CONTACT_ID_EVENTS)), st.sampled_from(sorted(SIA_CODES))),
)
def test_classify_of_known_codes_returns_a_catalogued_type(
    taxonomy: Taxonomy, system: CodeSystem, code: str
) -> None:
    result = taxonomy.classify(SourceCode(system=system, code=code))
    assert result.alarm_type in taxonomy.types.values()


@pytest.mark.parametrize(
    ("condition", "code", "basis"),
    [
        ("failed_to_close", 806, "supervision"),
        ("late_to_open", 807, "supervision"),
        ("unexpected_opening", 808, "intrusion"),
    ],
)
def test_open_close_supervision_conditions_raise_their_types(
    taxonomy: Taxonomy, condition: str, code: int, basis: str
) -> None:
    result = taxonomy.classify(SourceCode(system=CodeSystem.SUPERVISION, code=condition))
    assert (result.alarm_type.code, result.alarm_type.basis.value) == (code, basis)
    assert result.alarm_type.raises_alarm
    restored = taxonomy.classify(
        SourceCode(system=CodeSystem.SUPERVISION, code=condition), restore=True
    )
    assert restored.restore

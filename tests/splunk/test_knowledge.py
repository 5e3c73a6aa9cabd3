"""The add-on's search-time knowledge, applied the way Splunk applies it, yields the fields of to_cim in every form.

Splunk is not available here, so the search-time pipeline is replayed: REPORT regexes (and the regexes of the
EVALs' match/replace) run with PCRE2 itself, the engine Splunk uses, through the `pcre2` bindings; a
field keeps its first value (MV_ADD = false), calculated fields are evaluated in parallel against the fields
as extracted (beside Splunk_TA_windows, its EVALs of the same fields are applied too and win), then the
lookups: win4658_copy (OUTPUT, overwriting) on events that have its match field, the OUTPUTNEW lookup where a
field is still missing. The EVALs are evaluated by a small
evaluator of exactly the documented SPL functions (win4658.splunk.spl.SPL_FUNCTIONS).
"""

import os
import re as stdlib_re

import pcre2
import pytest

from tests.support.paths import ROOT, unshipped_reference
from tests.support.sample import CIM_FIELDS, CLASSIC_SAMPLE, EXPECTED_CIM, sample_event
from tests.support.spl_eval import (
    COPY_LOOKUPS,
    FUNCTIONS,
    PROPS,
    TRANSFORMS,
    SplExpression,
    comparable_fields,
    expected_fields,
    format_pairs,
    lookup_rows,
    read_conf,
    search_time_fields,
)
from tests.support.spl_search import BaseSearch
from win4658.event import Event, Origin
from win4658.generate import generated_files
from win4658.mapping import bundled
from win4658.readers.classic import parse_classic
from win4658.readers.jsonlines import document_to_event
from win4658.splunk import knowledge
from win4658.splunk.runtime.render import render_event_xml
from win4658.splunk.spl import SPL_FUNCTIONS
from win4658.winlogbeat import to_winlogbeat

FAMILY = frozenset({4656, 4658, 4663, 4690})
# The sample's CIM fields as the search-time knowledge gives them: as to_cim's, the event code as text.
SAMPLE_CIM = {
    field: str(EXPECTED_CIM[field]) if field == "signature_id" else EXPECTED_CIM[field] for field in CIM_FIELDS
}


def test_the_evaluator_knows_exactly_the_documented_functions():
    assert set(FUNCTIONS) == SPL_FUNCTIONS


@pytest.mark.parametrize(
    "expression, fields, expected",
    [
        ('if(match(p,"^0[xX]"), tonumber(substr(p,3),16), tonumber(p))', {"p": "0xef0"}, 3824),
        ('if(match(p,"^0[xX]"), tonumber(substr(p,3),16), tonumber(p))', {"p": "4"}, 4),
        (
            'replace(replace(p,"[\\\\\\\\/]+$",""),"^.*[\\\\\\\\/]","")',
            {"p": "C:\\Windows\\explorer.exe"},
            "explorer.exe",
        ),
        ('replace(replace(p,"[\\\\\\\\/]+$",""),"^.*[\\\\\\\\/]","")', {"p": "C:\\Temp\\dir\\"}, "dir"),
        ('replace(replace(p,"[\\\\\\\\/]+$",""),"^.*[\\\\\\\\/]","")', {"p": "tool.exe"}, "tool.exe"),
        ('case(k=="a", "x", true(), k)', {"k": "b"}, "b"),
        ('case(k=="a", "x")', {"k": "b"}, None),
        ('if(isnull(k) OR k=="" OR k=="-", null(), k)', {"k": "-"}, None),
        ('if(isnull(k) OR k=="" OR k=="-", null(), k)', {}, None),
        ('in(c,"4656","4658")', {"c": "4658"}, True),
    ],
)
def test_spl_functions_behave_as_documented(expression, fields, expected):
    assert SplExpression(expression).evaluate(fields) == expected


# --- the conf files as Splunk reads them ---------------------------------------------------------------------
def _splunk_ta_windows_note():
    return unshipped_reference(
        "splunk", "splunk_ta_windows_4658.md", why="it lists the props of Splunk_TA_windows, Splunk's own files"
    )


@pytest.mark.parametrize("channel", knowledge.CHANNELS)
def test_sample_as_xmlwineventlog_has_the_cim_fields(channel):
    fields = search_time_fields(render_event_xml(sample_event()), "XmlWinEventLog", f"XmlWinEventLog:{channel}")
    assert {field: fields.get(field) for field in SAMPLE_CIM} == SAMPLE_CIM
    assert comparable_fields(fields) == expected_fields(sample_event())


@pytest.mark.parametrize("channel", knowledge.CHANNELS)
def test_sample_as_classic_wineventlog_has_the_cim_fields(channel):
    fields = search_time_fields(CLASSIC_SAMPLE, "WinEventLog", f"WinEventLog:{channel}")
    expected = dict(SAMPLE_CIM, session_id="0x4367B")
    assert {field: fields.get(field) for field in SAMPLE_CIM} == expected
    event = parse_classic(CLASSIC_SAMPLE.splitlines(), Origin("classic", 1))
    assert comparable_fields(fields) == expected_fields(event)


def test_sample_through_winlogbeat_json_and_our_input_has_the_same_fields():
    document = to_winlogbeat(sample_event())
    event = document_to_event(document, Origin("winlogbeat", 1), FAMILY)
    fields = search_time_fields(render_event_xml(event), "XmlWinEventLog", "XmlWinEventLog:Security")
    assert {field: fields.get(field) for field in SAMPLE_CIM} == SAMPLE_CIM


@pytest.mark.parametrize("channel", knowledge.CHANNELS)
def test_every_corpus_event_rendered_for_splunk_has_the_fields_of_to_cim(corpus_events, channel):
    compared = 0
    for event in corpus_events:
        fields = search_time_fields(render_event_xml(event), "XmlWinEventLog", f"XmlWinEventLog:{channel}")
        assert comparable_fields(fields) == expected_fields(event), event
        compared += 1
    assert compared == 5419 + 2523 + 2134


@pytest.mark.parametrize("channel", knowledge.CHANNELS)
def test_every_corpus_event_beside_the_windows_ta_has_the_fields_of_to_cim(corpus_events, channel):
    """Whatever the TA's EVALs give, each field we calculate ends with our value; where ours is absent theirs stays."""
    contested = {rule.target for rule in knowledge.eval_rules(bundled("cim"))} & knowledge.WINDOWS_TA_EVALS
    theirs = {field: "their value" for field in contested}
    for event in corpus_events:
        fields = search_time_fields(
            render_event_xml(event), "XmlWinEventLog", f"XmlWinEventLog:{channel}", windows_ta_evals=theirs
        )
        expected = expected_fields(event)
        expected.update({field: "their value" for field in contested if field not in expected})
        assert comparable_fields(fields) == expected, event


def test_other_event_codes_keep_their_fields():
    other = render_event_xml(
        Event(dict(sample_event().system, EventID=4624), dict(sample_event().data), Origin("x", 1))
    )
    existing = {"process_id": "0xef0", "process_name": "C:\\Windows\\explorer.exe", "user": "someone", "action": "kept"}
    fields = search_time_fields(other, "XmlWinEventLog", "XmlWinEventLog:Security", existing)
    assert fields == dict(existing, EventCode="4624")


def test_evals_use_only_documented_functions():
    used = set()
    for stanza in knowledge.SOURCE_STANZAS:
        for attribute, expression in PROPS.items(stanza):
            if attribute.startswith("EVAL-"):
                used |= SplExpression(expression).functions
    assert used <= SPL_FUNCTIONS
    assert {"if", "in", "tonumber", "replace", "case"} <= used


def test_no_attribute_collides_with_splunk_ta_windows():
    note = open(_splunk_ta_windows_note(), encoding="utf-8").read()
    theirs = {}
    for stanza, names in stdlib_re.findall(r"- `\[([^\]]+)\]`: (.*?)(?=\n- `\[|\n- The add-on|\Z)", note, stdlib_re.S):
        theirs[stanza] = set(stdlib_re.findall(r"`([A-Za-z]+-[^`]+|KV_MODE)`", names))
    assert len(theirs["XmlWinEventLog"]) == 13 and "EVAL-process_id" in theirs["source::XmlWinEventLog:Security"]
    for stanza in PROPS.sections():
        assert not set(PROPS.options(stanza)) & theirs.get(stanza, set()), stanza
    for stanza in PROPS.sections():
        for attribute in PROPS.options(stanza):
            assert attribute.startswith("EVAL-") or "win4658" in attribute, attribute


def test_eventtypes_and_tags_keep_the_windows_add_on_tags():
    eventtypes = read_conf(knowledge.eventtypes_conf())
    tags = read_conf(knowledge.tags_conf())
    assert eventtypes.get("win4658_handle_closed", "search").endswith("EventCode=4658")
    assert set(tags.options("eventtype=win4658_handle_closed")) == {"resource", "file", "access", "stop"}
    assert set(tags.options("eventtype=win4658_handle_requested")) == {"resource", "file", "access", "start"}
    assert all(value == "enabled" for section in tags.sections() for _name, value in tags.items(section))


def test_events_macro_is_contributed():
    macros = knowledge.splunk_macros()
    assert len(macros) == 1 and macros[0].startswith("[win4658_events]\ndefinition = index=* ")


def test_forwarded_events_get_the_same_knowledge_as_the_security_channel():
    security, forwarded = (PROPS.items(stanza) for stanza in knowledge.SOURCE_STANZAS)
    assert forwarded == security and len(security) == 26
    assert knowledge.SOURCE_STANZAS == ("source::*WinEventLog:Security", "source::*WinEventLog:ForwardedEvents")


SOURCES = [
    ("XmlWinEventLog", "XmlWinEventLog:Security"),
    ("WinEventLog", "WinEventLog:Security"),
    ("XmlWinEventLog", "XmlWinEventLog:ForwardedEvents"),
    ("WinEventLog", "WinEventLog:ForwardedEvents"),
]
ELSEWHERE = [
    ("XmlWinEventLog", "XmlWinEventLog:System"),
    ("WinEventLog", "WinEventLog:Application"),
    ("XmlWinEventLog:ForwardedEvents", "XmlWinEventLog:ForwardedEvents"),
    ("xmlwineventlog", "wec.log"),
]


def _sample_in(sourcetype, source, event_code="4658"):
    raw = CLASSIC_SAMPLE if sourcetype == "WinEventLog" else render_event_xml(sample_event())
    raw = raw.replace(">4658<", f">{event_code}<").replace("EventCode=4658", f"EventCode={event_code}")
    fields = (
        search_time_fields(raw, sourcetype, source) if (sourcetype, source) in SOURCES else {"EventCode": event_code}
    )
    return dict(fields, index="wineventlog", sourcetype=sourcetype, source=source, host="DC01")


@pytest.mark.parametrize("sourcetype, source", SOURCES)
def test_the_events_macro_and_eventtypes_select_the_sample_from_each_source(sourcetype, source):
    eventtypes = read_conf(knowledge.eventtypes_conf())
    fields = _sample_in(sourcetype, source)
    assert BaseSearch("`win4658_events`").matches(fields)
    matched = [name for name in eventtypes.sections() if BaseSearch(eventtypes.get(name, "search")).matches(fields)]
    assert matched == ["win4658_handle_closed"]
    for code, eventtype in ((4656, "win4658_handle_requested"), (4663, "win4658_object_access"), (4624, None)):
        fields = _sample_in(sourcetype, source, str(code))
        assert [
            name for name in eventtypes.sections() if BaseSearch(eventtypes.get(name, "search")).matches(fields)
        ] == ([eventtype] if eventtype else [])


@pytest.mark.parametrize("sourcetype, source", ELSEWHERE)
def test_the_events_macro_leaves_other_channels_and_sourcetypes(sourcetype, source):
    assert not BaseSearch("`win4658_events`").matches(_sample_in(sourcetype, source))


def test_lookup_rows_are_what_the_normalizer_computes():
    rows = {row["EventCode"]: row for row in lookup_rows()}
    assert set(rows) == {str(code) for code in bundled("cim").event_ids}
    assert rows["4658"]["signature"] == "The handle to an object was closed"
    assert rows["4658"]["vendor_product"] == "Microsoft Windows"


def test_generated_conf_files_exist_in_the_addon():
    for relative in generated_files(ROOT):
        if relative.startswith("addon/"):
            assert os.path.exists(os.path.join(ROOT, relative)), f"{relative}: run `win4658 generate`"


SAMPLE_EVENT_DATA = {
    "SubjectUserSid": "S-1-5-21-3457937927-2839227994-823803824-1104",
    "SubjectUserName": "dadmin",
    "SubjectDomainName": "CONTOSO",
    "SubjectLogonId": "0x4367b",
    "ObjectServer": "Security",
    "HandleId": "0x18a8",
    "ProcessId": "0xef0",
    "ProcessName": "C:\\Windows\\explorer.exe",
}
XML_EXTRACTIONS = {
    "win4658_xml_event_code": {"EventCode": "4658"},
    "win4658_xml_Computer": {"Computer": "DC01.contoso.local"},
    "win4658_xml_Keywords": {"Keywords": "0x8020000000000000"},
    "win4658_xml_event_data": SAMPLE_EVENT_DATA,
}
CLASSIC_EXTRACTIONS = {
    "win4658_classic_event_code": {"EventCode": "4658"},
    "win4658_classic_Computer": {"Computer": "DC01.contoso.local"},
    "win4658_classic_Keywords": {"Keywords": "Audit Success"},
    **{
        f"win4658_classic_{name}": {name: value if name != "SubjectLogonId" else "0x4367B"}
        for name, value in SAMPLE_EVENT_DATA.items()
    },
    # labels of 4656 / 4663 / 4690 that the 4658 sample does not have
    **{
        f"win4658_classic_{name}": {}
        for name in (
            "ObjectType",
            "ObjectName",
            "ResourceAttributes",
            "TransactionId",
            "AccessList",
            "AccessReason",
            "AccessMask",
            "PrivilegeList",
            "RestrictedSidCount",
            "SourceHandleId",
            "SourceProcessId",
            "TargetHandleId",
            "TargetProcessId",
        )
    },
}


def _one_transform(name, raw):
    pattern = pcre2.compile(TRANSFORMS.get(name, "REGEX"))
    fmt = TRANSFORMS.get(name, "FORMAT", fallback="")
    fields = {}
    for match in pattern.finditer(raw):
        for field, value in format_pairs(match, fmt) if fmt else match.groupdict().items():
            fields.setdefault(field, value)
    return fields


@pytest.mark.parametrize("name", sorted(XML_EXTRACTIONS))
def test_each_xml_regex_on_the_sample(name):
    assert _one_transform(name, render_event_xml(sample_event())) == XML_EXTRACTIONS[name]


@pytest.mark.parametrize("name", sorted(CLASSIC_EXTRACTIONS))
def test_each_classic_regex_on_the_sample(name):
    assert _one_transform(name, CLASSIC_SAMPLE) == CLASSIC_EXTRACTIONS[name]
    assert _one_transform(name, CLASSIC_SAMPLE.replace("\n", "\r\n")) == CLASSIC_EXTRACTIONS[name]


def test_every_transform_of_ours_is_covered_and_used():
    ours = {
        name for name in TRANSFORMS.sections() if name.startswith("win4658_") and TRANSFORMS.has_option(name, "REGEX")
    }
    assert ours == set(XML_EXTRACTIONS) | set(CLASSIC_EXTRACTIONS)
    reported = {
        part.strip()
        for stanza in PROPS.sections()
        for attribute, value in PROPS.items(stanza)
        if attribute.startswith("REPORT-")
        for part in value.split(",")
    }
    assert reported == ours


@pytest.mark.parametrize("name", ["win4658_xml_Computer", "win4658_xml_Keywords", "win4658_xml_event_data"])
def test_xml_regexes_leave_other_event_codes_alone(name):
    other = render_event_xml(
        Event(dict(sample_event().system, EventID=4624), dict(sample_event().data), Origin("x", 1))
    )
    assert _one_transform(name, other) == {}


def _windows_ta_source_stanza_evals():
    note = open(_splunk_ta_windows_note(), encoding="utf-8").read()
    source_stanza = note.split("- `[source::XmlWinEventLog:Security]`:", 1)[1].split("\n- ", 1)[0]
    return set(stdlib_re.findall(r"`EVAL-([A-Za-z_]+)`", source_stanza))


def test_the_windows_ta_evals_known_to_the_generator_are_the_documented_ones():
    assert knowledge.WINDOWS_TA_EVALS == _windows_ta_source_stanza_evals()


def test_fields_the_windows_ta_calculates_are_ours_through_the_copy_lookup():
    """Our pattern source stanza (priority 0) would lose to the TA's literal one (100) for the same EVAL."""
    theirs = _windows_ta_source_stanza_evals()
    for stanza in knowledge.SOURCE_STANZAS:
        ours = {attribute[5:] for attribute in PROPS.options(stanza) if attribute.startswith("EVAL-")}
        assert not ours & theirs
        copied = {output for _attribute, _match, output in COPY_LOOKUPS[stanza]}
        assert copied == {
            "process",
            "process_path",
            "process_id",
            "process_exec",
            "process_name",
            "user",
            "src_user",
            "action",
        }
        assert all(
            match == f"win4658_{output}" and f"win4658_{output}" in ours for _a, match, output in COPY_LOOKUPS[stanza]
        )
    by_lookup = {rule.target for rule in knowledge.lookup_rules(bundled("cim"))}
    assert by_lookup & theirs == {"vendor", "product"}  # OUTPUTNEW: the TA's values, which are the same text


# What Splunk_TA_windows's EVALs give the sample (the reference note's table): they win the EVAL phase.
WINDOWS_TA_SAMPLE_EVALS = {
    "process_id": "0xef0",
    "process_name": "C:\\Windows\\explorer.exe",
    "process_exec": "C:\\Windows\\explorer.exe",
    "process_path": "C:\\Windows\\explorer.exe",
    "process": "C:\\Windows\\explorer.exe",
    "user": None,
    "src_user": "dadmin",
    "action": "success",
    "vendor": "Microsoft",
    "product": "Windows",
}


def test_beside_the_windows_ta_the_sample_still_has_our_cim_fields():
    fields = search_time_fields(
        render_event_xml(sample_event()),
        "XmlWinEventLog",
        "XmlWinEventLog:Security",
        windows_ta_evals=WINDOWS_TA_SAMPLE_EVALS,
    )
    assert {field: fields.get(field) for field in SAMPLE_CIM} == SAMPLE_CIM
    classic = search_time_fields(
        CLASSIC_SAMPLE, "WinEventLog", "WinEventLog:Security", windows_ta_evals=WINDOWS_TA_SAMPLE_EVALS
    )
    assert {field: classic.get(field) for field in SAMPLE_CIM} == dict(SAMPLE_CIM, session_id="0x4367B")


def test_beside_the_windows_ta_other_event_codes_keep_the_ta_values():
    other = render_event_xml(
        Event(dict(sample_event().system, EventID=4624), dict(sample_event().data), Origin("x", 1))
    )
    theirs = {field: value for field, value in WINDOWS_TA_SAMPLE_EVALS.items() if value is not None}
    fields = search_time_fields(other, "XmlWinEventLog", "XmlWinEventLog:Security", windows_ta_evals=theirs)
    assert fields == dict(theirs, EventCode="4624")


def test_beside_the_windows_ta_an_absent_value_of_ours_leaves_the_ta_value():
    """No match field, no lookup: an event whose ProcessName is "-" keeps what the TA gave (OUTPUT only runs on
    events that have the match field)."""
    event = sample_event()
    dashed = Event(dict(event.system), dict(event.data, ProcessName="-"), Origin("x", 1))
    fields = search_time_fields(
        render_event_xml(dashed), "XmlWinEventLog", "XmlWinEventLog:Security", windows_ta_evals={"process_name": "-"}
    )
    assert fields["process_name"] == "-" and fields["process_id"] == 3824

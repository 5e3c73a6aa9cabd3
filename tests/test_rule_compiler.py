"""The compiled mapping (rule_compiler.py) gives exactly what the mapping applied rule by rule gives: the same
documents on the corpus and on edge cases, the same errors; memos stay bounded and documents share nothing."""

import orjson
import pytest

from tests.support.outcome import outcome
from win4658.event import Event, Origin, TimedEvent
from win4658.mapping import Mapping, MappingError, bundled
from win4658.windows import LARGEST_NUMBER


@pytest.mark.parametrize("name", ["ecs", "cim"])
def test_compiled_mapping_equals_rule_by_rule_on_the_corpus(name, corpus_events):
    mapping = bundled(name)
    for event in corpus_events:
        # byte-equal serializations: same values, same nesting, same key order
        assert orjson.dumps(mapping.apply(event)) == orjson.dumps(mapping.apply_rule_by_rule(event))


EDGE_SPEC = {
    "event_ids": [4658],
    "tables": {"names": {4658: "closed", "0x1": "one"}, "lists": {4658: ["a", "b"]}},
    "fields": [
        {"target": "a.b", "source": "EventData.First"},
        {"target": "a", "source": "EventData.Replace"},  # replaces the object a.b was written into
        {"target": "a.c.d", "source": "EventData.First", "transform": "lowercase"},
        {"target": "constant.list", "value": ["x", "y"]},
        {"target": "constant.empty", "value": ""},
        {"target": "name", "source": "System.EventID", "transform": "lookup", "table": "names"},
        {"target": "kept", "source": "EventData.Code", "transform": "lookup", "table": "names", "unmatched": "keep"},
        {"target": "listed", "source": "System.EventID", "transform": "lookup_list", "table": "lists"},
        {"target": "number", "source": "EventData.Number", "transform": "hex_to_int"},
        {"target": "@timestamp.ignored", "source": "System.TimeCreated"},
        {"target": "", "source": "EventData", "transform": "all_fields"},
        {"target": "First.after", "source": "EventData.Code"},
    ],
}


def _edge_event(**data: str) -> Event:
    return Event({"EventID": 4658, "TimeCreated": "2026-01-01T00:00:00Z"}, data, Origin("edge", 1))


@pytest.mark.parametrize(
    "data",
    [
        {"First": "Value", "Replace": "scalar", "Code": "0x1", "Number": "0x10"},
        {"First": "-", "Replace": "", "Code": "0x2", "Number": "16"},
        {"First": "Only"},
        {"Replace": "r", "Code": "-", "Other": "o"},
    ],
)
def test_compiled_mapping_equals_rule_by_rule_on_edge_cases(data):
    mapping = Mapping(EDGE_SPEC)
    for _ in range(2):  # the second time through, conversions come from the memo
        event = _edge_event(**data)
        assert outcome(mapping.apply, event) == outcome(mapping.apply_rule_by_rule, event)


def test_edge_cases_cover_a_result_and_a_collision():
    mapping = Mapping(EDGE_SPEC)
    assert outcome(mapping.apply, _edge_event(First="Value", Replace="scalar")) == (
        "error",
        "AttributeError",
        "'str' object has no attribute 'setdefault'",
    )
    assert mapping.apply(_edge_event(Replace="r", Code="-", Other="o")) == {
        "a": "r",
        "constant": {"list": ["x", "y"], "empty": ""},
        "name": "closed",
        "listed": [["a", "b"]],
        "@timestamp": "2026-01-01T00:00:00Z",
        "Replace": "r",
        "Other": "o",
    }


# A mapping the compiler takes: every kind of rule, nested objects present or not, a top-level merge last.
COMPILED_SPEC = {
    "event_ids": [4658],
    "tables": {"names": {4658: "closed", "0x1": "one", "True": "text true"}, "lists": {4658: ["a", "b"]}},
    "fields": [
        {"target": "@timestamp.ignored", "source": "System.TimeCreated"},
        {"target": "constant.list", "value": ["x", "y"]},
        {"target": "constant.empty", "value": ""},
        {"target": "constant.none", "value": None},
        {"target": "constant.named", "value": "0x1", "transform": "lookup", "table": "names"},
        {"target": "event.code", "source": "System.EventID", "transform": "to_string"},
        {"target": "event.name", "source": "System.EventID", "transform": "lookup", "table": "names"},
        {"target": "event.listed", "source": "System.EventID", "transform": "lookup_list", "table": "lists"},
        {"target": "event.code", "source": "EventData.Code"},  # the same target again
        {"target": "kept", "source": "EventData.Code", "transform": "lookup", "table": "names", "unmatched": "keep"},
        {"target": "deep.a.b.c", "source": "EventData.Code", "transform": "lowercase"},
        {"target": "deep.a.d", "source": "EventData.Number", "transform": "hex_to_int"},
        {"target": "deep.e", "source": "EventData.Number", "transform": "to_string"},
        {"target": "deep.f", "source": "EventData.Number", "transform": "as_list"},
        {"target": "record", "source": "System.EventRecordID", "transform": "to_string"},
        {"target": "number", "source": "EventData.Number", "transform": "to_int"},
        {"target": "raw", "source": "EventData"},
        {"target": "", "source": "EventData", "transform": "all_fields"},
    ],
}


COMPILED_EDGE_CASES = [
    ({"EventRecordID": 7}, {"Code": "0x1", "Number": "0x10", "Other": "o"}),
    ({"EventRecordID": "7"}, {"Code": "0X1", "Number": "16", "Other": "-"}),
    ({"EventRecordID": "-"}, {"Code": "-", "Number": "", "Other": ""}),
    ({"EventID": "4658"}, {"Code": 1, "Number": 1}),
    ({"EventID": True}, {"Code": True, "Number": True}),  # True == 1: remembered apart from 1
    ({"EventID": 4658.0}, {"Code": ["0x1", "0x2"], "Number": 1.0}),  # a list cannot be remembered
    ({"EventID": ["4658"]}, {"Code": None, "Number": None}),
    ({"EventID": None, "TimeCreated": "-"}, {}),
    ({"EventID": 4658}, {"Number": "0xzz"}),  # a conversion error: the rule-by-rule error
]


def test_compiled_mapping_equals_rule_by_rule_on_compiled_edge_cases():
    mapping = Mapping(COMPILED_SPEC)
    assert mapping.apply != mapping.apply_rule_by_rule
    for _ in range(2):  # the second time through, conversions come from the memo
        for system, data in COMPILED_EDGE_CASES:
            event = Event({"EventID": 4658, "TimeCreated": "t", **system}, dict(data), Origin("edge", 1))
            assert outcome(mapping.apply, event) == outcome(mapping.apply_rule_by_rule, event), (system, data)


def test_compiled_edge_cases_cover_nesting_and_absence():
    mapping = Mapping(COMPILED_SPEC)
    event = Event(
        {"EventID": 4658, "TimeCreated": "t", "EventRecordID": 7}, {"Code": "0x1", "Number": "16"}, Origin("edge", 1)
    )
    assert mapping.apply(event) == {
        "@timestamp": "t",
        "constant": {"list": ["x", "y"], "empty": "", "named": "one"},
        "event": {"code": "0x1", "name": "closed", "listed": [["a", "b"]]},
        "kept": "one",
        "deep": {"a": {"b": {"c": "0x1"}, "d": 16}, "e": "16", "f": ["16"]},
        "record": "7",
        "number": 16,
        "raw": {"Code": "0x1", "Number": "16"},
        "Code": "0x1",
        "Number": "16",
    }
    absent = Event({"EventID": 1}, {"Code": "-"}, Origin("edge", 2))
    assert mapping.apply(absent) == {
        "constant": {"list": ["x", "y"], "empty": "", "named": "one"},
        "event": {"code": "1"},
        "raw": {"Code": "-"},
    }


@pytest.mark.parametrize(
    "fields",
    [
        [
            {"target": "a.b", "source": "EventData.A"},
            {"target": "c", "source": "EventData.C"},
            {"target": "a.d", "source": "EventData.D"},
        ],  # a's rules not contiguous: its place depends on which are present
        [
            {"target": "a", "source": "EventData.A"},
            {"target": "a.b", "source": "EventData.B"},
        ],  # a target inside a value
        [{"target": "", "source": "EventData", "transform": "all_fields"}, {"target": "c", "source": "EventData.C"}],
    ],
)
def test_mappings_the_compiler_cannot_order_are_applied_rule_by_rule(fields):
    mapping = Mapping({"event_ids": [4658], "fields": fields})
    assert mapping.apply == mapping.apply_rule_by_rule


@pytest.mark.parametrize("name", ["ecs", "cim"])
def test_bundled_mappings_are_compiled(name):
    mapping = bundled(name)
    assert mapping.apply != mapping.apply_rule_by_rule


def test_compiled_memos_stay_bounded():
    from win4658.rule_compiler import MEMO_LIMIT

    mapping = Mapping(COMPILED_SPEC)
    for number in range(MEMO_LIMIT + 100):
        mapping.apply(Event({"EventID": number}, {"Code": f"0x{number:x}", "Number": str(number)}, Origin("memo", 1)))
    memos = [value for name, value in mapping.apply.__globals__.items() if name.startswith("memo_")]
    assert len(memos) == 3 and all(len(memo) == MEMO_LIMIT for memo in memos)


def test_compiled_documents_do_not_share_the_event_data_or_lists():
    mapping = bundled("ecs")
    event = Event(
        {"EventID": 4658, "Keywords": "0x8020000000000000"},
        {"SubjectUserName": "u", "HandleId": "0x1"},
        Origin("fresh", 1),
    )
    first, second = mapping.apply(event), mapping.apply(event)
    assert first["winlog"]["event_data"] is not event.data and first["related"]["user"] is not second["related"]["user"]
    # a remembered list (the lookup of Keywords) is copied for each document
    assert first["winlog"]["keywords"] == second["winlog"]["keywords"] == ["Audit Success"]
    first["winlog"]["keywords"].append("changed")
    assert second["winlog"]["keywords"] is not first["winlog"]["keywords"]
    assert mapping.apply(event)["winlog"]["keywords"] == ["Audit Success"]


def test_record_numbers_are_not_remembered():
    """A value unique to each record (windows.yml unique_per_record) gets no memo: it would only fill it."""
    mapping = bundled("ecs")
    documents = [
        mapping.apply(Event({"EventID": 4658, "EventRecordID": str(number)}, {}, Origin("unique", number)))
        for number in range(1000, 1100)
    ]
    assert [document["event"]["sequence"] for document in documents] == list(range(1000, 1100))
    assert [document["winlog"]["record_id"] for document in documents] == [str(n) for n in range(1000, 1100)]
    memos = [value for name, value in mapping.apply.__globals__.items() if name.startswith("memo_")]
    assert memos and not any("1050" in memo for memo in memos)


def test_compiled_mapping_values_are_not_shared_between_documents():
    mapping = Mapping(EDGE_SPEC)
    first, second = mapping.apply(_edge_event(First="v")), mapping.apply(_edge_event(First="v"))
    first["constant"]["list"].append("z")
    assert second["constant"]["list"] == ["x", "y"]


def test_compiled_mapping_raises_the_rule_by_rule_error():
    mapping = Mapping(EDGE_SPEC)
    with pytest.raises(MappingError) as compiled:
        mapping.apply(_edge_event(Number="0xzz"))
    with pytest.raises(MappingError) as reference:
        mapping.apply_rule_by_rule(_edge_event(Number="0xzz"))
    assert (
        str(compiled.value) == str(reference.value) == "number: cannot hex_to_int '0xzz' from EventData.Number: "
        "invalid literal for int() with base 16: '0xzz'"
    )


def test_a_list_of_one_text_is_remembered_and_each_document_gets_its_own_lists():
    """Winlogbeat's rendered keywords (["Audit Success"]) come from a memo of their own; lists of other shapes are
    converted each time; every answer equals the rule-by-rule one."""
    mapping = bundled("ecs")
    keywords = [["Audit Success"], ["Audit Failure"], ["Audit Success"], ["x", "y"], [1], [True], [], ["0x1"], "-"]
    documents = []
    for number, value in enumerate(keywords * 2):
        event = Event({"EventID": 4658, "Keywords": value}, {}, Origin("lists", number))
        assert outcome(mapping.apply, event) == outcome(mapping.apply_rule_by_rule, event)
        documents.append(mapping.apply(event))
    lists = [value for name, value in mapping.apply.__globals__.items() if name.startswith("lists_")]
    assert any(set(memo) >= {"Audit Success", "Audit Failure", "0x1"} for memo in lists)
    assert all(key.__class__ is str for memo in lists for key in memo)
    assert documents[0]["winlog"]["keywords"] == documents[2]["winlog"]["keywords"] == ["Audit Success"]
    assert documents[0]["winlog"]["keywords"] is not documents[2]["winlog"]["keywords"]
    assert documents[0]["event"]["outcome"] == "success" and documents[1]["event"]["outcome"] == "failure"


@pytest.mark.parametrize("number", [0, 7, LARGEST_NUMBER, LARGEST_NUMBER + 1, -1, True, "12", " 12 ", "1_2", "x", 1.5])
def test_to_int_written_inline_equals_the_rule_by_rule_path(number):
    mapping = bundled("ecs")
    event = Event({"EventID": 4658, "EventRecordID": number}, {}, Origin("numbers", 1))
    assert outcome(mapping.apply, event) == outcome(mapping.apply_rule_by_rule, event)


def test_only_a_timed_event_skips_the_time_check_and_only_where_the_time_is_copied():
    """A TimedEvent's reader proved its TimeCreated readable: the compiled mapping does not read it again. A plain
    Event with the same unreadable text is refused; a mapping that transforms the time checks every event."""
    unreadable = {"EventID": 4658, "TimeCreated": "2026-02-30T00:00:00Z"}
    mapping = bundled("ecs")
    with pytest.raises(MappingError, match="@timestamp: cannot read '2026-02-30T00:00:00Z'"):
        mapping.apply(Event(dict(unreadable), {}, Origin("plain", 1)))
    assert (
        mapping.apply(TimedEvent(dict(unreadable), {}, Origin("timed", 1), 0))["@timestamp"] == "2026-02-30T00:00:00Z"
    )
    lowered = Mapping(
        {
            "event_ids": [4658],
            "fields": [{"target": "@timestamp", "source": "System.TimeCreated", "transform": "lowercase"}],
        }
    )
    with pytest.raises(MappingError, match="@timestamp: cannot read"):
        lowered.apply(TimedEvent(dict(unreadable), {}, Origin("timed", 1), 0))

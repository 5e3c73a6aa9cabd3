"""The plain-record fast path for event XML gives exactly what expat gives, or hands the record to expat."""

import io
import os

import pytest

from tests.support.paths import FIXTURES, ROOT
from win4658.event import SUPPORTED_EVENT_IDS, Event, Origin, ReadStats
from win4658.readers import read_stream
from win4658.readers import xml as xml_reader
from win4658.readers.xml_plain import parse_plain
from win4658.splunk.runtime.render import render_event_xml

EXAMPLES = os.path.join(ROOT, "src", "win4658", "examples")
NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
SYSTEM = (
    "<System><Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-A5BA-3E3B0328C30D}'/>"
    "<EventID>4658</EventID><Version>0</Version><Level>0</Level><Task>12800</Task><Opcode>0</Opcode>"
    "<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='2026-01-02T03:04:05.678Z'/>"
    "<EventRecordID>7</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>"
    "<Channel>Security</Channel><Computer>host.example</Computer><Security/></System>"
)


def record(data: str, system: str = SYSTEM, start: str = f"<Event xmlns='{NAMESPACE}'>") -> bytes:
    return f"{start}{system}<EventData>{data}</EventData></Event>".encode("utf-8")


def outcome(result):
    """What a reader result holds, key order included."""
    if isinstance(result, Event):
        return "event", list(result.system.items()), list(result.data.items()), result.origin
    return "error", tuple(result)


def read_both(content: bytes, monkeypatch) -> tuple:
    """(fast paths' results, expat-only results) of one XML stream, each ending with the reader's counts."""

    def read():
        stream = io.BufferedReader(io.BytesIO(content))  # type: ignore[arg-type]
        stats = ReadStats()
        results = [outcome(result) for result in read_stream(stream, "input.xml", SUPPORTED_EVENT_IDS, stats)]
        return results + [("counts", stats.records, stats.other_event_id)]

    fast = read()
    with monkeypatch.context() as patch:
        patch.setattr(xml_reader, "parse_plain", lambda chunk, origin: None)
        patch.setattr(xml_reader, "plain_text", lambda buffer: None)
        reference = read()
    return fast, reference


def assert_same_as_expat(chunk: bytes) -> Event:
    """parse_plain equals parse_event_xml on a record it reads; returns its Event."""
    origin = Origin("input.xml", 1, 0)
    event = parse_plain(chunk, origin)
    assert event is not None, chunk
    assert outcome(event) == outcome(xml_reader.parse_event_xml(chunk, origin))
    return event


WINDOWS_SYSTEM = {
    "Version": "1",
    "Level": "0",
    "Task": "12800",
    "Opcode": "0",
    "Keywords": "0x8020000000000000",
    "TimeCreated": "2026-01-02T03:04:05.678Z",
    "EventRecordID": "1",
    "ProcessID": "4",
    "ThreadID": "8",
}


def windows_xml(event: Event) -> str:
    """The event as Windows writes it (single quotes; System fields a shipper left out filled in), line breaks
    in values as references."""
    complete = Event({**WINDOWS_SYSTEM, **event.system}, event.data, event.origin)
    return render_event_xml(complete).replace("\r", "&#13;").replace("\n", "&#10;")


def double_quoted(event: Event) -> str:
    """As the benchmark data writes it: attributes in double quotes."""
    return windows_xml(event).replace("='", '="').replace("'/>", '"/>').replace("' ", '" ').replace("'>", '">')


@pytest.mark.parametrize("render", [render_event_xml, windows_xml, double_quoted])
def test_plain_path_equals_expat_on_every_corpus_event(render, corpus_events):
    plain = []
    for event in corpus_events:
        chunk = render(event).encode("utf-8")
        origin = Origin("corpus.xml", 1, 0)
        fast = parse_plain(chunk, origin)
        assert fast is None or outcome(fast) == outcome(xml_reader.parse_event_xml(chunk, origin))
        plain.append(fast is not None)
    # as rendered, a literal carriage return or a System field a shipper left out sends an event to expat
    assert all(plain) if render is not render_event_xml else any(plain)


@pytest.mark.parametrize(
    "path",
    [
        *(os.path.join(FIXTURES, name) for name in sorted(os.listdir(FIXTURES)) if name.endswith(".xml")),
        *(os.path.join(EXAMPLES, name) for name in sorted(os.listdir(EXAMPLES)) if name.endswith(".xml")),
    ],
)
def test_reading_with_the_plain_path_equals_expat_on_sample_files(path, monkeypatch):
    with open(path, "rb") as stream:
        fast, reference = read_both(stream.read(), monkeypatch)
    assert fast == reference and fast


PLAIN_EDGE_CASES = {
    "character references": "<Data Name='A'>&#x41;&#66;&#13;&#10;&#9;x&#13;&#10;&#x10FFFF;</Data>",
    "predefined entities": "<Data Name='A'>&amp;&lt;&gt;&quot;&apos;&amp;#13;</Data>",
    "double quotes": '<Data Name="A">1</Data><Data Name="B">2</Data>',
    "self-closing": "<Data Name='A'/><Data Name='B'>b</Data><Data Name='C'/>",
    "empty values": "<Data Name='A'></Data><Data Name='B'>-</Data>",
    "non-ASCII": "<Data Name='Ünïcode'>C:\\Users\\Jürgen\\日本語.exe 😀</Data>",
    "markup-like text": "<Data Name='A'>a > b \" ' ]] > '&gt; \"></Data><Data Name='B'>x\"/></Data>",
    "duplicate names": "<Data Name='A'>1</Data><Data Name='B'>2</Data><Data Name='A'>3</Data>",
    "no data": "",
    "line feeds and tabs": "<Data Name='A'>one\n\ttwo</Data>",
    "a value holding the quote and '>'": "<Data Name='A'>a '> b</Data><Data Name='B'>'>'/></Data>",
    "a value holding the quote and '/>'": "<Data Name='A'>a '/> b</Data><Data Name='B'/>",
}


@pytest.mark.parametrize("data", PLAIN_EDGE_CASES.values(), ids=PLAIN_EDGE_CASES.keys())
def test_plain_edge_cases_are_read_by_the_fast_path_as_expat_reads_them(data):
    assert_same_as_expat(record(data))


def test_plain_system_variants_are_read_as_expat_reads_them():
    assert_same_as_expat(record("<Data Name='A'>1</Data>", start="<Event>"))
    with_user = SYSTEM.replace("<Security/>", "<Security UserID='S-1-5-18'/>").replace(
        " Guid='{54849625-5478-4994-A5BA-3E3B0328C30D}'", ""
    )
    event = assert_same_as_expat(record("", system=with_user))
    assert event.system["UserID"] == "S-1-5-18" and "ProviderGuid" not in event.system
    qualified = SYSTEM.replace("<EventID>", "<EventID Qualifiers=''>").replace(
        "<Correlation/>", "<Correlation ActivityID='{1}'/>"
    )
    assert assert_same_as_expat(record("", system=qualified)).system["EventID"] == 4658


FALLBACK_EDGE_CASES = {
    "CDATA": record("<Data Name='A'><![CDATA[<x>]]></Data>"),
    "comment": record("<Data Name='A'>a<!-- c -->b</Data>"),
    "processing instruction": record("<Data Name='A'><?pi x?></Data>"),
    "Data without Name": record("<Data>first</Data><Data Name='B'>b</Data><Data>third</Data>"),
    "empty Name": record("<Data Name=''>x</Data>"),
    "Data with a child": record("<Data Name='A'>a<b>c</b></Data>"),
    "Data with another attribute": record("<Data Name='A' Type='x'>a</Data>"),
    "mixed quotes": record("<Data Name='A'>1</Data><Data Name=\"B\">2</Data>"),
    "mismatched quotes": record("<Data Name='A\">1</Data>"),
    "carriage return": record("<Data Name='A'>one\r\ntwo\rthree</Data>"),
    "tab in an attribute": record("<Data Name='A\tB'>1</Data>"),
    "reference in System": record("", system=SYSTEM.replace("host.example", "a&amp;b")),
    "undefined entity": record("<Data Name='A'>&nbsp;</Data>"),
    "bare ampersand": record("<Data Name='A'>a & b</Data>"),
    "reference to a forbidden character": record("<Data Name='A'>&#1;</Data>"),
    "reference to a surrogate": record("<Data Name='A'>&#xD800;</Data>"),
    "control character": record("<Data Name='A'>\x01</Data>"),
    "U+FFFE": record("<Data Name='A'>\ufffe</Data>"),
    "CDATA end in text": record("<Data Name='A'>]]></Data>"),
    "not UTF-8": record("<Data Name='A'>x</Data>").replace(b">x<", b">\xff<"),
    "whitespace between tags": record("\n  <Data Name='A'>1</Data>\n"),
    "UserData": b"<Event><System><EventID>4658</EventID></System><UserData><X><Y>1</Y></X></UserData></Event>",
    "EventID not a number": record("", system=SYSTEM.replace(">4658<", ">x<")),
    "prefixed names": record("<e:Data Name='A'>1</e:Data>"),
    "unclosed Data": record("<Data Name='A'>1"),
}


@pytest.mark.parametrize("chunk", FALLBACK_EDGE_CASES.values(), ids=FALLBACK_EDGE_CASES.keys())
def test_records_the_fast_path_cannot_vouch_for_go_to_expat(chunk):
    assert parse_plain(chunk, Origin("input.xml", 1, 0)) is None


DOCTYPE_ATTACK = (
    b'<?xml version="1.0"?>\n<!DOCTYPE Event [<!ENTITY a "LOL-EXPANSION">]>\n'
    + record("<Data Name='A'>&a;</Data>")
    + b"\n"
)


@pytest.mark.parametrize(
    "content",
    [
        b"\n".join([record(data) for data in PLAIN_EDGE_CASES.values()]) + b"\n",
        b"\n".join(FALLBACK_EDGE_CASES.values()) + b"\n",
        # a malformed record among plain ones, and a truncated last record
        record("<Data Name='A'>1</Data>") + b"\n" + record("<Data Name='A'>1</Dat>") + b"\n" + record("")[:90],
        b"<?xml version='1.0' encoding='utf-8'?>\r\n<Events>\r\n"
        + record("<Data Name='A'>x</Data>")
        + b"\r\n"
        + record("<Data Name='B'>y</Data>")
        + b"\r\n</Events>\r\n",
        ("\ufeff" + record("<Data Name='A'>ü</Data>").decode("utf-8") + "\r\n").encode("utf-16"),
        DOCTYPE_ATTACK,
        # event ids not asked for, and EventID text a byte filter and the plain path must judge alike
        b"\n".join(
            record("", system=SYSTEM.replace(">4658<", f">{event_id}<"))
            for event_id in ("4624", " 4658 ", "4658\r", "\t4663\n", "04658", "4658 1", "46580", "4690")
        )
        + b"\n",
        # a rendered record (backslashes doubled) between plain ones
        record("<Data Name='A'>C:\\\\x</Data>")
        + b"\n- "
        + record("<Data Name='A'>C:\\\\x</Data>")
        + b"\n"
        + record("<Data Name='A'>C:\\\\x\n - </Data>")
        + b"\n",
        # ASCII records, so the whole-block path reads them, with carriage returns inside and between them
        record("<Data Name='A'>one\r\ntwo\rthree</Data>")
        + b"\r\n"
        + record("<Data Name='A'>1</Data>")
        + b"\r\n"
        + record("", system=SYSTEM.replace("host.example", "host\r\n"))
        + b"\r\n",
        # records split across the reader's 1 MiB blocks
        b"\n".join(
            record(f"<Data Name='A'>{index}</Data><Data Name='Pad'>{'x' * 997}</Data>") for index in range(1500)
        ),
    ],
    ids=[
        "plain",
        "fallback",
        "malformed-and-truncated",
        "events-wrapper-crlf",
        "utf-16",
        "doctype",
        "event-ids",
        "rendered",
        "carriage-returns",
        "block-split",
    ],
)
def test_reading_with_the_plain_path_equals_expat_on_edge_streams(content, monkeypatch):
    fast, reference = read_both(content, monkeypatch)
    assert fast == reference and fast


def test_doctype_attack_is_refused_without_expansion(monkeypatch):
    fast, _ = read_both(DOCTYPE_ATTACK, monkeypatch)
    assert [result[0] for result in fast] == ["error", "counts"]
    assert fast[0][1][1] == "unsafe-xml" and "LOL-EXPANSION" not in repr(fast)


def test_the_plain_expression_is_built_from_the_windows_layer():
    """System's elements in the layer's order, each with the layer's attributes; the captured fields are the layer's
    System fields in the XML parser's order (its key order for a record holding them all)."""
    from win4658 import windows
    from win4658.readers.xml_plain import PLAIN_FIELDS, PLAIN_RECORD

    positions = [PLAIN_RECORD.pattern.index(f"<{name}") for name in windows.SYSTEM_ELEMENTS]
    assert positions == sorted(positions)
    attributes = [
        (element, attribute) for element, declared in windows.SYSTEM_ATTRIBUTES.items() for attribute, _, _ in declared
    ]
    assert all(f" {attribute}=" in PLAIN_RECORD.pattern for _, attribute in attributes)
    with_all = SYSTEM.replace("<Security/>", "<Security UserID='S-1-5-18'/>")
    event = assert_same_as_expat(record("", system=with_all))
    assert tuple(event.system) == PLAIN_FIELDS
    declared = {field for declared in windows.SYSTEM_ATTRIBUTES.values() for _, field, _ in declared if field}
    assert set(PLAIN_FIELDS) == declared | (set(windows.SYSTEM_TEXT_ELEMENTS) & set(windows.SYSTEM_ELEMENTS))


def _layer_system(leave_out_optional: bool) -> str:
    """A System written from the Windows event layer alone: each element in its order with each declared attribute
    (its value naming the attribute; those Windows may leave out left out when asked), each text element a number."""
    from win4658 import windows

    def element(name: str) -> str:
        attributes = "".join(
            f" {attribute}='{name}.{attribute}'"
            for attribute, _, may_be_absent in windows.SYSTEM_ATTRIBUTES.get(name, ())
            if not (leave_out_optional and may_be_absent)
        )
        return f"<{name}{attributes}>7</{name}>" if name in windows.SYSTEM_TEXT_ELEMENTS else f"<{name}{attributes}/>"

    return "<System>" + "".join(element(name) for name in windows.SYSTEM_ELEMENTS) + "</System>"


@pytest.mark.parametrize("leave_out_optional", [False, True], ids=["every attribute", "no optional attribute"])
def test_both_xml_readers_read_system_by_the_same_table_of_the_layer(leave_out_optional):
    """The XML parser's builder and the plain expression read the same System fields from the same attributes, in
    the same order: a field the layer adds reaches both, and a reader that spells its own table fails here."""
    from win4658 import windows
    from win4658.readers.xml_plain import PLAIN_FIELDS

    event = assert_same_as_expat(record("", system=_layer_system(leave_out_optional)))
    expected = {
        field: f"{element}.{attribute}"
        for element, attributes in windows.SYSTEM_ATTRIBUTES.items()
        for attribute, field, may_be_absent in attributes
        if field and not (leave_out_optional and may_be_absent)
    }
    assert {field: event.system[field] for field in expected} == expected
    assert tuple(event.system) == tuple(field for field in PLAIN_FIELDS if field in event.system)
    optional = {
        field for attributes in windows.SYSTEM_FIELD_ATTRIBUTES.values() for _, field, absent in attributes if absent
    }
    assert set(PLAIN_FIELDS) - set(event.system) == (optional if leave_out_optional else set())

"""Bad input: named errors, the rest still read, nothing expanded or fetched, nothing dropped uncounted."""

import http.server

import pytest

from tests.support.loopback import loopback_server as serving
from tests.support.loopback import url
from tests.support.paths import SAMPLE_XML, corpus_path
from tests.support.sample import one_line
from win4658.event import Event, ReadStats, RecordError
from win4658.readers import read_paths


@pytest.fixture(scope="module")
def good_line() -> bytes:
    with open(SAMPLE_XML, "rb") as stream:
        return one_line(stream.read())


def read_all(path, stats=None):
    return list(read_paths([str(path)], frozenset({4658}), stats))


def test_malformed_xml_record_is_named_and_the_rest_is_read(tmp_path, good_line):
    broken = good_line.replace(b"</System>", b"</Sys>")
    unclosed = good_line[: len(good_line) // 2]
    path = tmp_path / "mixed.xml"
    path.write_bytes(b"\n".join([good_line, broken, unclosed, good_line]) + b"\n")
    results = read_all(path)
    assert [type(result).__name__ for result in results] == ["Event", "RecordError", "RecordError", "Event"]
    assert [result.origin.record for result in results] == [1, 2, 3, 4]
    assert results[1].reason == "malformed" and "mismatched tag" in results[1].message
    assert str(results[1]).startswith(f"{path}: record 2 (byte offset {len(good_line) + 1})")
    assert results[2].reason == "malformed" and "not a complete <Event> record" in results[2].message


def test_truncated_xml_at_end_of_file_is_reported(tmp_path, good_line):
    path = tmp_path / "cut.xml"
    path.write_bytes(good_line + b"\n" + good_line[:100])
    results = read_all(path)
    assert isinstance(results[0], Event)
    assert results[1].reason == "truncated" and results[1].origin.record == 2


def test_malformed_json_line_is_named_and_the_rest_is_read(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(
        b'{"EventID": 4658, "ProcessId": "0x10", "ProcessName": "C:\\\\a.exe"}\n{"EventID": 46\n'
        b'[1, 2]\n{"no": "shape"}\n{"EventID": 4658, "ProcessId": "0x11"}\n'
    )
    results = read_all(path)
    assert [getattr(result, "reason", "event") for result in results] == [
        "event",
        "malformed",
        "malformed",
        "unrecognised",
        "event",
    ]
    assert [result.origin.record for result in results] == [1, 2, 3, 4, 5]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Event [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Event><System><EventID>4658</EventID></System><EventData><Data Name="ProcessName">&lol9;</Data></EventData></Event>
"""


class CountingHandler(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        CountingHandler.requests.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'<!ENTITY secret "leaked">')

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    CountingHandler.requests = []
    with serving(CountingHandler) as server:
        yield url(server)


def unsafe_documents(url: str, secret_file: str) -> dict:
    return {
        "billion_laughs": BILLION_LAUGHS,
        "external_entity": (
            f'<!DOCTYPE Event [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
            "<Event><System><EventID>4658</EventID></System><EventData>"
            '<Data Name="ProcessName">&xxe;</Data></EventData></Event>'
        ).encode(),
        "external_dtd": (
            f'<!DOCTYPE Event SYSTEM "{url}/evil.dtd">'
            "<Event><System><EventID>4658</EventID></System><EventData>"
            '<Data Name="ProcessName">&secret;</Data></EventData></Event>'
        ).encode(),
        "parameter_entity": (
            f'<!DOCTYPE Event [<!ENTITY % remote SYSTEM "{url}/p.dtd"> %remote;]>'
            "<Event><System><EventID>4658</EventID></System></Event>"
        ).encode(),
    }


@pytest.mark.parametrize("kind", ["billion_laughs", "external_entity", "external_dtd", "parameter_entity"])
def test_entity_declarations_are_rejected_without_expansion_or_network(tmp_path, loopback_server, kind):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    path = tmp_path / f"{kind}.xml"
    path.write_bytes(unsafe_documents(loopback_server, str(secret))[kind])
    stats = ReadStats()
    results = read_all(path, stats)
    assert results and all(isinstance(result, RecordError) for result in results)
    assert results[0].reason == "unsafe-xml"
    assert "DTD or entity declaration" in results[0].message
    assert not any("TOP-SECRET" in str(result) or "lol" in str(result) for result in results)
    assert CountingHandler.requests == []


def test_inline_entity_declaration_inside_a_record_is_refused(tmp_path):
    from win4658.event import Origin
    from win4658.readers.xml import UnsafeXml, parse_event_xml

    with pytest.raises(UnsafeXml):
        parse_event_xml(
            b'<!DOCTYPE Event [<!ENTITY a "b">]><Event><System><EventID>4658</EventID></System></Event>',
            Origin("inline", 1),
        )


def test_truncated_evtx_yields_the_records_before_the_damage_and_an_error(tmp_path):
    source = corpus_path("evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx")
    with open(source, "rb") as stream:
        data = stream.read()
    path = tmp_path / "truncated.evtx"
    path.write_bytes(data[: 4096 + 3 * 65536 + 1000])
    stats = ReadStats()
    results = read_all(path, stats)
    events = [result for result in results if isinstance(result, Event)]
    errors = [result for result in results if isinstance(result, RecordError)]
    assert len(events) == 37 and stats.records == 95
    assert [error.reason for error in errors] == ["damaged"] * 2
    assert "EVTX chunk 3: truncated after 1000 of 65536 bytes: records 96-126" in errors[0].message
    assert errors[1].message.startswith("EVTX chunks 4-5: missing: the header declares 6 chunks, the file ends after 4")
    assert all("EVTX chunk" in str(error) and str(path) in str(error) for error in errors)


def test_evtx_chunk_failing_its_checksum_is_reported(tmp_path):
    source = corpus_path("evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx")
    with open(source, "rb") as stream:
        data = bytearray(stream.read())
    data[4096 + 2 * 65536 + 5000 : 4096 + 2 * 65536 + 9000] = bytes(4000)
    path = tmp_path / "overwritten.evtx"
    path.write_bytes(bytes(data))
    errors = [result for result in read_all(path) if isinstance(result, RecordError)]
    assert len(errors) == 1 and "EVTX chunk 2: checksum mismatch: records 64-95" in errors[0].message


def test_unreadable_file_is_a_fatal_error(tmp_path):
    (error,) = read_all(tmp_path / "missing.evtx")
    assert error.fatal and error.reason == "unreadable" and "missing.evtx" in str(error)

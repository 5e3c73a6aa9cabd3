"""Hostile and broken input, class by class: no exception escapes, every record is converted or counted as an error
naming its file and record, memory stays bounded, and the exit status says whether anything was lost."""

import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

import orjson
import pytest

from tests.support.paths import ROOT, SAMPLE_XML, corpus_path
from tests.support.sample import one_line
from win4658.convert import Summary, convert
from win4658.detections.local_hunt import Hunt
from win4658.event import MAX_RECORD_BYTES, Event, ReadStats, RecordError, parse_event_id
from win4658.readers import MAX_EXPANSION_RATIO, read_paths

GOOD_JSON = (
    b'{"EventID": 4658, "ProcessId": "0x10", "ProcessName": "C:\\\\a.exe", "TimeCreated": "2020-01-01T00:00:00Z"}\n'
)
SAMPLE_EVTX = ("evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx")


@pytest.fixture(scope="module")
def good_xml() -> bytes:
    with open(SAMPLE_XML, "rb") as stream:
        return one_line(stream.read())


def read_all(*paths, stats=None, event_ids=frozenset({4658})):
    return list(read_paths([str(path) for path in paths], event_ids, stats))


def outcome(results):
    return ["event" if isinstance(result, Event) else result.reason for result in results]


def run_cli(*args, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "win4658", *map(str, args)], capture_output=True, text=True, timeout=120, **options
    )


def converted_everywhere(path, summary=None):
    """Every target's documents of the file; each must serialise (orjson refuses integers past 64 bits)."""
    documents = {}
    for target in ("ecs", "cim", "winlogbeat"):
        items = list(convert([str(path)], target, summary=summary if target == "ecs" else None))
        for item in items:
            if isinstance(item, dict):
                orjson.dumps(item)
        documents[target] = items
    return documents


# --- 1. JSON records whose fields have unexpected JSON types --------------------------------------------------------

WINLOGBEAT = {"winlog": {"event_id": 4658, "event_data": {"ProcessId": "0x10"}}, "@timestamp": "2020-01-01T00:00:00Z"}
ODD_TYPES = [  # (record, what it gives)
    ({"winlog": {"event_data": {}}, "event": "4658"}, "unrecognised"),
    ({"winlog": {"event_data": {}}, "event": ["4658"]}, "unrecognised"),
    ({"winlog": {"event_data": {}}, "event": {"code": {"x": 1}}}, "unrecognised"),
    ({"winlog": {"event_data": {}}, "event": {"code": "4658"}}, "event"),
    ({"winlog": "4658", "event": {"code": "4658"}}, "unrecognised"),
    ({**WINLOGBEAT, "host": "WS01"}, "event"),
    ({**WINLOGBEAT, "host": {"name": {"a": 1}}}, "unrecognised"),
    ({**WINLOGBEAT, "@timestamp": {"a": 1}}, "unrecognised"),
    ({**WINLOGBEAT, "@timestamp": [2020]}, "unrecognised"),
    ({**WINLOGBEAT, "@timestamp": 1.5}, "unrecognised"),
    ({**WINLOGBEAT, "@timestamp": "garbage-timeZ"}, "mapping"),
    ({**WINLOGBEAT, "@timestamp": 1577836800}, "unrecognised"),
    ({**WINLOGBEAT, "host": {"name": 4658}}, "unrecognised"),
    ({"winlog": {"event_id": 4658, "record_id": 12, "process": {"pid": 4}, "event_data": {}}}, "event"),
    ({"winlog": {"event_id": 4658, "computer_name": {"a": 1}, "event_data": {}}}, "unrecognised"),
    ({"winlog": {"event_id": 4658, "record_id": True, "event_data": {}}}, "unrecognised"),
    ({"winlog": {"event_id": 4658, "event_data": "x"}}, "unrecognised"),
    ({"winlog": {"event_id": 4658, "event_data": {"ProcessId": {"a": 1}}}}, "mapping"),
    ({"winlog": {"event_id": 4658, "event_data": {"A": {"a": 1}, "B": [1], "C": True, "D": None, "E": 1.5}}}, "event"),
    ({"event_id": 4658, "event_data": [1]}, "unrecognised"),
    ({"event_id": 4658, "event_data": {}, "computer_name": {"a": 1}}, "unrecognised"),
    ({"event_id": {"a": 1}, "event_data": {}}, "unrecognised"),
    ({"EventID": 4658, "Hostname": ["a"]}, "unrecognised"),
    ({"EventID": 4658, "TimeCreated": {"a": 1}, "@timestamp": {"b": 2}}, "unrecognised"),
    (
        {
            "EventID": 4658,
            "EventTime": "0001-01-01 00:00:00",
            "EventReceivedTime": "0001-01-01 01:00:00",
            "@timestamp": "0001-01-01T00:00:00Z",
        },
        "unrecognised",
    ),
    ({"EventID": 4658, "EventTime": 1, "EventReceivedTime": {}, "@timestamp": []}, "unrecognised"),
    ({"EventID": 4658, "Keywords": True}, "event"),
    ({"EventID": None}, "unrecognised"),
]


@pytest.mark.parametrize("document, expected", ODD_TYPES)
def test_unexpected_json_types_are_converted_or_named_and_the_rest_is_read(tmp_path, document, expected):
    path = tmp_path / "odd.json"
    path.write_bytes(GOOD_JSON + json.dumps(document).encode() + b"\n" + GOOD_JSON)
    summary = Summary()
    documents = converted_everywhere(path, summary)
    assert (
        outcome(read_all(path)) == ["event", "mapping" if expected == "mapping" else expected, "event"]
        if expected != "mapping"
        else outcome(read_all(path)) == ["event"] * 3
    )
    assert [item if isinstance(item, RecordError) else "document" for item in documents["ecs"]][0::2] == [
        "document",
        "document",
    ]
    middle = documents["ecs"][1]
    if expected == "event":
        assert isinstance(middle, dict)
    else:
        assert isinstance(middle, RecordError) and middle.reason == expected
        assert str(middle).startswith(f"{path}: record 2 (byte offset {len(GOOD_JSON)})")
    assert summary.stats.records == 3 and summary.converted + sum(summary.skipped.values()) == 3
    assert summary.failed == (expected != "event")


def test_a_hunt_goes_on_past_every_odd_record(tmp_path):
    path = tmp_path / "odd.json"
    path.write_bytes(b"".join(json.dumps(document).encode() + b"\n" for document, _ in ODD_TYPES) + GOOD_JSON)
    hunt = Hunt()
    list(hunt.run([str(path)]))
    assert hunt.summary.stats.records == len(ODD_TYPES) + 1
    unreadable = sum(expected == "unrecognised" for _, expected in ODD_TYPES)
    assert hunt.summary.skipped == {"unrecognised": unreadable}
    assert hunt.summary.events == len(ODD_TYPES) + 1 - unreadable


# --- 2. values that cannot be represented --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "process_id", ["0x10000000000000000", "18446744073709551616", "0x8000000000000000", "-5", "-0x1", "1e3", "0x"]
)
def test_a_process_id_outside_long_is_a_mapping_error_for_that_record(tmp_path, process_id):
    path = tmp_path / "pid.json"
    path.write_bytes(GOOD_JSON + GOOD_JSON.replace(b'"0x10"', json.dumps(process_id).encode()) + GOOD_JSON)
    documents = converted_everywhere(path)
    for target in ("ecs", "cim"):
        middle = documents[target][1]
        assert isinstance(middle, RecordError) and middle.reason == "mapping"
        assert str(middle).startswith(f"{path}: record 2") and "EventData.ProcessId" in middle.message
        assert [type(item) for item in documents[target]] == [dict, RecordError, dict]
    assert documents["winlogbeat"][1]["winlog"]["event_data"]["ProcessId"] == process_id  # kept as the text it is


def test_the_largest_long_is_mapped(tmp_path):
    path = tmp_path / "pid.json"
    path.write_bytes(GOOD_JSON.replace(b'"0x10"', b'"0x7fffffffffffffff"'))
    (document,) = converted_everywhere(path)["ecs"]
    assert document["process"]["pid"] == (1 << 63) - 1


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("target", ["ecs", "cim"])
def test_convert_writes_every_other_document_when_a_pid_is_too_large(tmp_path, workers, target):
    big = GOOD_JSON.replace(b'"0x10"', b'"0x10000000000000000"')
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_bytes(GOOD_JSON * 3 + big + GOOD_JSON * 2)
    output = tmp_path / "out.ndjson"
    output.write_bytes(b"")
    result = run_cli(
        "convert", "--to", target, "--workers", workers, "-o", output, tmp_path / "a.json", tmp_path / "b.json"
    )
    assert result.returncode == 1, result.stderr
    assert len(output.read_text().splitlines()) == 10
    assert result.stderr.count("record 4 (byte offset") == 2 and "outside 0..2^63-1" in result.stderr
    assert "converted: 10" in result.stderr and "mapping: 2" in result.stderr


def test_garbage_time_created_in_xml_is_a_mapping_error_not_a_malformed_timestamp(tmp_path, good_xml):
    path = tmp_path / "time.xml"
    bad = good_xml.replace(b'SystemTime="2015-09-22T00:15:42.910428100Z"', b'SystemTime="garbage-time"')
    assert bad != good_xml
    path.write_bytes(b"\n".join([good_xml, bad, good_xml]))
    items = converted_everywhere(path)["ecs"]
    assert [type(item) for item in items] == [dict, RecordError, dict]
    assert items[1].reason == "mapping" and "@timestamp: cannot read 'garbage-time'" in items[1].message


# --- 3. one event-id rule for every reader ---------------------------------------------------------------------------

EVENT_ID_TEXTS = {
    "4658": 4658,
    "04658": 4658,
    " 4658 ": 4658,
    "0004656": 4656,
    "4658.7": None,
    "4_658": None,
    "+4658": None,
    "70000": None,
    "４６５８": None,
    "": None,
}


@pytest.mark.parametrize("text, number", EVENT_ID_TEXTS.items())
def test_the_event_id_rule(text, number):
    if number is None:
        with pytest.raises(ValueError):
            parse_event_id(text)
    else:
        assert parse_event_id(text) == parse_event_id(text.encode()) == number
    for value, expected in (
        (4658, 4658),
        (0, 0),
        (4658.7, None),
        (4658.0, None),
        (True, None),
        (-1, None),
        (None, None),
    ):
        if expected is None:
            with pytest.raises(ValueError):
                parse_event_id(value)
        else:
            assert parse_event_id(value) == expected


def xml_with_event_id(good_xml: bytes, text: str, plain: bool) -> bytes:
    record = good_xml.replace(b">4658<", f">{text}<".encode())
    return record if plain else record.replace(b"<System>", b"<System >")


CLASSIC = (
    "01/02/2020 03:04:05 PM\nLogName=Security\nEventCode={}\nComputerName=WS01\nMessage=The handle to an object "
    "was closed.\n\nSubject :\n\tAccount Name:\t\tbob\n\nProcess Information:\n\tProcess ID:\t\t0x10\n"
)


@pytest.mark.parametrize("text, number", EVENT_ID_TEXTS.items())
def test_every_reader_applies_the_same_event_id_rule(tmp_path, good_xml, text, number):
    forms = {
        "plain.xml": xml_with_event_id(good_xml, text, True),
        "parsed.xml": xml_with_event_id(good_xml, text, False),
        "text.json": json.dumps({"EventID": text, "ProcessId": "0x10"}).encode(),
        "winlogbeat.json": json.dumps({"winlog": {"event_id": text, "event_data": {}}}).encode(),
        "classic.txt": CLASSIC.format(text).encode(),
    }
    expected = ["event"] if number == 4658 else [] if number is not None else ["malformed"]
    for name, content in forms.items():
        (tmp_path / name).write_bytes(content + b"\n")
        stats = ReadStats()
        results = read_all(tmp_path / name, stats=stats)
        reasons = [
            "malformed" if result.reason in ("malformed", "unrecognised") else result.reason
            for result in results
            if isinstance(result, RecordError)
        ]
        got = ["event"] * sum(isinstance(result, Event) for result in results) + reasons
        assert got == expected, (name, results)
        assert stats.records == 1 and stats.other_event_id == (number not in (None, 4658))


# --- 4. archives ---------------------------------------------------------------------------------------------------


def zip_bytes(members) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return bytearray(buffer.getvalue())


def central_entry(data: bytearray, index: int) -> int:
    offset = -1
    for _ in range(index + 1):
        offset = data.find(b"PK\x01\x02", offset + 1)
    return offset


def test_an_encrypted_member_and_a_bad_crc_member_are_named_and_the_next_member_is_read(tmp_path):
    data = zip_bytes([("a.json", GOOD_JSON * 3), ("b.json", GOOD_JSON * 2), ("c.json", GOOD_JSON)])
    first = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    data[first.header_offset + 6] |= 1  # "encrypted", in the local header and the central directory
    data[central_entry(data, 0) + 8] |= 1
    data[central_entry(data, 1) + 16] ^= 0xFF  # b.json's CRC-32
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(data))
    results = read_all(path)
    assert outcome(results) == ["unreadable", "damaged", "event"]
    assert str(results[0]) == f"{path}!a.json: record 0: archive member encrypted: not read"
    assert str(results[1]).startswith(f"{path}!b.json: record 0: archive member damaged: Bad CRC-32")
    assert run_cli("convert", "-o", os.devnull, path).returncode == 1


def test_a_zip_bomb_member_is_refused_before_it_is_expanded_and_the_next_member_is_read(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("big.json", "w", force_zip64=True) as member:
            member.write(b'{"EventID": 4658, "x": "')
            for _ in range(64):
                member.write(bytes(1 << 20))
        archive.writestr("good.json", GOOD_JSON)
    results = read_all(path)
    assert outcome(results) == ["unreadable", "event"]
    limit = max(MAX_EXPANSION_RATIO * path.stat().st_size, MAX_RECORD_BYTES)
    assert f"past the archive's limit of {limit} bytes" in results[0].message
    assert str(results[0]).startswith(f"{path}!big.json: record 0: archive member expands to")


def test_a_member_whose_declared_size_lies_is_read_only_up_to_it(tmp_path):
    data = zip_bytes([("big.json", GOOD_JSON + b"\n" * (64 << 20)), ("good.json", GOOD_JSON)])
    struct.pack_into("<I", data, central_entry(data, 0) + 24, 1000)  # uncompressed size
    struct.pack_into("<I", data, 22, 1000)
    path = tmp_path / "lying.zip"
    path.write_bytes(bytes(data))
    assert outcome(read_all(path)) == ["damaged", "event"]


def test_a_tar_bomb_stops_the_archive_with_an_error(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("big.json")
        info.size = 64 << 20
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    results = read_all(path)
    assert outcome(results) == ["unreadable"] and results[0].fatal
    assert "past the archive's limit" in results[0].message


def evtx_variants():
    with open(corpus_path(*SAMPLE_EVTX), "rb") as stream:
        data = stream.read()
    overwritten = bytearray(data)
    overwritten[4096 + 2 * 65536 + 5000 : 4096 + 2 * 65536 + 9000] = bytes(4000)
    return {
        "whole.evtx": data,
        "truncated.evtx": data[: 4096 + 3 * 65536 + 1000],
        "overwritten.evtx": bytes(overwritten),
    }


def described(results, prefix):
    return [(type(result).__name__, str(result).replace(prefix, "")) for result in results]


@pytest.mark.parametrize("form", ["zip", "tar.gz"])
def test_evtx_inside_an_archive_is_read_with_the_same_damage_reports_as_a_plain_file(tmp_path, form):
    variants = evtx_variants()
    path = tmp_path / f"logs.{form}"
    if form == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in variants.items():
                archive.writestr(name, content)
    else:
        with tarfile.open(path, "w:gz") as archive:
            for name, content in variants.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    in_archive = read_all(path)
    plain = []
    for name, content in variants.items():
        (tmp_path / name).write_bytes(content)
        plain += described(read_all(tmp_path / name), f"{tmp_path}{os.sep}")
    assert described(in_archive, f"{path}!") == plain
    assert sum(isinstance(result, Event) for result in in_archive) == 77 + 37 + 64


# --- 5. bounded records, non-regular files, unlisted directories ---------------------------------------------------

# The peak is VmHWM: ru_maxrss would carry the forking test process's peak across exec.
MEASURE = """import sys
from win4658.readers import read_paths
from win4658.event import Event
results = list(read_paths(sys.argv[1:]))
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(sum(isinstance(r, Event) for r in results), [str(r) for r in results if not isinstance(r, Event)], peak // 1024)
"""


def read_in_child(*paths):
    """(events, errors, peak MiB) of reading paths in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *map(str, paths)], capture_output=True, text=True, timeout=120, check=True
    )
    events, errors, peak = result.stdout.rsplit(" ", 1)[0], None, int(result.stdout.rsplit(" ", 1)[1])
    events, _, errors = events.partition(" ")
    return int(events), eval(errors), peak  # noqa: S307 - our own child's repr of a list of strings


def sparse(path, head: bytes, size: int, tail: bytes = b""):
    with open(path, "wb") as stream:
        stream.write(head)
        stream.truncate(size)
    with open(path, "ab") as stream:
        stream.write(tail)


@pytest.mark.parametrize(
    "name, head, tail",
    [
        ("zeros.json", GOOD_JSON + b'{"EventID": 4658,', b"\n" + GOOD_JSON),
        ("zeros.xml", b"<Event>", b""),
        ("zeros.txt", b"01/02/2020 03:04:05 PM\nEventCode=4658\nLogName=Security\nMessage=", b""),
    ],
)
def test_a_record_past_the_limit_is_too_large_and_memory_stays_bounded(tmp_path, name, head, tail):
    path = tmp_path / name
    sparse(path, head, 160 << 20, tail)
    events, errors, peak = read_in_child(path)
    assert events == (2 if name.endswith(".json") else 0)
    (error,) = errors
    offset = len(GOOD_JSON) if name.endswith(".json") else 0
    assert error.startswith(
        f"{path}: record {2 if name.endswith('.json') else 1} (byte offset {offset}): "
        f"record too large: more than {MAX_RECORD_BYTES >> 20} MiB"
    )
    assert peak < 100


def test_a_file_of_only_line_breaks_holds_nothing_and_costs_little_memory(tmp_path):
    path = tmp_path / "newlines.json"
    path.write_bytes(b"{}\n" + b"\n" * (64 << 20))
    events, errors, peak = read_in_child(path)
    assert (events, len(errors), errors[0].endswith("no winlog, event_id or EventID field")) == (0, 1, True)
    assert peak < 100


def test_an_xml_record_too_large_is_skipped_up_to_its_end_and_the_next_is_read(tmp_path, good_xml):
    path = tmp_path / "long.xml"
    huge = good_xml.replace(
        b"</EventData>", b"<Data Name='x'>" + b"a" * (MAX_RECORD_BYTES + 10) + b"</Data></EventData>"
    )
    path.write_bytes(good_xml + b"\n" + huge + b"\n" + good_xml + b"\n")
    stats = ReadStats()
    results = read_all(path, stats=stats)
    assert outcome(results) == ["event", "too large", "event"] and stats.records == 3
    assert results[1].origin.offset == len(good_xml) + 1


def test_non_regular_files_are_skipped_never_opened(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "good.json").write_bytes(GOOD_JSON)
    os.mkfifo(folder / "a.fifo")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(folder / "b.sock"))
        result = run_cli("convert", "-o", os.devnull, folder)
        assert result.returncode == 0, result.stderr
        assert "a.fifo: record 0: a FIFO: skipped, not opened" in result.stderr
        assert "b.sock: record 0: a socket: skipped, not opened" in result.stderr
        assert "converted: 1" in result.stderr and "not a regular file: 2" in result.stderr
    given = run_cli("convert", "-o", os.devnull, folder / "a.fifo", "/dev/zero", folder / "good.json")
    assert given.returncode == 1 and "a character device: skipped" in given.stderr and "converted: 1" in given.stderr


def as_nobody():
    """Options running a child as user nobody, for a test that needs permissions root would bypass."""
    return {"preexec_fn": lambda: (os.setgid(65534), os.setuid(65534))}


def command_for_nobody() -> tuple:
    """A `python -m win4658` that user nobody can run (root's own interpreter may sit in a private home)."""
    path = os.pathsep.join([os.path.join(ROOT, "src"), sysconfig.get_paths()["purelib"]])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin")):
        try:
            probe = subprocess.run(
                [python, "-c", "import win4658, orjson"],
                env=dict(os.environ, PYTHONPATH=path),
                capture_output=True,
                timeout=60,
                **as_nobody(),
            )
        except (OSError, TypeError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return [python, "-m", "win4658"], dict(os.environ, PYTHONPATH=path)
    pytest.skip(f"running as root and no {version} that user nobody can run: cannot make a directory unlistable")


def test_an_unlistable_subdirectory_is_reported_and_counted():
    top = tempfile.mkdtemp()  # pytest's tmp_path is closed to other users
    try:
        os.chmod(top, 0o755)
        for folder in ("a", "b", "c"):
            os.mkdir(os.path.join(top, folder))
            with open(os.path.join(top, folder, "x.json"), "wb") as stream:
                stream.write(GOOD_JSON)
        locked = os.path.join(top, "b")
        os.chmod(locked, 0)
        command, options = [sys.executable, "-m", "win4658"], {}
        if os.geteuid() == 0:  # root lists every directory: read as nobody
            command, environment = command_for_nobody()
            options = dict(as_nobody(), env=environment)
        result = subprocess.run(
            [*command, "convert", "-o", os.devnull, top], capture_output=True, text=True, timeout=120, **options
        )
        assert result.returncode == 1, result.stderr
        assert f"{locked}: record 0: cannot list directory: Permission denied; its files are not read" in result.stderr
        assert "converted: 2" in result.stderr and "unreadable: 1" in result.stderr
    finally:
        os.chmod(os.path.join(top, "b"), 0o755)
        shutil.rmtree(top)


# --- 6. encodings --------------------------------------------------------------------------------------------------


def test_a_utf8_bom_loses_nothing_and_reports_nothing(tmp_path, good_xml):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "bom.json").write_bytes(bom + GOOD_JSON * 2)
    (tmp_path / "bom.xml").write_bytes(bom + good_xml + b"\n" + good_xml)
    (tmp_path / "bom.txt").write_bytes(bom + CLASSIC.format(4658).encode())
    for name, count in (("bom.json", 2), ("bom.xml", 2), ("bom.txt", 1)):
        results = read_all(tmp_path / name)
        assert outcome(results) == ["event"] * count, name
    json_results = read_all(tmp_path / "bom.json")
    assert [result.origin.offset for result in json_results] == [3, 3 + len(GOOD_JSON)]  # offsets in the file


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_or_without_bom_is_read(tmp_path, good_xml, codec):
    for name, text in (("u.json", GOOD_JSON * 2), ("u.xml", good_xml + b"\n" + good_xml)):
        path = tmp_path / name
        path.write_bytes(text.decode().encode(codec))
        assert outcome(read_all(path)) == ["event", "event"]
        assert run_cli("convert", "-o", os.devnull, path).returncode == 0


def test_invalid_utf16_is_an_error_not_garbage(tmp_path):
    path = tmp_path / "bad16.json"
    path.write_bytes(GOOD_JSON.decode().encode("utf-16-le") + b"\x00\xd8A\x00")  # a lone surrogate
    results = read_all(path)
    assert outcome(results)[-1] == "malformed" and results[-1].fatal
    assert "not valid UTF-16-LE text" in results[-1].message
    assert run_cli("convert", "-o", os.devnull, path).returncode == 1


# --- 7. exit status ------------------------------------------------------------------------------------------------


def test_exit_status_follows_one_rule(tmp_path):
    good = tmp_path / "good.json"
    good.write_bytes(GOOD_JSON)
    bad = tmp_path / "bad.json"
    bad.write_bytes(GOOD_JSON + b"{not json\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "README.md").write_text("not events")
    (folder / "good.json").write_bytes(GOOD_JSON)
    assert run_cli("convert", "-o", os.devnull, good).returncode == 0
    assert run_cli("convert", "-o", os.devnull, folder).returncode == 0
    assert run_cli("convert", "-o", os.devnull, bad).returncode == 1
    assert run_cli("convert", "--workers", "2", "-o", os.devnull, bad, good).returncode == 1
    assert run_cli("hunt", bad).returncode == 1
    assert run_cli("hunt", good).returncode == 0
    assert run_cli("convert", "--to", "nothing", good).returncode == 2


def test_events_lost_to_a_damaged_evtx_chunk_exit_1(tmp_path):
    path = tmp_path / "overwritten.evtx"
    path.write_bytes(evtx_variants()["overwritten.evtx"])
    result = run_cli("convert", "-o", os.devnull, path)
    assert result.returncode == 1 and "checksum mismatch" in result.stderr
    assert run_cli("hunt", path).returncode == 1


def test_a_header_declaring_too_many_chunks_gives_one_error(tmp_path):
    data = bytearray(evtx_variants()["whole.evtx"])
    struct.pack_into("<H", data, 42, 65535)
    path = tmp_path / "lying.evtx"
    path.write_bytes(bytes(data))
    result = run_cli("convert", "-o", os.devnull, path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("win4658: ")]
    assert errors == [
        f"win4658: {path}: record 0 (byte offset {4096 + 17 * 65536}): EVTX chunks 17-65534: missing: "
        "the header declares 65535 chunks, the file ends after 17 (truncated, or a wrong header); "
        "their records are lost"
    ]
    assert "converted: 77" in result.stderr

"""Every input form yields the same canonical event for the same 4658."""

import io
import json
import tarfile
import zipfile

import pytest

from tests.support.paths import FIXTURES, SAMPLE_XML
from tests.support.sample import one_line
from win4658.event import Event, Origin, ReadStats, RecordError
from win4658.mapping import flatten
from win4658.normalize import to_cim, to_ecs
from win4658.readers import read_paths
from win4658.readers.jsonlines import document_to_event
from win4658.winlogbeat import to_winlogbeat

ALL_IDS = frozenset({4656, 4658, 4663, 4690})


@pytest.fixture(scope="module")
def sample_bytes() -> bytes:
    with open(SAMPLE_XML, "rb") as stream:
        return stream.read()


@pytest.fixture(scope="module")
def sample_event() -> Event:
    return next(read_paths([SAMPLE_XML]))


def events(path, event_ids=frozenset({4658})):
    return list(read_paths([str(path)], event_ids))


def test_atc_indented_rendering_equals_the_documentation_sample(sample_event):
    (event,) = events(f"{FIXTURES}/atc_sample.xml")
    assert to_ecs(event) == to_ecs(sample_event)


def test_one_line_xml_equals_the_rendering(tmp_path, sample_bytes, sample_event):
    path = tmp_path / "one.xml"
    path.write_bytes(one_line(sample_bytes))
    (event,) = events(path)
    assert to_ecs(event) == to_ecs(sample_event)
    assert event.data["ProcessName"] == "C:\\Windows\\explorer.exe"


def test_many_events_one_per_line_and_wrapped(tmp_path, sample_bytes):
    line = one_line(sample_bytes)
    other = line.replace(b"<EventID>4658</EventID>", b"<EventID>4656</EventID>")
    (tmp_path / "lines.xml").write_bytes(b"\n".join([line, other, line]) + b"\n")
    (tmp_path / "wrapped.xml").write_bytes(
        b'<?xml version="1.0" encoding="utf-8"?>\n<Events>' + line + other + line + b"</Events>"
    )
    for name in ("lines.xml", "wrapped.xml"):
        stats = ReadStats()
        found = list(read_paths([str(tmp_path / name)], frozenset({4658}), stats))
        assert [event.origin.record for event in found] == [1, 3]
        assert (stats.records, stats.other_event_id) == (3, 1)
        assert [event.event_id for event in events(tmp_path / name, ALL_IDS)] == [4658, 4656, 4658]


def test_unc_path_in_real_xml_is_kept_verbatim(tmp_path, sample_bytes):
    unc = one_line(sample_bytes).replace(b"C:\\Windows\\explorer.exe", b"\\\\server\\share\\tool.exe")
    (tmp_path / "unc.xml").write_bytes(unc)
    (event,) = events(tmp_path / "unc.xml")
    assert event.data["ProcessName"] == "\\\\server\\share\\tool.exe"
    assert to_ecs(event)["process"] == {"pid": 3824, "executable": "\\\\server\\share\\tool.exe", "name": "tool.exe"}


def test_unc_path_in_a_documentation_rendering_is_unescaped(tmp_path, sample_bytes):
    doubled = sample_bytes.replace(b"C:\\\\Windows\\\\explorer.exe", b"\\\\\\\\server\\\\share\\\\tool.exe")
    (tmp_path / "unc_rendered.xml").write_bytes(doubled)
    (event,) = events(tmp_path / "unc_rendered.xml")
    assert event.data["ProcessName"] == "\\\\server\\share\\tool.exe"


def test_utf16_export_is_read(tmp_path, sample_bytes):
    (tmp_path / "utf16.xml").write_bytes(one_line(sample_bytes).decode().encode("utf-16"))
    (event,) = events(tmp_path / "utf16.xml")
    assert event.data["HandleId"] == "0x18a8"


def test_winlogbeat_8_document_round_trips_to_the_same_ecs(sample_event):
    document = json.loads(json.dumps(to_winlogbeat(sample_event)))
    event = document_to_event(document, Origin("wlb", 1), ALL_IDS)
    assert to_ecs(event) == to_ecs(sample_event)


def test_winlogbeat_8_event_id_as_number_or_string(sample_event):
    document = to_winlogbeat(sample_event)
    document["winlog"]["event_id"] = 4658
    assert document_to_event(document, Origin("wlb", 1), ALL_IDS).event_id == 4658
    del document["winlog"]["event_id"]
    document["event"]["code"] = 4658
    assert document_to_event(document, Origin("wlb", 1), ALL_IDS).event_id == 4658


WINLOGBEAT6 = {
    "@timestamp": "2019-05-18T20:36:53.316Z",
    "task": "Registry",
    "record_number": "287699",
    "thread_id": 6364,
    "event_id": 4658,
    "process_id": 4,
    "opcode": "Info",
    "keywords": ["Audit Success"],
    "provider_guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}",
    "computer_name": "HR001.shire.com",
    "source_name": "Microsoft-Windows-Security-Auditing",
    "log_name": "Security",
    "event_data": {
        "SubjectLogonId": "0x3e4",
        "ObjectServer": "Security",
        "HandleId": "0x174c",
        "ProcessId": "0xd94",
        "ProcessName": "C:\\Windows\\System32\\svchost.exe",
        "SubjectUserSid": "S-1-5-20",
        "SubjectUserName": "HR001$",
        "SubjectDomainName": "SHIRE",
    },
}


def test_winlogbeat_6_shape():
    ecs = flatten(to_ecs(document_to_event(WINLOGBEAT6, Origin("wlb6", 1), ALL_IDS)))
    assert ecs["@timestamp"] == "2019-05-18T20:36:53.316Z"
    assert ecs["host.name"] == "HR001.shire.com"
    assert ecs["process.pid"] == 0xD94
    assert ecs["winlog.task"] == "Registry"
    assert ecs["winlog.keywords"] == ["Audit Success"]
    assert ecs["event.outcome"] == "success"
    assert ecs["winlog.record_id"] == "287699"


NXLOG = {
    "ObjectServer": "Security",
    "Channel": "Security",
    "EventReceivedTime": "2020-09-16 23:40:05",
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "EventType": "AUDIT_SUCCESS",
    "@version": "1",
    "EventTime": "2020-09-16 23:40:04",
    "port": 58056,
    "Task": 12801,
    "Version": 0,
    "RecordNumber": 100601,
    "ThreadID": 4976,
    "EventID": 4658,
    "host": "wec.internal.cloudapp.net",
    "Hostname": "WORKSTATION5.theshire.local",
    "SubjectUserName": "pgustavo",
    "SubjectDomainName": "THESHIRE",
    "Severity": "INFO",
    "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
    "Category": "Registry",
    "HandleId": "0x1768",
    "@timestamp": "2020-09-17T03:40:05.828Z",
    "Keywords": -9214364837600034816,
    "ExecutionProcessID": 4,
    "OpcodeValue": 0,
    "Opcode": "Info",
    "SourceModuleName": "eventlog",
    "ProcessId": "0xbe8",
    "SubjectUserSid": "S-1-5-21-265287011-2876628551-1792472658-1104",
    "tags": ["mordorDataset"],
    "ProcessName": "C:\\Windows\\System32\\conhost.exe",
    "SourceModuleType": "im_msvistalog",
    "SubjectLogonId": "0x29d9ba",
    "SeverityValue": 2,
}


def test_nxlog_flat_shape_recovers_utc_time_and_keywords():
    event = document_to_event(NXLOG, Origin("nxlog", 1), ALL_IDS)
    assert event.system["TimeCreated"] == "2020-09-17T03:40:04Z"  # EventTime was the collector's UTC-4
    assert event.system["Keywords"] == "0x8020000000000000"
    assert set(event.data) == {
        "ObjectServer",
        "HandleId",
        "ProcessId",
        "ProcessName",
        "SubjectUserName",
        "SubjectDomainName",
        "SubjectUserSid",
        "SubjectLogonId",
    }
    ecs = flatten(to_ecs(event))
    assert (ecs["event.outcome"], ecs["winlog.task"], ecs["winlog.opcode"]) == ("success", "Registry", "Info")
    assert ecs["winlog.record_id"] == "100601"


def test_otrf_minimal_export_time_is_utc():
    document = {
        "TimeCreated": "2020-10-18 10:56:14.646",
        "EventID": 4658,
        "Hostname": "WORKSTATION5",
        "HandleId": "0xc4",
        "ProcessId": "0x1a74",
        "ProcessName": "C:\\Users\\wardog\\Desktop\\Outflank-Dumpert.exe",
    }
    event = document_to_event(document, Origin("otrf", 1), ALL_IDS)
    assert event.system["TimeCreated"] == "2020-10-18T10:56:14.646Z"


CLASSIC = """09/22/2015 12:15:42 AM
LogName=Security
EventCode=4658
EventType=0
ComputerName=DC01.contoso.local
SourceName=Microsoft Windows security auditing.
Type=Information
RecordNumber=276724
Keywords=Audit Success
TaskCategory=File System
OpCode=Info
Message=The handle to an object was closed.

Subject :
\tSecurity ID:\t\tS-1-5-21-3457937927-2839227994-823803824-1104
\tAccount Name:\t\tdadmin
\tAccount Domain:\t\tCONTOSO
\tLogon ID:\t\t0x4367b

Object:
\tObject Server:\t\tSecurity
\tHandle ID:\t\t0x18a8

Process Information:
\tProcess ID:\t\t0xef0
\tProcess Name:\t\tC:\\Windows\\explorer.exe
"""


def test_classic_wineventlog_text_gives_the_same_cim(tmp_path, sample_event):
    (tmp_path / "classic.log").write_text(
        CLASSIC + "\n" + CLASSIC.replace("RecordNumber=276724", "RecordNumber=276725")
    )
    found = events(tmp_path / "classic.log")
    assert [event.system["EventRecordID"] for event in found] == ["276724", "276725"]
    assert to_cim(found[0]) == to_cim(sample_event)
    ecs = flatten(to_ecs(found[0]))
    assert ecs["@timestamp"] == "2015-09-22T00:15:42Z"
    assert (ecs["winlog.task"], ecs["winlog.keywords"], ecs["event.outcome"]) == (
        "File System",
        ["Audit Success"],
        "success",
    )


def test_event_id_filter(tmp_path, sample_bytes):
    line = one_line(sample_bytes)
    others = [line.replace(b"<EventID>4658<", f"<EventID>{i}<".encode()) for i in (4656, 4663, 4690, 4624)]
    (tmp_path / "mixed.xml").write_bytes(b"\n".join([line, *others]))
    assert [e.event_id for e in events(tmp_path / "mixed.xml")] == [4658]
    assert [e.event_id for e in events(tmp_path / "mixed.xml", ALL_IDS)] == [4658, 4656, 4663, 4690]


def test_zip_and_tar_gz_archives_are_read_directly(tmp_path, sample_event):
    line = json.dumps(to_winlogbeat(sample_event)).encode() + b"\n"
    with zipfile.ZipFile(tmp_path / "events.zip", "w") as archive:
        archive.writestr("a.json", line * 2)
        archive.writestr("b.json", line)
    data = line * 3
    with tarfile.open(tmp_path / "events.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("c.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    found = events(tmp_path / "events.zip") + events(tmp_path / "events.tar.gz")
    assert [str(event.origin).split("/")[-1] for event in found] == [
        "events.zip!a.json: record 1 (byte offset 0)",
        f"events.zip!a.json: record 2 (byte offset {len(line)})",
        "events.zip!b.json: record 1 (byte offset 0)",
        "events.tar.gz!c.json: record 1 (byte offset 0)",
        f"events.tar.gz!c.json: record 2 (byte offset {len(line)})",
        f"events.tar.gz!c.json: record 3 (byte offset {2 * len(line)})",
    ]
    assert all(to_ecs(event) == to_ecs(sample_event) for event in found)


def test_directory_skips_and_counts_files_without_events(tmp_path, sample_bytes):
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "a.xml").write_bytes(one_line(sample_bytes))
    results = events(tmp_path)
    assert [type(result) for result in results] == [RecordError, Event]  # files in name order
    assert results[0].reason == "not an event file" and not results[0].fatal


def test_json_null_and_structured_event_data_values_become_text():
    document = {
        "EventID": 4658,
        "ProcessId": "0x10",
        "SubjectUserName": None,
        "RestrictedSidCount": 0,
        "Extra": {"a": 1},
    }
    event = document_to_event(document, Origin("nulls", 1), ALL_IDS)
    assert event.data["SubjectUserName"] == "" and "user" not in to_ecs(event)
    assert (event.data["RestrictedSidCount"], event.data["Extra"]) == ("0", '{"a": 1}')

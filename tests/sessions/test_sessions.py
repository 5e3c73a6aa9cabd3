"""Handle sessions: the record of each handle, its access names, its ECS and CIM names, and the local ways to get
them (convert --to sessions, convert --enrich, hunt --sessions)."""

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.support.paths import ROOT, corpus_path
from tests.support.reversed_files import reversed_copy
from win4658 import reference
from win4658.cli import main
from win4658.detections.fields import installed
from win4658.detections.lifetime import HandleTracker
from win4658.detections.local_hunt import Hunt
from win4658.event import Event, Origin
from win4658.sessions.access import access_names
from win4658.sessions.fields import PLATFORMS, read_session_spec, resolved, session_spec, to_cim, to_ecs
from win4658.sessions.record import session_record
from win4658.sessions.stream import handle_sessions, session_hunt
from win4658.times import time_ns

MAPPINGS = os.path.join(ROOT, "mappings")
WRITTEN = read_session_spec(os.path.join(MAPPINGS, "session.yml"))  # session.yml as written, names unresolved
DUMPERT = ("json", "cmd_lsass_memory_dumpert_syscalls.zip")


def _sessions(paths, window=10_000, max_open=50_000):
    hunt = session_hunt(window, max_open)
    return [item for item in handle_sessions(paths, hunt) if isinstance(item, dict)], hunt.summary


# --- the fields: schema, ECS, CIM -----------------------------------------------------------------------------


def test_session_fields_validate_against_their_schema():
    with open(os.path.join(MAPPINGS, "session.schema.json"), encoding="utf-8") as stream:
        schema = json.load(stream)
    Draft202012Validator.check_schema(schema)
    assert [error.message for error in Draft202012Validator(schema).iter_errors(WRITTEN)] == []
    assert [error.message for error in Draft202012Validator(schema).iter_errors(session_spec())] == []
    first = WRITTEN["fields"][0]
    bad = [
        dict(first, type="text"),
        {name: value for name, value in first.items() if name != "cim"},
        dict(first, event_field="ProcessName"),
        dict(first, event_field="basename(ProcessName)"),
    ]
    assert [Draft202012Validator(schema).is_valid(dict(WRITTEN, fields=[field])) for field in bad] == [False] * 4
    assert Draft202012Validator(schema).is_valid(
        dict(
            WRITTEN,
            fields=[
                {
                    "name": "process_name",
                    "type": "keyword",
                    "event_field": "basename(EventData.ProcessName)",
                    "description": "d",
                }
            ],
        )
    )


def test_fields_carrying_an_event_field_take_the_event_mappings_names():
    """session.yml names no ECS or CIM field the event mappings already give the event field it carries."""
    by_name = {field["name"]: field for field in session_spec()["fields"]}
    assert {
        name: (by_name[name]["ecs"], by_name[name]["cim"])
        for name in ("host", "user_sid", "user_name", "user_domain", "process_id", "process_executable", "process_name")
    } == {
        "host": ("host.name", "dest"),
        "user_sid": ("user.id", "user_id"),
        "user_name": ("user.name", "user"),
        "user_domain": ("user.domain", "src_nt_domain"),
        "process_id": ("process.pid", "process_id"),
        "process_executable": ("process.executable", "process_path"),
        "process_name": ("process.name", "process_name"),
    }
    assert (by_name["logon_id"]["cim"], by_name["object_name"]["cim"], by_name["object_basename"]["cim"]) == (
        "session_id",
        "object_path",
        "object",
    )
    names = {platform: installed(platform) for platform in PLATFORMS}
    declared = [
        (field["name"], platform)
        for field in WRITTEN["fields"]
        if "event_field" in field
        for platform in PLATFORMS
        if platform in field
    ]
    # a declared name is one the event mapping does not give: none there (raw EventData only), or another
    assert all(
        names[platform].of(by_name[name]["event_field"]) != by_name[name][platform] for name, platform in declared
    )
    assert sorted(declared) == [
        ("handle_id", "cim"),
        ("handle_id", "ecs"),
        ("logon_id", "ecs"),
        ("object_basename", "ecs"),
        ("object_name", "ecs"),
        ("object_server", "cim"),
        ("object_server", "ecs"),
        ("object_type", "cim"),
        ("object_type", "ecs"),
        ("process_id_hex", "cim"),
        ("process_id_hex", "ecs"),
    ]


def test_a_field_the_event_mapping_does_not_name_must_declare_its_names():
    field = {"name": "object_server", "type": "keyword", "event_field": "EventData.ObjectServer", "description": "d"}
    with pytest.raises(
        ValueError,
        match="field object_server: mappings/ecs.yml gives EventData.ObjectServer no "
        "target of its own; declare its ecs name",
    ):
        resolved(dict(WRITTEN, fields=[field]), {platform: installed(platform) for platform in PLATFORMS})


def test_ecs_targets_are_ecs_fields_of_the_same_type_or_in_the_custom_namespace():
    ecs = reference.ecs_fields()
    spec = session_spec()
    custom = spec["ecs_custom_namespace"] + "."
    assert spec["ecs_version"] == yaml.safe_load(open(os.path.join(MAPPINGS, "ecs.yml")))["ecs_version"]
    for field in spec["fields"]:
        if field["ecs"].startswith(custom):
            assert field["ecs"] not in ecs
        else:
            assert ecs[field["ecs"]]["type"] == field["type"], field
    by_name = {field["name"]: field for field in spec["fields"]}
    for targets in spec["ecs_by_object_type"].values():
        for name, target in targets.items():
            assert ecs[target]["type"] == by_name[name]["type"], target
    for target in spec["ecs_constants"]:
        assert ecs[target]["type"] == "keyword", target
    assert all(
        name.split(".")[0] in ("event", "host", "user", "process", "file", "registry", "ecs", "win4658")
        for name in [field["ecs"] for field in spec["fields"]]
    )


def test_cim_targets_are_cim_fields_or_carry_the_custom_prefix():
    cim_fields = {field for dataset in reference.cim_datasets() for field in dataset["fields"]}
    spec = session_spec()
    targets = [field["cim"] for field in spec["fields"]] + list(spec["cim_constants"])
    assert len(targets) == len(set(targets))
    # the names resolved through cim.yml may be its own extra fields (src_nt_domain)
    with open(os.path.join(MAPPINGS, "cim.yml"), encoding="utf-8") as stream:
        extra = set(spec["cim_extra_fields"]) | set(yaml.safe_load(stream)["extra_fields"])
    for target in targets:
        if target.startswith(spec["cim_custom_prefix"]):
            assert target not in cim_fields
        else:
            assert target in cim_fields or target in extra, target


def test_every_field_has_one_ecs_and_one_cim_name():
    names = [field["name"] for field in session_spec()["fields"]]
    assert len(names) == len(set(names))
    assert len({field["ecs"] for field in session_spec()["fields"]}) == len(names)


# --- access rights ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "object_type, mask, names",
    [
        ("Key", 0x20019, ("KEY_QUERY_VALUE", "KEY_ENUMERATE_SUB_KEYS", "KEY_NOTIFY", "READ_CONTROL")),
        ("File", 0x120089, ("FILE_READ_DATA", "FILE_READ_EA", "FILE_READ_ATTRIBUTES", "READ_CONTROL", "SYNCHRONIZE")),
        ("Process", 0x1410, ("PROCESS_VM_READ", "PROCESS_QUERY_INFORMATION", "PROCESS_QUERY_LIMITED_INFORMATION")),
        (
            "SAM_SERVER",
            0x20031,
            ("SAM_SERVER_CONNECT", "SAM_SERVER_ENUMERATE_DOMAINS", "SAM_SERVER_LOOKUP_DOMAIN", "READ_CONTROL"),
        ),
        ("SERVICE OBJECT", 0x14, ("SERVICE_QUERY_STATUS", "SERVICE_START")),
        ("Token", 0x8, ("TOKEN_QUERY",)),
        ("Thread", 0x1000, ("THREAD_RESUME",)),
        ("Unknown", 0x10001, ("DELETE", "0x1")),  # a type no table knows: standard bits named, the rest in hex
        (None, 0x80000000, ("GENERIC_READ",)),
    ],
)
def test_access_masks_are_named_by_object_type(object_type, mask, names):
    assert access_names(object_type, mask) == names


def test_every_access_table_names_distinct_bits_below_the_standard_rights():
    with open(os.path.join(MAPPINGS, "access_rights.yml"), encoding="utf-8") as stream:
        rights = yaml.safe_load(stream)
    for object_type, table in rights["object_types"].items():
        bits = [int(bit, 16) for bit in table]
        assert all(bit < 0x10000 and bit & (bit - 1) == 0 for bit in bits), object_type
        assert len(set(table.values())) == len(table), object_type
    assert all(int(bit, 16) >= 0x10000 for bit in rights["standard"])


# --- the session record ----------------------------------------------------------------------------------------


def _event(event_id, seconds, handle="0x10", record=0, **data):
    system = {
        "EventID": event_id,
        "Computer": "WS1",
        "Keywords": "0x8020000000000000",
        "TimeCreated": f"2026-01-01T00:00:{seconds:09.6f}Z",
        "EventRecordID": record,
    }
    fields = {
        "ProcessId": "0x4d0",
        "HandleId": handle,
        "ProcessName": r"C:\Windows\System32\svchost.exe",
        "SubjectUserSid": "S-1-5-18",
        "SubjectUserName": "WS1$",
        "SubjectDomainName": "CONTOSO",
        "SubjectLogonId": "0x3e7",
        **data,
    }
    return Event(system, fields, Origin("test", record))


def _tracked(events, max_open=50_000):
    lifetimes = []
    tracker = HandleTracker(max_open, on_end=lifetimes.append)
    for event in events:
        tracker.observe(event, time_ns(event.system["TimeCreated"]))
    tracker.end()
    return [session_record(lifetime) for lifetime in lifetimes]


def test_a_closed_session_holds_the_open_the_accesses_and_the_close():
    opened = _event(
        4656,
        1.25,
        record=1,
        ObjectServer="Security",
        ObjectType="File",
        ObjectName=r"C:\secret.txt",
        AccessMask="0x120089",
        PrivilegeList="SeBackupPrivilege\r\n\t\t\tSeRestorePrivilege",
    )
    records = _tracked(
        [
            opened,
            _event(4663, 2, record=2, AccessMask="0x1"),
            _event(4663, 3, record=3, AccessMask="0x80"),
            _event(4658, 4.75, record=4),
        ]
    )
    assert records == [
        {
            "start": "2026-01-01T00:00:01.250000Z",
            "end": "2026-01-01T00:00:04.750000Z",
            "ending": "closed",
            "host": "WS1",
            "process_id": 0x4D0,
            "process_id_hex": "0x4d0",
            "handle_id": "0x10",
            "access_count": 2,
            "duration_ns": 3_500_000_000,
            "duration_seconds": 3.5,
            "user_sid": "S-1-5-18",
            "user_name": "WS1$",
            "user_domain": "CONTOSO",
            "logon_id": "0x3e7",
            "process_executable": r"C:\Windows\System32\svchost.exe",
            "process_name": "svchost.exe",
            "object_server": "Security",
            "object_type": "File",
            "object_name": r"C:\secret.txt",
            "object_basename": "secret.txt",
            "access_requested_mask": "0x120089",
            "access_requested": [
                "FILE_READ_DATA",
                "FILE_READ_EA",
                "FILE_READ_ATTRIBUTES",
                "READ_CONTROL",
                "SYNCHRONIZE",
            ],
            "access_used_mask": "0x81",
            "access_used": ["FILE_READ_DATA", "FILE_READ_ATTRIBUTES"],
            "privileges": ["SeBackupPrivilege", "SeRestorePrivilege"],
            "open_record_id": "1",
            "close_record_id": "4",
        }
    ]
    ecs = to_ecs(records[0])
    assert (ecs["event"]["start"], ecs["event"]["end"], ecs["event"]["duration"]) == (
        "2026-01-01T00:00:01.250000Z",
        "2026-01-01T00:00:04.750000Z",
        3_500_000_000,
    )
    assert ecs["file"] == {"path": r"C:\secret.txt", "name": "secret.txt"} and "registry" not in ecs
    assert ecs["win4658"]["handle"]["access"]["used"] == ["FILE_READ_DATA", "FILE_READ_ATTRIBUTES"]
    cim = to_cim(records[0])
    assert (cim["dest"], cim["object_path"], cim["object_category"], cim["duration"], cim["process_id"]) == (
        "WS1",
        r"C:\secret.txt",
        "File",
        3.5,
        0x4D0,
    )


def test_every_way_a_handle_ends_is_a_session():
    events = [
        _event(4656, 1, handle="0x1", record=1, ObjectType="Key", ObjectName=r"\REGISTRY\MACHINE\SAM"),
        _event(4656, 2, handle="0x2", record=2),
        _event(4656, 3, handle="0x1", record=3, ObjectType="Key"),  # reuses 0x1: the first open was not closed
        _event(4656, 4, handle="0x3", record=4),  # past max_open=2: 0x2, the oldest open, is forgotten
        _event(4658, 5, handle="0x9", record=5),  # no open
        _event(4658, 6, handle="0x1", record=6),
    ]
    records = _tracked(events, max_open=2)
    assert [(record["handle_id"], record["ending"]) for record in records] == [
        ("0x1", "reused_before_close"),
        ("0x2", "forgotten_over_limit"),
        ("0x9", "close_without_open"),
        ("0x1", "closed"),
        ("0x3", "open_at_end"),
    ]
    reused = records[0]
    assert "end" not in reused and "duration_ns" not in reused and reused["open_record_id"] == "1"
    assert to_ecs(reused)["registry"] == {"path": r"\REGISTRY\MACHINE\SAM"}
    unmatched = records[2]
    assert "start" not in unmatched and unmatched["close_record_id"] == "5" and unmatched["user_name"] == "WS1$"
    assert to_ecs(unmatched)["@timestamp"] == "2026-01-01T00:00:05.000000Z"


# --- sessions of the corpus -------------------------------------------------------------------------------------


def test_corpus_sessions_agree_with_hunts_pairing():
    corpus = corpus_path()
    records, summary = _sessions([corpus])
    lifetime = summary.lifetime
    assert Counter(record["ending"] for record in records) == {
        "closed": lifetime["paired"],
        "close_without_open": lifetime["unmatched_closes"],
        "open_at_end": lifetime["still_open"],
    }
    assert (lifetime["paired"], lifetime["unmatched_closes"], lifetime["still_open"]) == (2491, 2928, 23)
    hunt = Hunt(long_handle_seconds=-1)
    durations = sorted(
        (finding.host, finding.handle_id, finding.details["opened"], finding.details["duration_seconds"])
        for finding in hunt.run([corpus])
        if getattr(finding, "number", None) == 6
    )
    assert (
        sorted(
            (record["host"], record["handle_id"], record["start"], record["duration_seconds"])
            for record in records
            if record["ending"] == "closed"
        )
        == durations
    )
    assert sum(record["access_count"] for record in records) == lifetime["accesses"]


def test_the_dumpert_lsass_handle_session():
    records, _summary = _sessions([corpus_path(*DUMPERT)])
    lsass = next(record for record in records if record["handle_id"] == "0xc4")
    assert (lsass["start"], lsass["end"], lsass["duration_ns"], lsass["object_type"]) == (
        "2020-10-18T10:56:14.368000Z",
        "2020-10-18T10:56:14.646000Z",
        278_000_000,
        "Process",
    )
    assert lsass["object_name"] == r"\Device\HarddiskVolume2\Windows\System32\lsass.exe"
    assert (lsass["access_requested_mask"], lsass["access_used"], lsass["access_count"]) == (
        "0x1fffff",
        ["PROCESS_VM_READ"],
        1,
    )
    assert lsass["process_executable"] == r"C:\Users\wardog\Desktop\Outflank-Dumpert.exe"


@pytest.mark.parametrize(
    "relative",
    [
        "json/empire_enable_rdp.tar.gz",
        "json/cmd_sharpview_pcre_net.zip",
        "evtx/EVTX-to-MITRE-Attack/ID4688_6416_4648-SystemNightMare.evtx",
    ],
)
def test_a_reversed_copy_gives_the_same_sessions(relative, tmp_path):
    original = corpus_path(*relative.split("/"))
    forward, _summary = _sessions([original])
    backward, _summary = _sessions([reversed_copy(original, str(tmp_path))])
    assert sorted(map(json.dumps, forward)) == sorted(map(json.dumps, backward))


# --- the command line -------------------------------------------------------------------------------------------


def _lines(capsys, *argv):
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _converted(tmp_path, *argv):
    output = tmp_path / "out.ndjson"
    assert main(["convert", "-o", str(output), *argv]) == 0
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def test_convert_to_sessions_writes_ecs_or_cim(tmp_path):
    path = corpus_path(*DUMPERT)
    records, _summary = _sessions([path])
    assert _converted(tmp_path, "--to", "sessions", path) == [to_ecs(record) for record in records]
    assert _converted(tmp_path, "--to", "sessions", "--fields", "cim", path) == [to_cim(record) for record in records]
    assert len(records) == 6


def test_convert_enrich_gives_each_paired_close_the_object_of_its_open(tmp_path):
    path = corpus_path("json", "empire_enable_rdp.tar.gz")
    plain = _converted(tmp_path, "--to", "cim", path)
    enriched = _converted(tmp_path, "--to", "cim", "--enrich", path)
    assert len(plain) == len(enriched) == 12
    assert not any("object_path" in document for document in plain)
    records, _summary = _sessions([path])
    expected = Counter(
        (record["handle_id"], record["object_name"]) for record in records if record["ending"] == "closed"
    )
    assert (
        Counter((document["HandleId"], document["object_path"]) for document in enriched if "object_path" in document)
        == expected
    )
    assert sum(expected.values()) == 6


def test_hunt_json_lists_the_sessions_when_asked(capsys):
    path = corpus_path(*DUMPERT)
    records, _summary = _sessions([path])
    lines = _lines(capsys, "hunt", "--format", "json", "--sessions", path)
    assert [line["session"] for line in lines if "session" in line] == records
    without = _lines(capsys, "hunt", "--format", "json", path)
    assert [line for line in lines if "session" not in line] == without


def test_convert_refuses_workers_with_sessions(capsys):
    assert main(["convert", "--to", "sessions", "--workers", "2", corpus_path(*DUMPERT)]) == 2
    assert "--workers" in capsys.readouterr().err


NO_HANDLE_EVENTS = [  # a close with ProcessId "-", a close without HandleId, an open without ProcessId
    {
        "winlog": {
            "event_id": 4658,
            "computer_name": "h1",
            "record_id": 1,
            "event_data": {"HandleId": "0x10", "ProcessId": "-", "ProcessName": "C:\\x.exe"},
        },
        "@timestamp": "2024-01-01T00:00:00Z",
    },
    {
        "winlog": {
            "event_id": 4658,
            "computer_name": "h1",
            "record_id": 2,
            "event_data": {"ProcessId": "0x4", "ProcessName": "C:\\x.exe"},
        },
        "@timestamp": "2024-01-01T00:00:01Z",
    },
    {
        "winlog": {
            "event_id": 4656,
            "computer_name": "h1",
            "record_id": 3,
            "event_data": {
                "ObjectType": "File",
                "ObjectName": "C:\\f",
                "HandleId": "0x20",
                "AccessMask": "0x1",
                "ProcessName": "C:\\x.exe",
            },
        },
        "@timestamp": "2024-01-01T00:00:02Z",
    },
]


def _win4658(*argv):
    return subprocess.run([sys.executable, "-m", "win4658", *argv], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("argv", [["convert", "--to", "sessions"], ["hunt", "--sessions", "--format", "json"]])
def test_an_event_that_names_no_handle_is_an_error_not_a_session(tmp_path, argv):
    events = tmp_path / "no-handle.jsonl"
    events.write_text("".join(json.dumps(event) + "\n" for event in NO_HANDLE_EVENTS), encoding="utf-8")
    result = _win4658(*argv, str(events))
    assert result.returncode == 1 and '"session"' not in result.stdout and "handle_session" not in result.stdout
    assert [line for line in result.stderr.splitlines() if "names no handle" in line] == [
        f"win4658: {events}: record {record} (byte offset {offset}): a {event_id} with no readable ProcessId or "
        "HandleId names no handle: no handle session"
        for record, offset, event_id in _offsets(events)
    ]


def _offsets(path):
    offset, rows = 0, []
    for number, line in enumerate(path.read_bytes().splitlines(keepends=True), start=1):
        rows.append((number, offset, json.loads(line)["winlog"]["event_id"]))
        offset += len(line)
    return rows


def test_an_event_that_names_no_handle_is_no_error_for_hunt_without_sessions(tmp_path):
    events = tmp_path / "no-handle.jsonl"
    events.write_text("".join(json.dumps(event) + "\n" for event in NO_HANDLE_EVENTS), encoding="utf-8")
    result = _win4658("hunt", "--format", "json", str(events))
    assert result.returncode == 0 and "names no handle" not in result.stderr

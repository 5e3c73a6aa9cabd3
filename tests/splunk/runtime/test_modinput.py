"""The packaged modular input, run exactly as splunkd runs it, under Python 3.9 (Splunk 9.x) and 3.13 (Splunk 10.x).

The package is built and unpacked into a temporary folder; `bin/win4658_files.py` is started with the
interpreter, the input-definition XML on stdin, and its `<stream><event>` output is parsed.
"""

import collections
import html
import io
import json
import os
import random
import re
import resource
import signal
import stat
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import pytest
from splunklib.modularinput import EventWriter

from tests.support.paths import SAMPLE_XML, corpus_path
from tests.support.spl_eval import comparable_fields, expected_fields, search_time_fields
from tests.support.splunkd import (
    EVTX_SOURCE,
    event_keys,
    events_of,
    evtx_first_chunks,
    input_definition,
    interpreter,
    run_input,
    start_input,
)
from win4658.event import Event, Origin
from win4658.readers import read_paths
from win4658.readers.xml import parse_event_xml
from win4658.splunk.package import build_package, extract_package
from win4658.splunk.runtime.modinput import BATCH, FileReader, StopFlag
from win4658.winlogbeat import to_winlogbeat

FAMILY = frozenset({4656, 4658, 4663})


def _sample():
    return next(result for result in read_paths([SAMPLE_XML]) if isinstance(result, Event))


def _numbered(record_id, computer="DC01.contoso.local"):
    sample = _sample()
    system = dict(sample.system, EventRecordID=str(record_id), Computer=computer)
    data = dict(sample.data, HandleId=hex(record_id))
    return Event(system, data, Origin("generated", record_id))


def write_jsonlines(path, record_ids, computer="DC01.contoso.local"):
    with open(path, "a", encoding="utf-8") as stream:
        for record_id in record_ids:
            stream.write(json.dumps(to_winlogbeat(_numbered(record_id, computer))) + "\n")


def write_xml(path, record_ids, computer="DC01.contoso.local"):
    from win4658.splunk.runtime.render import render_event_xml

    with open(path, "a", encoding="utf-8") as stream:
        for record_id in record_ids:
            stream.write(render_event_xml(_numbered(record_id, computer)) + "\n")


def input_dirs(tmp_path):
    """A folder to read and an empty checkpoint folder, as splunkd gives each input."""
    data, checkpoints = tmp_path / "data", tmp_path / "checkpoints"
    data.mkdir()
    checkpoints.mkdir()
    return data, checkpoints


def test_scheme_declares_the_arguments(python, app_dir):
    code, stdout, stderr = run_input(python, app_dir, "", "--scheme")
    assert code == 0, stderr
    scheme = ET.fromstring(stdout)
    names = [arg.get("name") for arg in scheme.iter("arg")]
    assert names == ["path", "recursive", "event_ids"]
    assert scheme.findtext("streaming_mode") == "xml" and scheme.findtext("use_external_validation") == "true"


def _validation(checkpoint_dir, **parameters):
    params = "".join(f'<param name="{name}">{html.escape(str(value))}</param>' for name, value in parameters.items())
    return (
        f"<items><server_host>sh</server_host><server_uri>https://127.0.0.1:8089</server_uri>"
        f"<session_key>k</session_key><checkpoint_dir>{checkpoint_dir}</checkpoint_dir>"
        f'<item name="test">{params}</item></items>'
    )


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"path": "/nonexistent/win4658", "event_ids": "4658"}, "path '/nonexistent/win4658' does not exist"),
        ({"path": "/nonexistent/dir/*.evtx"}, "the directory of the pattern does not exist"),
        ({"path": "."}, None),
        ({"path": ".", "event_ids": "4658,4624"}, "event_ids: '4624' is not a supported event id"),
        ({"path": ".", "event_ids": "46x8"}, "event_ids: '46x8' is not a supported event id"),
        ({"path": ".", "event_ids": " , "}, "event_ids is empty"),
        ({"path": ""}, "path is required"),
    ],
)
def test_validate_arguments(python, app_dir, tmp_path, parameters, message):
    code, stdout, stderr = run_input(python, app_dir, _validation(tmp_path, **parameters), "--validate-arguments")
    if message is None:
        assert (code, stdout) == (0, ""), stderr
    else:
        assert code == 1
        assert message in ET.fromstring(stdout).findtext("message")


def test_validate_rejects_an_unreadable_file(python, app_dir, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: every file is readable")
    secret = tmp_path / "secret.xml"
    secret.write_text("<Event/>")
    secret.chmod(0)
    code, stdout, _stderr = run_input(python, app_dir, _validation(tmp_path, path=str(secret)), "--validate-arguments")
    assert code == 1 and "is not readable by the Splunk user" in ET.fromstring(stdout).findtext("message")


def test_streams_xml_and_json_as_xmlwineventlog(python, app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    (data / "sample.xml").write_bytes(open(SAMPLE_XML, "rb").read())
    write_jsonlines(data / "winlogbeat.json", range(1, 6))
    code, stdout, stderr = run_input(python, app_dir, input_definition(checkpoints, data, index="wineventlog"))
    assert code == 0, stderr
    events = events_of(stdout)
    assert len(events) == 6
    first = events[0]
    assert (
        first.findtext("source"),
        first.findtext("sourcetype"),
        first.findtext("index"),
        first.findtext("host"),
    ) == ("XmlWinEventLog:Security", "XmlWinEventLog", "wineventlog", "DC01.contoso.local")
    assert first.findtext("time") == "1442880942.910"
    raw = first.findtext("data")
    assert (
        raw.startswith("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>")
        and "\n" not in raw
    )
    parsed = parse_event_xml(raw.encode("utf-8"), Origin("stream", 1))
    assert (parsed.system, parsed.data) == (_sample().system, _sample().data)
    assert sorted(event_keys(stdout)) == [("DC01.contoso.local", n) for n in [1, 2, 3, 4, 5, 276724]]
    assert "sent 6 events from 2 files" in stderr


def test_second_run_sends_nothing_and_growth_is_continued(python, app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    write_jsonlines(data / "a.json", range(1, 11))
    definition = input_definition(checkpoints, data)
    assert len(events_of(run_input(python, app_dir, definition)[1])) == 10
    assert events_of(run_input(python, app_dir, definition)[1]) == []
    write_jsonlines(data / "a.json", range(11, 14))
    assert [key[1] for key in event_keys(run_input(python, app_dir, definition)[1])] == [11, 12, 13]


def test_a_half_written_line_is_sent_once_complete(python, app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    write_jsonlines(data / "a.json", range(1, 3))
    line = json.dumps(to_winlogbeat(_numbered(3))) + "\n"
    with open(data / "a.json", "a") as stream:
        stream.write(line[:40])
    definition = input_definition(checkpoints, data)
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert [key[1] for key in event_keys(stdout)] == [1, 2] and "WARN" in stderr and "invalid JSON" in stderr
    with open(data / "a.json", "a") as stream:
        stream.write(line[40:])
    assert [key[1] for key in event_keys(run_input(python, app_dir, definition)[1])] == [3]


def test_renamed_file_is_recognised_and_truncated_file_read_again(python, app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    write_jsonlines(data / "current.json", range(1, 21))
    definition = input_definition(checkpoints, data)
    assert len(event_keys(run_input(python, app_dir, definition)[1])) == 20
    os.rename(data / "current.json", data / "rotated.json")
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert event_keys(stdout) == [] and "rotated.json: renamed file, continuing" in stderr
    with open(data / "rotated.json", "r+") as stream:
        lines = stream.readlines()
        stream.seek(0)
        stream.truncate()
        stream.writelines(lines[:5])
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert [key[1] for key in event_keys(stdout)] == [1, 2, 3, 4, 5] and "truncated: read again" in stderr


def test_files_with_the_same_head_are_told_apart(python, app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    write_jsonlines(data / "a.json", range(1, 40))
    write_jsonlines(data / "b.json", range(1, 40))
    write_jsonlines(data / "b.json", [100])
    keys = event_keys(run_input(python, app_dir, input_definition(checkpoints, data))[1])
    assert len(keys) == 39 + 40


def test_corrupt_checkpoint_is_reported_and_reading_starts_over(python, app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    write_jsonlines(data / "a.json", range(1, 4))
    definition = input_definition(checkpoints, data)
    run_input(python, app_dir, definition)
    (checkpoints / "test.json").write_text('{"version": 1, "files": [{"path": ')
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert code == 0 and len(event_keys(stdout)) == 3
    assert "ERROR win4658_files://test: checkpoint unreadable" in stderr and "may be sent again" in stderr
    assert (checkpoints / "test.json.corrupt").read_text().startswith('{"version": 1, "files": [{"path": ')
    assert event_keys(run_input(python, app_dir, definition)[1]) == []


def test_evtx_without_the_evtx_package_is_reported_and_the_rest_is_read(python, app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    (data / "Security.evtx").write_bytes(b"ElfFile\x00" + bytes(4088))
    write_jsonlines(data / "a.json", range(1, 3))
    code, stdout, stderr = run_input(python, app_dir, input_definition(checkpoints, data))
    assert code == 0 and len(event_keys(stdout)) == 2
    assert "Security.evtx: record 0: cannot read file: reading EVTX needs the 'evtx' package" in stderr


def _crash_dataset(directory):
    """Several files and forms; every event has a distinct (Computer, EventRecordID)."""
    expected = []
    for index in range(6):
        computer = f"HOST{index}.contoso.local"
        ids = range(1, 401)
        (write_xml if index % 2 else write_jsonlines)(
            directory / f"part{index}.{'xml' if index % 2 else 'json'}", ids, computer
        )
        expected += [(computer, record_id) for record_id in ids]
    return sorted(expected)


def _stopped_then_finished(version, app_dir, tmp_path, stop_signal, runs, seed):
    """``runs`` runs of the input over the crash dataset, each sent ``stop_signal`` at a random moment, then one run
    to the end: (the events expected, the events received over all runs, how many runs the signal ended)."""
    python = interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    expected = _crash_dataset(data)
    definition = input_definition(checkpoints, data)
    received, stopped = [], 0
    randomness = random.Random(seed)
    for _attempt in range(runs):
        code, stdout, _stderr = run_input(
            python, app_dir, definition, stop_after=randomness.uniform(0.05, 0.8), stop_signal=stop_signal
        )
        received += event_keys(stdout)
        stopped += code == -stop_signal
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert code == 0, stderr
    return expected, received + event_keys(stdout), stopped


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_sigkill_at_random_points_loses_nothing_and_repeats_at_most_a_batch(version, app_dir, tmp_path):
    expected, received, kills = _stopped_then_finished(version, app_dir, tmp_path, signal.SIGKILL, 8, seed=4658)
    assert sorted(set(received)) == expected
    assert len(received) - len(expected) <= kills * BATCH


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_sigterm_at_random_points_sends_nothing_twice(version, app_dir, tmp_path):
    expected, received, _stopped = _stopped_then_finished(version, app_dir, tmp_path, signal.SIGTERM, 6, seed=4656)
    assert sorted(received) == expected


@pytest.mark.parametrize("corpus_file", ["json/cmd_sharpview_pcre_net.zip", "json/empire_enable_rdp.tar.gz"])
def test_json_inputs_get_the_same_cim_fields_at_search_time_as_read_directly(corpus_file, app_dir, tmp_path):
    source = corpus_path(*corpus_file.split("/"))
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    code, stdout, stderr = run_input(interpreter("3.13"), app_dir, input_definition(checkpoints, source))
    assert code == 0, stderr
    direct = [event for event in read_paths([source], FAMILY) if isinstance(event, Event)]
    emitted = [element.findtext("data") for element in events_of(stdout)]
    assert (
        len(emitted)
        == len(direct)
        == {"json/cmd_sharpview_pcre_net.zip": 34 + 17 + 6, "json/empire_enable_rdp.tar.gz": 12 + 6 + 6}[corpus_file]
    )
    for raw, event in zip(emitted, direct):
        assert comparable_fields(
            search_time_fields(raw, "XmlWinEventLog", "XmlWinEventLog:Security")
        ) == expected_fields(event)


NATIVE_LINE = (
    '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider '
    'Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}"/><EventID>4658</EventID>'
    "<Version>0</Version><Level>0</Level><Task>12800</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
    '<TimeCreated SystemTime="2015-09-22T00:15:42.910428100Z"/><EventRecordID>276725</EventRecordID>'
    '<Correlation ActivityID="{A1B2C3D4-0000-0000-0000-000000000000}"/><Execution ProcessID="4" ThreadID="5056"/>'
    "<Channel>Security</Channel><Computer>DC01.contoso.local</Computer><Security/></System><EventData>"
    '<Data Name="SubjectUserSid">S-1-5-18</Data><Data Name="SubjectUserName">DC01$</Data>'
    '<Data Name="SubjectDomainName">CONTOSO</Data><Data Name="SubjectLogonId">0x3e7</Data>'
    '<Data Name="ObjectServer">Security</Data><Data Name="HandleId">0x1c4</Data><Data Name="ProcessId">0x26c</Data>'
    '<Data Name="ProcessName">C:\\Windows\\System32\\lsass.exe</Data></EventData></Event>'
)


def test_one_line_xml_is_sent_with_the_files_own_bytes(app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    other = NATIVE_LINE.replace("<EventID>4658<", "<EventID>4624<")
    (data / "native.xml").write_text(
        f"{other}\r\n{NATIVE_LINE}\r\n{NATIVE_LINE.replace('276725', '276726')}\r\n", encoding="utf-8"
    )
    code, stdout, stderr = run_input(interpreter("3.13"), app_dir, input_definition(checkpoints, data))
    assert code == 0, stderr
    assert [element.findtext("data") for element in events_of(stdout)] == [
        NATIVE_LINE,
        NATIVE_LINE.replace("276725", "276726"),
    ]
    fields = search_time_fields(NATIVE_LINE, "XmlWinEventLog", "XmlWinEventLog:Security")
    assert (fields["process_id"], fields["process_name"], fields["user"]) == (620, "lsass.exe", "DC01$")


def _overwrite_line(path, index, filler=b"x"):
    """Replace line ``index`` by garbage of the same length, in place (the file's head and size stay)."""
    lines = open(path, "rb").read().split(b"\n")
    lines[index] = filler * len(lines[index])
    open(path, "r+b").write(b"\n".join(lines))


def _sent(app_dir, tmp_path, name, records):
    """A JSON-lines file of ``records`` events, all sent by a first run: (its path, a rerun of the input)."""
    data, checkpoints = input_dirs(tmp_path)
    path = data / name
    write_jsonlines(path, range(1, records + 1))
    definition = input_definition(checkpoints, data)
    assert len(event_keys(run_input(interpreter("3.13"), app_dir, definition)[1])) == records
    return path, lambda: run_input(interpreter("3.13"), app_dir, definition)


def test_a_growing_json_file_is_read_on_from_the_last_sent_record(app_dir, tmp_path):
    path, rerun = _sent(app_dir, tmp_path, "growing.json", 30)
    [state] = json.loads((tmp_path / "checkpoints" / "test.json").read_text())["files"]
    assert state["offset"] == open(path, "rb").read().rindex(b"\n", 0, -1) + 1 and state["position"] == 30
    _overwrite_line(path, 10)  # were the file parsed from its start again, this line would be reported
    write_jsonlines(path, range(31, 34))
    code, stdout, stderr = rerun()
    assert [key[1] for key in event_keys(stdout)] == [31, 32, 33]
    assert "WARN" not in stderr


def test_a_changed_record_at_the_saved_offset_falls_back_to_counting(app_dir, tmp_path):
    path, rerun = _sent(app_dir, tmp_path, "rewritten.json", 20)
    _overwrite_line(path, 19)
    write_jsonlines(path, range(21, 23))
    code, stdout, stderr = rerun()
    assert [key[1] for key in event_keys(stdout)] == [21, 22]
    assert "is not the one sent last: counting records from the start instead" in stderr


def test_archives_and_evtx_are_counted_not_offset(app_dir, tmp_path):
    source = corpus_path("json", "empire_enable_rdp.tar.gz")
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    run_input(interpreter("3.13"), app_dir, input_definition(checkpoints, source))
    [state] = json.loads((checkpoints / "test.json").read_text())["files"]
    assert (state["offset"], state["position"]) == (-1, 12 + 6 + 6)  # results (not records) up to the last event


def _lost_and_repeated(received, expected):
    """(events never received, events received more than once) over a sequence of runs."""
    counts = collections.Counter(received)
    return len(set(expected) - set(counts)), sum(count - 1 for count in counts.values())


@pytest.fixture(scope="module")
def evtx_app_dir(evtx_wheel, tmp_path_factory):
    """The package with evtx vendored, as CI builds it."""
    build = tmp_path_factory.mktemp("evtx-package")
    return extract_package(build_package(str(build / "dist"), evtx_wheels=[evtx_wheel]), str(build / "apps"))


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_a_growing_evtx_is_continued_and_a_renamed_one_recognised(version, evtx_app_dir, tmp_path):
    python = interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    source = corpus_path(*EVTX_SOURCE)
    full = open(source, "rb").read()
    path = data / "Security.evtx"
    definition = input_definition(checkpoints, data)
    received = []
    for content in (evtx_first_chunks(full, 1), evtx_first_chunks(full, 3), full):
        path.write_bytes(content)  # the live log, grown by whole chunks, at the same path
        code, stdout, stderr = run_input(python, evtx_app_dir, definition)
        assert code == 0 and "ERROR" not in stderr and "WARN" not in stderr, stderr
        received += event_keys(stdout)
    expected = [
        (event.system["Computer"], int(event.system["EventRecordID"]))
        for event in read_paths([source], FAMILY)
        if isinstance(event, Event)
    ]
    assert len(expected) == 77
    assert _lost_and_repeated(received, expected) == (0, 0)
    os.rename(path, data / "Archive-Security-2015-09-22.evtx")
    code, stdout, stderr = run_input(python, evtx_app_dir, definition)
    assert event_keys(stdout) == [] and "Archive-Security-2015-09-22.evtx: renamed file, continuing" in stderr


@pytest.mark.parametrize("version", ["3.9", "3.13"])
@pytest.mark.parametrize("write", [write_jsonlines, write_xml])
def test_a_file_rewritten_larger_with_the_same_first_records_is_read_again(version, write, app_dir, tmp_path):
    python = interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    path = data / "rewritten.log"
    write(path, range(1, 201))
    definition = input_definition(checkpoints, data)
    received = event_keys(run_input(python, app_dir, definition)[1])
    path.unlink()
    write(path, [*range(1, 106), *range(2001, 2201)])  # the same first 105 records, then others, longer
    code, stdout, stderr = run_input(python, app_dir, definition)
    received += event_keys(stdout)
    expected = [("DC01.contoso.local", n) for n in [*range(1, 201), *range(2001, 2201)]]
    assert _lost_and_repeated(received, expected) == (0, 105)  # read again from the start: its first 105 again
    assert "rewritten.log: changed before the position read: read again from the start" in stderr


def _read_only(directory):
    """A command prefix that runs the input with ``directory`` mounted read-only (a private mount namespace)."""
    prefix = ("unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(directory))
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only folder here (needs unshare -m and mount, as root)")
    return prefix


def _file_size_limit(limit):
    """A preexec_fn that lets the input write no file larger than ``limit`` bytes (a full disk, for any user)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _run_piped(python, app_dir, definition, **options):
    process = start_input(python, app_dir, definition, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
    stdout, stderr = process.communicate()
    return process.returncode, stdout.decode("utf-8"), stderr.decode("utf-8")


@pytest.mark.parametrize("version", ["3.9", "3.13"])
@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_an_unwritable_checkpoint_stops_the_input_before_it_sends(version, fault, app_dir, tmp_path):
    python = interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    expected = _crash_dataset(data)
    later = sorted(data.glob("part[345].*"))
    for path in later:
        path.rename(tmp_path / path.name)
    definition = input_definition(checkpoints, data)
    received = event_keys(run_input(python, app_dir, definition)[1])
    for path in later:
        (tmp_path / path.name).rename(path)
    for _run in range(3):
        if fault == "read-only":
            code, stdout, stderr = run_input(python, app_dir, definition, prefix=_read_only(checkpoints))
        else:
            code, stdout, stderr = _run_piped(
                python, app_dir, definition, preexec_fn=_file_size_limit(os.path.getsize(checkpoints / "test.json"))
            )
        received += event_keys(stdout)
        assert code == 0 and "Traceback" not in stderr, stderr
        assert stderr.count("ERROR") == 1 and f"cannot write the checkpoint in {checkpoints}" in stderr, stderr
        assert not [name for name in os.listdir(checkpoints) if name.endswith(".tmp")]
    received += event_keys(run_input(python, app_dir, definition)[1])
    assert _lost_and_repeated(received, expected) == (0, 0)


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_two_instances_on_one_checkpoint_send_each_event_once(version, app_dir, tmp_path):
    python = interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    expected = _crash_dataset(data)
    definition = input_definition(checkpoints, data)
    outputs = [(tempfile.TemporaryFile(), tempfile.TemporaryFile()) for _instance in range(2)]
    processes = [start_input(python, app_dir, definition, stdout=stdout, stderr=stderr) for stdout, stderr in outputs]
    received, messages = [], ""
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.wait() == 0
        stdout.seek(0)
        stderr.seek(0)
        received += event_keys(stdout.read().decode("utf-8"))
        messages += stderr.read().decode("utf-8")
        stdout.close()
        stderr.close()
    assert _lost_and_repeated(received, expected) == (0, 0)
    assert (
        "another instance of this input is running: waiting for it" in messages
        or messages.count("sent 2400 events") == 1
    )


def _poison(record_id):
    """A record the reader accepts but that cannot be sent as it is: its computer name is an object."""
    document = to_winlogbeat(_numbered(record_id))
    document["winlog"]["computer_name"] = {"name": "DC01"}
    return json.dumps(document) + "\n"


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_a_poison_record_is_reported_and_the_input_goes_on(version, app_dir, tmp_path):
    python = interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    write_jsonlines(data / "a.json", range(1, 4))
    with open(data / "a.json", "a", encoding="utf-8") as stream:
        stream.write(_poison(100))
    write_jsonlines(data / "a.json", range(4, 7))
    write_jsonlines(data / "b.json", range(1, 3), computer="OTHER.contoso.local")
    write_jsonlines(data / "0-reader-fault.json", range(1, 3), computer="FIRST.contoso.local")
    with open(data / "0-reader-fault.json", "a", encoding="utf-8") as stream:
        stream.write('{"winlog": {"event_data": {}}, "event": "4658"}\n')  # `event` a string, not an object
    definition = input_definition(checkpoints, data)
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert code == 0 and "Traceback" not in stderr, stderr
    assert sorted(event_keys(stdout)) == [("DC01.contoso.local", n) for n in range(1, 7)] + [
        ("FIRST.contoso.local", 1),
        ("FIRST.contoso.local", 2),
        ("OTHER.contoso.local", 1),
        ("OTHER.contoso.local", 2),
    ]
    assert re.search(r"(ERROR|WARN) win4658_files://test: \S*a\.json: record 4\b", stderr), stderr
    assert re.search(r"(ERROR|WARN) win4658_files://test: \S*0-reader-fault\.json: ", stderr), stderr
    assert event_keys(run_input(python, app_dir, definition)[1]) == []


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_checkpoint_files_are_the_owners_only(version, app_dir, tmp_path):
    python = interpreter(version)
    data, _checkpoints = input_dirs(tmp_path)
    checkpoints = tmp_path / "modinputs" / "win4658_files"  # not there yet
    write_jsonlines(data / "a.json", range(1, 3))
    code, _stdout, stderr = run_input(python, app_dir, input_definition(checkpoints, data))
    assert code == 0, stderr
    modes = {name: stat.S_IMODE(os.stat(checkpoints / name).st_mode) for name in os.listdir(checkpoints)}
    assert modes == {"test.json": 0o600, "test.lock": 0o600}
    assert stat.S_IMODE(os.stat(checkpoints).st_mode) == 0o700


class MovesTheCheckpointAway(io.StringIO):
    """splunkd's end of stdout; once ``after`` events were written, the checkpoint folder is moved away, so that
    the next save fails the way a folder turned read-only or a full disk makes it fail."""

    def __init__(self, checkpoints, moved, after):
        super().__init__()
        self.checkpoints, self.moved, self.after = checkpoints, moved, after

    def write(self, text):
        written = super().write(text)
        if self.getvalue().count("</event>") == self.after and self.checkpoints.exists():
            self.checkpoints.rename(self.moved)
        return written


def test_a_checkpoint_that_cannot_be_saved_midway_stops_the_run_and_repeats_one_batch(tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    expected = _crash_dataset(data)
    moved = tmp_path / "moved"
    output, messages = MovesTheCheckpointAway(checkpoints, moved, after=BATCH + 50), io.StringIO()
    FileReader("test", {"path": str(data)}, str(checkpoints), EventWriter(output, messages), StopFlag()).run()
    received = event_keys(output.getvalue())
    assert len(received) == 2 * BATCH  # the save after the second batch failed: nothing more was read
    assert messages.getvalue().count("ERROR") == 1 and "Traceback" not in messages.getvalue()
    assert (
        f"cannot write the checkpoint in {checkpoints} (No such file or directory): nothing more is read "
        f"until it can be written; up to {BATCH} of the {2 * BATCH} events sent in this run will be sent again"
        in messages.getvalue()
    )
    moved.rename(checkpoints)
    assert sorted(os.listdir(checkpoints)) == ["test.json", "test.lock"]
    output = io.StringIO()
    FileReader("test", {"path": str(data)}, str(checkpoints), EventWriter(output, messages), StopFlag()).run()
    received += event_keys(output.getvalue())
    assert _lost_and_repeated(received, expected) == (0, BATCH)

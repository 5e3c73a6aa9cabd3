"""The packaged modular input, run exactly as splunkd runs it, under Python 3.9 (Splunk 9.x) and 3.13 (Splunk 10.x).

The package is built and unpacked into a temporary folder; `bin/win4658_files.py` is started with the
interpreter, the input-definition XML on stdin, and its `<stream><event>` output is parsed.
"""
import html
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import SAMPLE_XML, corpus_path
from test_splunk_knowledge import _comparable, _expected, search_time_fields
from win4658.event import Event, Origin
from win4658.readers import read_paths
from win4658.readers.xml import parse_event_xml
from win4658.splunk.modinput import BATCH
from win4658.splunk.package import build_package, extract_package
from win4658.winlogbeat import to_winlogbeat

PYENV_ROOT = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
INTERPRETERS = {
    "3.9": os.path.join(PYENV_ROOT, "versions", "3.9.18", "bin", "python3.9"),
    "3.13": os.path.join(PYENV_ROOT, "versions", "3.13.0", "bin", "python3.13"),
}
EVENT = re.compile(r"<event\b[^>]*>.*?</event>", re.S)
FAMILY = frozenset({4656, 4658, 4663})


def _interpreter(version):
    path = INTERPRETERS[version]
    if not os.path.exists(path):
        pytest.skip(f"Python {version} not found at {path} (pyenv install {version}) — splunkd's interpreter is needed")
    return path


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory):
    """The package as splunkd would install it."""
    build = tmp_path_factory.mktemp("package")
    return extract_package(build_package(str(build / "dist")), str(build / "apps"))


@pytest.fixture(params=["3.9", "3.13"])
def python(request):
    return _interpreter(request.param)


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
    from win4658.splunk.render import render_event_xml

    with open(path, "a", encoding="utf-8") as stream:
        for record_id in record_ids:
            stream.write(render_event_xml(_numbered(record_id, computer)) + "\n")


def input_dirs(tmp_path):
    """A folder to read and an empty checkpoint folder, as splunkd gives each input."""
    data, checkpoints = tmp_path / "data", tmp_path / "checkpoints"
    data.mkdir()
    checkpoints.mkdir()
    return data, checkpoints


def input_definition(checkpoint_dir, path, **parameters):
    params = "".join(f'<param name="{name}">{html.escape(str(value))}</param>'
                     for name, value in dict(path=path, **parameters).items())
    return (f"<input><server_host>sh</server_host><server_uri>https://127.0.0.1:8089</server_uri>"
            f"<session_key>not-a-real-key</session_key><checkpoint_dir>{html.escape(str(checkpoint_dir))}</checkpoint_dir>"
            f'<configuration><stanza name="win4658_files://test">{params}</stanza></configuration></input>')


def run_input(python, app_dir, stdin, *arguments, stop_after=None, stop_signal=signal.SIGKILL):
    """Run the input as splunkd does; stdout and stderr go to files, drained at once as splunkd drains its pipes."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen([python, os.path.join(app_dir, "bin", "win4658_files.py"), *arguments],
                                   stdin=subprocess.PIPE, stdout=stdout, stderr=stderr,
                                   cwd=app_dir, env={"PATH": os.environ.get("PATH", "")})
        process.stdin.write(stdin.encode("utf-8"))
        process.stdin.close()
        if stop_after is not None:
            time.sleep(stop_after)
            if process.poll() is None:
                process.send_signal(stop_signal)
        process.wait()
        stdout.seek(0)
        stderr.seek(0)
        return process.returncode, stdout.read().decode("utf-8"), stderr.read().decode("utf-8")


def events_of(stdout):
    """Every complete <event> of the stream (a kill may cut the last one, which splunkd would drop too)."""
    return [ET.fromstring(text) for text in EVENT.findall(stdout)]


def event_keys(stdout):
    keys = []
    for element in events_of(stdout):
        event = parse_event_xml(element.findtext("data").encode("utf-8"), Origin("stream", 0))
        keys.append((event.system["Computer"], int(event.system["EventRecordID"])))
    return keys


def test_scheme_declares_the_arguments(python, app_dir):
    code, stdout, stderr = run_input(python, app_dir, "", "--scheme")
    assert code == 0, stderr
    scheme = ET.fromstring(stdout)
    names = [arg.get("name") for arg in scheme.iter("arg")]
    assert names == ["path", "recursive", "event_ids"]
    assert scheme.findtext("streaming_mode") == "xml" and scheme.findtext("use_external_validation") == "true"


def _validation(checkpoint_dir, **parameters):
    params = "".join(f'<param name="{name}">{html.escape(str(value))}</param>' for name, value in parameters.items())
    return (f"<items><server_host>sh</server_host><server_uri>https://127.0.0.1:8089</server_uri>"
            f"<session_key>k</session_key><checkpoint_dir>{checkpoint_dir}</checkpoint_dir>"
            f'<item name="test">{params}</item></items>')


@pytest.mark.parametrize("parameters, message", [
    ({"path": "/nonexistent/win4658", "event_ids": "4658"}, "path '/nonexistent/win4658' does not exist"),
    ({"path": "/nonexistent/dir/*.evtx"}, "the directory of the pattern does not exist"),
    ({"path": "."}, None),
    ({"path": ".", "event_ids": "4658,4624"}, "event_ids: '4624' is not a supported event id"),
    ({"path": ".", "event_ids": "46x8"}, "event_ids: '46x8' is not a supported event id"),
    ({"path": ".", "event_ids": " , "}, "event_ids is empty"),
    ({"path": ""}, "path is required"),
])
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
    assert (first.findtext("source"), first.findtext("sourcetype"), first.findtext("index"), first.findtext("host")) == \
        ("XmlWinEventLog:Security", "XmlWinEventLog", "wineventlog", "DC01.contoso.local")
    assert first.findtext("time") == "1442880942.910"
    raw = first.findtext("data")
    assert raw.startswith("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>") and "\n" not in raw
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
        (write_xml if index % 2 else write_jsonlines)(directory / f"part{index}.{'xml' if index % 2 else 'json'}",
                                                      ids, computer)
        expected += [(computer, record_id) for record_id in ids]
    return sorted(expected)


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_sigkill_at_random_points_loses_nothing_and_repeats_at_most_a_batch(version, app_dir, tmp_path):
    python = _interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    expected = _crash_dataset(data)
    definition = input_definition(checkpoints, data)
    received, kills = [], 0
    randomness = random.Random(4658)
    for _attempt in range(8):
        code, stdout, _stderr = run_input(python, app_dir, definition, stop_after=randomness.uniform(0.05, 0.8))
        received += event_keys(stdout)
        kills += code == -signal.SIGKILL
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert code == 0, stderr
    received += event_keys(stdout)
    assert sorted(set(received)) == expected
    assert len(received) - len(expected) <= kills * BATCH


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_sigterm_at_random_points_sends_nothing_twice(version, app_dir, tmp_path):
    python = _interpreter(version)
    data, checkpoints = input_dirs(tmp_path)
    expected = _crash_dataset(data)
    definition = input_definition(checkpoints, data)
    received = []
    randomness = random.Random(4656)
    for _attempt in range(6):
        received += event_keys(run_input(python, app_dir, definition, stop_after=randomness.uniform(0.05, 0.8),
                                         stop_signal=signal.SIGTERM)[1])
    received += event_keys(run_input(python, app_dir, definition)[1])
    assert sorted(received) == expected


@pytest.mark.parametrize("corpus_file", ["json/cmd_sharpview_pcre_net.zip", "json/empire_enable_rdp.tar.gz"])
def test_json_inputs_get_the_same_cim_fields_at_search_time_as_read_directly(corpus_file, app_dir, tmp_path):
    source = corpus_path(*corpus_file.split("/"))
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    code, stdout, stderr = run_input(_interpreter("3.13"), app_dir, input_definition(checkpoints, source))
    assert code == 0, stderr
    direct = [event for event in read_paths([source], FAMILY) if isinstance(event, Event)]
    emitted = [element.findtext("data") for element in events_of(stdout)]
    assert len(emitted) == len(direct) == {"json/cmd_sharpview_pcre_net.zip": 34 + 17 + 6,
                                           "json/empire_enable_rdp.tar.gz": 12 + 6 + 6}[corpus_file]
    for raw, event in zip(emitted, direct):
        assert _comparable(search_time_fields(raw, "XmlWinEventLog", "XmlWinEventLog:Security")) == _expected(event)


NATIVE_LINE = (
    '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider '
    'Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}"/><EventID>4658</EventID>'
    '<Version>0</Version><Level>0</Level><Task>12800</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>'
    '<TimeCreated SystemTime="2015-09-22T00:15:42.910428100Z"/><EventRecordID>276725</EventRecordID>'
    '<Correlation ActivityID="{A1B2C3D4-0000-0000-0000-000000000000}"/><Execution ProcessID="4" ThreadID="5056"/>'
    '<Channel>Security</Channel><Computer>DC01.contoso.local</Computer><Security/></System><EventData>'
    '<Data Name="SubjectUserSid">S-1-5-18</Data><Data Name="SubjectUserName">DC01$</Data>'
    '<Data Name="SubjectDomainName">CONTOSO</Data><Data Name="SubjectLogonId">0x3e7</Data>'
    '<Data Name="ObjectServer">Security</Data><Data Name="HandleId">0x1c4</Data><Data Name="ProcessId">0x26c</Data>'
    '<Data Name="ProcessName">C:\\Windows\\System32\\lsass.exe</Data></EventData></Event>'
)


def test_one_line_xml_is_sent_with_the_files_own_bytes(app_dir, tmp_path):
    data, checkpoints = input_dirs(tmp_path)
    other = NATIVE_LINE.replace("<EventID>4658<", "<EventID>4624<")
    (data / "native.xml").write_text(f"{other}\r\n{NATIVE_LINE}\r\n{NATIVE_LINE.replace('276725', '276726')}\r\n",
                                     encoding="utf-8")
    code, stdout, stderr = run_input(_interpreter("3.13"), app_dir, input_definition(checkpoints, data))
    assert code == 0, stderr
    assert [element.findtext("data") for element in events_of(stdout)] == [
        NATIVE_LINE, NATIVE_LINE.replace("276725", "276726")]
    fields = search_time_fields(NATIVE_LINE, "XmlWinEventLog", "XmlWinEventLog:Security")
    assert (fields["process_id"], fields["process_name"], fields["user"]) == (620, "lsass.exe", "DC01$")


def _overwrite_line(path, index, filler=b"x"):
    """Replace line ``index`` by garbage of the same length, in place (the file's head and size stay)."""
    lines = open(path, "rb").read().split(b"\n")
    lines[index] = filler * len(lines[index])
    open(path, "r+b").write(b"\n".join(lines))


def test_a_growing_json_file_is_read_on_from_the_last_sent_record(app_dir, tmp_path):
    python = _interpreter("3.13")
    data, checkpoints = input_dirs(tmp_path)
    path = data / "growing.json"
    write_jsonlines(path, range(1, 31))
    definition = input_definition(checkpoints, data)
    assert len(event_keys(run_input(python, app_dir, definition)[1])) == 30
    [state] = json.loads((checkpoints / "test.json").read_text())["files"]
    assert state["offset"] == open(path, "rb").read().rindex(b"\n", 0, -1) + 1 and state["position"] == 30
    _overwrite_line(path, 10)  # were the file parsed from its start again, this line would be reported
    write_jsonlines(path, range(31, 34))
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert [key[1] for key in event_keys(stdout)] == [31, 32, 33]
    assert "WARN" not in stderr


def test_a_changed_record_at_the_saved_offset_falls_back_to_counting(app_dir, tmp_path):
    python = _interpreter("3.13")
    data, checkpoints = input_dirs(tmp_path)
    path = data / "rewritten.json"
    write_jsonlines(path, range(1, 21))
    definition = input_definition(checkpoints, data)
    assert len(event_keys(run_input(python, app_dir, definition)[1])) == 20
    _overwrite_line(path, 19)
    write_jsonlines(path, range(21, 23))
    code, stdout, stderr = run_input(python, app_dir, definition)
    assert [key[1] for key in event_keys(stdout)] == [21, 22]
    assert "is not the one sent last: counting records from the start instead" in stderr


def test_archives_and_evtx_are_counted_not_offset(app_dir, tmp_path):
    source = corpus_path("json", "empire_enable_rdp.tar.gz")
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    run_input(_interpreter("3.13"), app_dir, input_definition(checkpoints, source))
    [state] = json.loads((checkpoints / "test.json").read_text())["files"]
    assert (state["offset"], state["position"]) == (-1, 12 + 6 + 6)  # results (not records) up to the last event

"""`win4658 convert` as a user runs it: NDJSON on stdout, summary on stderr, exit status."""

import json
import subprocess
import sys

from tests.support.paths import SAMPLE_XML, corpus_inputs
from tests.support.sample import EXPECTED_CIM
from win4658.mapping import flatten
from win4658.normalize import to_ecs
from win4658.readers import read_paths


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "win4658", *args], capture_output=True, text=True, timeout=120)


def test_convert_sample_to_ecs():
    result = run("convert", SAMPLE_XML)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line) == to_ecs(next(read_paths([SAMPLE_XML])))
    assert "files: 1, records read: 1, converted: 1" in result.stderr
    assert "skipped: none" in result.stderr


def test_convert_sample_to_cim_and_winlogbeat(tmp_path):
    cim = run("convert", "--to", "cim", SAMPLE_XML)
    assert json.loads(cim.stdout) == EXPECTED_CIM
    output = tmp_path / "wlb.ndjson"
    assert run("convert", "--to", "winlogbeat", "-o", str(output), SAMPLE_XML).returncode == 0
    document = json.loads(output.read_text())
    assert flatten(document)["winlog.event_data.HandleId"] == "0x18a8"
    assert document["winlog"]["keywords"] == ["Audit Success"]


def test_unreadable_file_exits_non_zero_and_the_rest_is_converted(tmp_path):
    not_events = tmp_path / "not-events.txt"
    not_events.write_text("hello\n", encoding="utf-8")
    result = run("convert", str(not_events), SAMPLE_XML)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1
    assert "not-events.txt: record 0: not EVTX, event XML, JSON-lines or WinEventLog text" in result.stderr
    assert "skipped: unrecognised: 1" in result.stderr


def test_a_missing_path_is_a_usage_error_and_nothing_is_read(tmp_path):
    result = run("convert", str(tmp_path / "missing.xml"), SAMPLE_XML)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"win4658: {tmp_path / 'missing.xml'}: no such file or directory\n"


def test_bad_event_id_is_refused():
    result = run("convert", "--event-id", "4624", SAMPLE_XML)
    assert result.returncode == 2 and "event id 4624 is not supported" in result.stderr


def test_convert_the_corpus_counts_every_record(tmp_path):
    result = run(
        "convert",
        "--event-id",
        "4658",
        "--event-id",
        "4656",
        "--event-id",
        "4663",
        "-o",
        "/dev/null",
        *corpus_inputs(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "files: 15, records read: 103846, converted: 10076" in result.stderr
    assert "skipped: not an event file: 1, other event id: 93770" in result.stderr

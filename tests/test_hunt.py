"""`win4658 hunt` and `win4658 baseline`: the command lines over the bundled examples and the corpus."""
import json
import re

from conftest import SAMPLE_XML, corpus_path
from win4658.cli import main
from win4658.examples import EXAMPLE_FILES

EXAMPLE_COUNTS = {1: 4, 2: 3, 3: 2, 4: 1, 5: 1, 6: 1}


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_hunt_with_no_path_finds_something_for_every_detection(capsys):
    status, out, err = _run(capsys, "hunt")
    assert status == 0 and err == ""
    headings = dict(re.findall(r"^== (\d)\. .*: (\d+) findings?$", out, re.MULTILINE))
    assert {int(number): int(count) for number, count in headings.items()} == EXAMPLE_COUNTS
    assert "contains 'mimikatz'" in out
    assert r"in restricted folder *:\Users\*\AppData\Local\Temp\*" in out
    assert r"open 9,161.578 s, longer than 3600 s; File C:\Users\alice\Documents\Q1-budget.xlsx" in out
    assert "opened, accessed 1 time(s), closed; Process \\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe" in out
    assert "closes 8, paired with their open 4, unmatched 4; opens 4" in out
    assert "files: 2, records read: 14, events hunted: 14, skipped: none" in out


def test_hunt_json_streams_findings_then_the_summary(capsys):
    status, out, _err = _run(capsys, "hunt", "--format", "json", *EXAMPLE_FILES)
    lines = [json.loads(line) for line in out.splitlines()]
    summary = lines.pop()["summary"]
    assert status == 0 and len(lines) == sum(EXAMPLE_COUNTS.values())
    assert summary["findings"] == {
        "win4658_unexpected_process": 4, "win4658_process_outside_standard_folders": 3,
        "win4658_process_in_restricted_folder": 2, "win4658_restricted_substring": 1,
        "win4658_handle_trace": 1, "win4658_handle_lifetime": 1}
    trace = next(line for line in lines if line["number"] == 5)
    assert [event["event_id"] for event in trace["events"]] == [4656, 4663, 4658]
    assert trace["user"] == "CONTOSO\\alice" and trace["host"] == "WS01.contoso.local"
    assert trace["source"].endswith("hunt_examples.xml: record 8 (byte offset 8193)")  # the 4658 that closed it


def test_long_handle_threshold_is_an_option(capsys):
    _status, out, _err = _run(capsys, "hunt", "--format", "json", "--long-handle", "0.01", *EXAMPLE_FILES)
    long_handles = [json.loads(line) for line in out.splitlines()[:-1] if json.loads(line)["number"] == 6]
    assert sorted(line["process"] for line in long_handles) == [
        r"C:\Users\alice\Downloads\mimikatz_trunk\x64\mimikatz.exe", r"C:\Windows\explorer.exe"]


def test_baseline_learns_an_allowlist_that_silences_detection_1(capsys, tmp_path):
    allowlist = tmp_path / "allowlist.csv"
    corpus_file = corpus_path("json", "metasploit_procdump_lsass_memory_dump.zip")
    status, _out, err = _run(capsys, "baseline", corpus_file, "-o", str(allowlist))
    rows = allowlist.read_text(encoding="utf-8").splitlines()
    assert status == 0 and "learned 4 allow-list rows" in err
    assert rows[0] == "host,process_path" and rows[1:] == [
        r"*,C:\Program Files\procdump.exe", r"*,C:\Program Files\procdump64.exe",
        r"*,C:\Users\NORA~1.QUE\AppData\Local\Temp\RarSFX1\winx64_payload.exe", r"*,C:\Windows\explorer.exe"]
    _status, out, _err = _run(capsys, "hunt", "--format", "json", "--allowlist", str(allowlist), corpus_file)
    summary = json.loads(out.splitlines()[-1])["summary"]
    assert "win4658_unexpected_process" not in summary["findings"]
    assert summary["findings"]["win4658_process_in_restricted_folder"] == 6


def test_baseline_per_host(capsys):
    status, out, _err = _run(capsys, "baseline", "--per-host", SAMPLE_XML)
    assert status == 0 and out == "host,process_path\nDC01.contoso.local,C:\\Windows\\explorer.exe\n"


def test_a_list_with_the_wrong_header_is_refused(capsys, tmp_path):
    wrong = tmp_path / "substrings.csv"
    wrong.write_text("word\nmimikatz\n", encoding="utf-8")
    status, _out, err = _run(capsys, "hunt", "--restricted-substrings", str(wrong))
    assert status == 2 and "the header must be substring" in err


def test_an_edited_substring_list_replaces_the_shipped_one(capsys, tmp_path):
    edited = tmp_path / "substrings.csv"
    edited.write_text("substring\nDUMPERT\n", encoding="utf-8")
    _status, out, _err = _run(capsys, "hunt", "--format", "json", "--restricted-substrings", str(edited),
                              corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip"))
    hits = [json.loads(line) for line in out.splitlines()[:-1] if json.loads(line)["number"] == 4]
    assert len(hits) == 6 and {hit["reason"] for hit in hits} == {"contains 'dumpert'"}


def test_an_unreadable_path_makes_the_exit_status_non_zero(capsys, tmp_path):
    status, _out, err = _run(capsys, "hunt", str(tmp_path / "missing.evtx"))
    assert status == 1 and "missing.evtx" in err


def test_trace_lists_every_event_of_one_handle_oldest_first(capsys):
    status, out, _err = _run(capsys, "hunt", "--trace", "ws01.contoso.local,6960,0x2A4")
    assert status == 0 and [line.split()[:2] for line in out.splitlines()] == [
        ["2026-03-02T09:31:07.250118Z", "4656"], ["2026-03-02T09:31:07.250530Z", "4663"],
        ["2026-03-02T09:31:07.262947Z", "4658"]]


def test_trace_puts_a_newest_first_export_back_in_order(capsys):
    dumpert = corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip")
    _status, out, _err = _run(capsys, "hunt", "--format", "json", "--trace", "WORKSTATION5,0x1a74,0xc4", dumpert)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(row["time"], row["event_id"]) for row in rows] == [
        ("2020-10-18T10:56:14.368000Z", 4656), ("2020-10-18T10:56:14.372000Z", 4663),
        ("2020-10-18T10:56:14.646000Z", 4658)]
    assert rows[0]["object_name"] == r"\Device\HarddiskVolume2\Windows\System32\lsass.exe"

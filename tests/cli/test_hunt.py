"""`win4658 hunt` and `win4658 baseline`: the command lines over the bundled examples and the corpus."""

import csv
import io
import json
import re
import sys
import threading
import time

import pytest

from tests.support.paths import SAMPLE_XML, corpus_path
from win4658.cli import main
from win4658.cli.common import Progress
from win4658.event import ReadStats
from win4658.examples import EXAMPLE_FILES

EXAMPLE_COUNTS = {1: 4, 2: 3, 3: 2, 4: 1, 5: 1, 6: 1}


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_hunt_with_no_path_gives_the_summary_then_findings_by_severity(capsys):
    status, out, err = _run(capsys, "hunt")
    assert status == 0 and err == ""
    assert out.startswith("== Summary\n  findings: 11 (high 3, medium 3, low 5); handles traced (drill-down): 1\n")
    assert "  hosts: 2: WS01.contoso.local (12), DC01.contoso.local (2)\n" in out
    assert "  time range: 2015-09-22T00:15:42.910428Z to 2026-03-02T11:32:45.090000Z\n" in out
    assert "files: 2, records read: 14, events hunted: 14, skipped: none" in out
    headings = re.findall(
        r"^== \[([a-z-]+)\] (\d)\. .*: (\d+) (?:findings?|handles? traced.*?)(?:  ATT&CK (.*))?$", out, re.MULTILINE
    )
    assert [(level, int(number), int(count)) for level, number, count, _attack in headings] == [
        ("high", 3, 2),
        ("high", 4, 1),
        ("medium", 2, 3),
        ("low", 1, 4),
        ("low", 6, 1),
        ("drill-down", 5, 1),
    ]
    assert {int(number): attack for _level, number, _count, attack in headings} == {
        3: "TA0002 T1204.002",
        4: "TA0006 T1003",
        2: "TA0005 T1036",
        1: "TA0002 T1204",
        6: "TA0009 T1005",
        5: "TA0009 T1005",
    }
    assert "contains 'mimikatz'" in out
    assert r"in restricted folder *:\Users\*\AppData\Local\Temp\*" in out
    assert r"open 9,161.578 s, longer than 3600 s; File C:\Users\alice\Documents\Q1-budget.xlsx" in out
    assert "opened, accessed 1 time(s), closed; Process \\Device\\HarddiskVolume2\\Windows\\System32\\lsass.exe" in out
    assert "closes 8, paired with their open 4, unmatched 4\n  opens 4" in out
    mimikatz = next(line for line in out.splitlines() if "contains 'mimikatz'" in line)
    assert mimikatz.split()[1:2] == ["high"] and " T1003 " in mimikatz


def test_hunt_json_streams_findings_then_the_summary(capsys):
    status, out, _err = _run(capsys, "hunt", "--format", "json", *EXAMPLE_FILES)
    lines = [json.loads(line) for line in out.splitlines()]
    summary = lines.pop()["summary"]
    assert status == 0 and len(lines) == sum(EXAMPLE_COUNTS.values())
    assert summary["findings"] == {
        "win4658_unexpected_process": 4,
        "win4658_process_outside_standard_folders": 3,
        "win4658_process_in_restricted_folder": 2,
        "win4658_restricted_substring": 1,
        "win4658_handle_lifetime": 1,
    }
    assert summary["drilldowns"] == {"win4658_handle_trace": 1}
    assert summary["severities"] == {"high": 3, "medium": 3, "low": 5}
    assert summary["hosts"] == {"WS01.contoso.local": 12, "DC01.contoso.local": 2}
    assert (summary["first_event"], summary["last_event"]) == (
        "2015-09-22T00:15:42.910428Z",
        "2026-03-02T11:32:45.090000Z",
    )
    trace = next(line for line in lines if line["number"] == 5)
    assert [event["event_id"] for event in trace["events"]] == [4656, 4663, 4658]
    assert trace["user"] == "CONTOSO\\alice" and trace["host"] == "WS01.contoso.local"
    assert trace["source"].endswith("hunt_examples.xml: record 8 (byte offset 8193)")  # the 4658 that closed it
    assert trace["drilldown"] is True and "severity" not in trace and "mitre" not in trace
    findings = [line for line in lines if line["number"] != 5]
    assert {(line["number"], line["severity"], tuple(line["mitre"])) for line in findings} == {
        (1, "low", ("TA0002", "T1204")),
        (2, "medium", ("TA0005", "T1036")),
        (3, "high", ("TA0002", "T1204.002")),
        (4, "high", ("TA0006", "T1003")),
        (6, "low", ("TA0009", "T1005")),
    }


def test_long_handle_threshold_is_an_option(capsys):
    _status, out, _err = _run(capsys, "hunt", "--format", "json", "--long-handle", "0.01", *EXAMPLE_FILES)
    long_handles = [json.loads(line) for line in out.splitlines()[:-1] if json.loads(line)["number"] == 6]
    assert sorted(line["process"] for line in long_handles) == [
        r"C:\Users\alice\Downloads\mimikatz_trunk\x64\mimikatz.exe",
        r"C:\Windows\explorer.exe",
    ]


def test_baseline_learns_an_allowlist_that_silences_detection_1(capsys, tmp_path):
    allowlist = tmp_path / "allowlist.csv"
    corpus_file = corpus_path("json", "metasploit_procdump_lsass_memory_dump.zip")
    status, _out, err = _run(capsys, "baseline", corpus_file, "-o", str(allowlist))
    rows = allowlist.read_text(encoding="utf-8").splitlines()
    assert status == 0 and "learned 4 allow-list rows" in err
    assert rows[0] == "host,process_path" and rows[1:] == [
        r"*,C:\Program Files\procdump.exe",
        r"*,C:\Program Files\procdump64.exe",
        r"*,C:\Users\NORA~1.QUE\AppData\Local\Temp\RarSFX1\winx64_payload.exe",
        r"*,C:\Windows\explorer.exe",
    ]
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
    _status, out, _err = _run(
        capsys,
        "hunt",
        "--format",
        "json",
        "--restricted-substrings",
        str(edited),
        corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip"),
    )
    hits = [json.loads(line) for line in out.splitlines()[:-1] if json.loads(line)["number"] == 4]
    assert len(hits) == 6 and {hit["reason"] for hit in hits} == {"contains 'dumpert'"}


def test_a_missing_path_is_an_error_with_no_report(capsys, tmp_path):
    status, out, err = _run(capsys, "hunt", EXAMPLE_FILES[0], str(tmp_path / "missing.evtx"))
    assert (status, out) == (2, "") and err == f"win4658: {tmp_path / 'missing.evtx'}: no such file or directory\n"


def test_an_unreadable_file_makes_the_exit_status_non_zero(capsys, tmp_path):
    unreadable = tmp_path / "not-events.txt"
    unreadable.write_text("hello\n", encoding="utf-8")
    status, _out, err = _run(capsys, "hunt", str(unreadable))
    assert status == 1 and "not-events.txt: record 0: not EVTX" in err


def test_an_empty_directory_is_named(capsys, tmp_path):
    status, out, err = _run(capsys, "hunt", str(tmp_path))
    assert status == 0 and err == f"win4658: {tmp_path}: the directory holds no files\n"
    assert "files: 0, records read: 0" in out


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--limit", "-5", "expected a whole number of at least 0, got '-5'"),
        ("--long-handle", "nan", "must be 0 or more seconds"),
        ("--long-handle", "inf", "must be 0 or more seconds"),
        ("--long-handle", "-2", "must be 0 or more seconds"),
        ("--reorder-window", "-1", "expected a whole number of at least 1, got '-1'"),
        ("--max-open-handles", "0", "expected a whole number of at least 1, got '0'"),
        ("--limit", "ten", "expected a whole number of at least 0, got 'ten'"),
        ("--trace", "WS01,zz,0x2a4", "not a process id"),
        ("--trace", "WS01,0x1b30,handle", "not a handle id"),
        ("--trace", "WS01,0x1b30", "expected HOST,PROCESSID,HANDLEID"),
    ],
)
def test_out_of_range_options_are_refused(capsys, option, value, message):
    with pytest.raises(SystemExit) as exited:
        main(["hunt", f"{option}={value}"])
    assert exited.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "handle",
    [
        "ws01.contoso.local,6960,0x2A4",
        "WS01.contoso.local,0x1b30,0x2a4",
        "WS01,0x1b30,0x2a4",
        "ws01,1b30,2a4",
        "WS01,6960,0x00000000000002A4",
    ],
)
def test_trace_lists_every_event_of_one_handle_oldest_first(capsys, handle):
    status, out, err = _run(capsys, "hunt", "--trace", handle)
    assert (status, err) == (0, "") and [line.split()[:2] for line in out.splitlines()] == [
        ["2026-03-02T09:31:07.250118Z", "4656"],
        ["2026-03-02T09:31:07.250530Z", "4663"],
        ["2026-03-02T09:31:07.262947Z", "4658"],
    ]


@pytest.mark.parametrize(
    "options, named",
    [
        (["--sessions"], "--sessions"),
        (["--sessions-out", "OUT"], "--sessions-out"),
        (["--html", "OUT"], "--html"),
        (["--sessions", "--html", "OUT"], "--sessions and --html"),
    ],
)
def test_trace_lists_events_only_so_sessions_and_the_report_are_refused(capsys, tmp_path, options, named):
    out = tmp_path / "out"
    argv = [str(out) if word == "OUT" else word for word in options]
    status, stdout, err = _run(capsys, "hunt", "--trace", "WS01,0x1b30,0x2a4", *argv)
    assert (status, stdout) == (2, "") and not out.exists()
    assert err == f"win4658: --trace lists one handle's events; {named} cannot be combined with it\n"


def test_trace_refuses_an_output_inside_an_input_directory(capsys, tmp_path):
    (tmp_path / "events.xml").write_bytes(open(SAMPLE_XML, "rb").read())
    out = tmp_path / "trace.txt"
    status, stdout, err = _run(capsys, "hunt", "--trace", "WS01,0x1b30,0x2a4", "-o", str(out), str(tmp_path))
    assert (status, stdout) == (2, "") and not out.exists()
    assert err == (
        f"win4658: {out}: the output (-o) lies inside {tmp_path}, an input directory: the run (or a later one) "
        "would read it back\n"
    )


@pytest.mark.parametrize("handle", ["WS02,0x1b30,0x2a4", "WS01.other.local,0x1b30,0x2a4", "WS01,0x1b31,0x2a4"])
def test_trace_says_when_no_event_has_the_handle(capsys, handle):
    status, out, err = _run(capsys, "hunt", "--trace", handle)
    assert (status, out) == (1, "") and err == "win4658: no events for this handle in 2 files (14 records read)\n"


@pytest.mark.parametrize("handle", ["WORKSTATION5,0x1a74,0xc4", "workstation5.theshire.local,6772,c4"])
def test_trace_puts_a_newest_first_export_back_in_order(capsys, handle):
    dumpert = corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip")
    _status, out, _err = _run(capsys, "hunt", "--format", "json", "--trace", handle, dumpert)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(row["time"], row["event_id"]) for row in rows] == [
        ("2020-10-18T10:56:14.368000Z", 4656),
        ("2020-10-18T10:56:14.372000Z", 4663),
        ("2020-10-18T10:56:14.646000Z", 4658),
    ]
    assert rows[0]["object_name"] == r"\Device\HarddiskVolume2\Windows\System32\lsass.exe"


def test_timeline_as_csv_has_the_columns_a_spreadsheet_user_expects(capsys, tmp_path):
    target = tmp_path / "timeline.csv"
    status, out, _err = _run(capsys, "hunt", "--format", "csv", "-o", str(target), "--long-handle", "0.01")
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert status == 0 and out == ""
    assert list(rows[0]) == [
        "time",
        "host",
        "user",
        "detection",
        "number",
        "severity",
        "mitre",
        "process",
        "pid",
        "pid_hex",
        "handle",
        "object_type",
        "object_name",
        "duration_seconds",
        "reason",
        "source_file",
        "source_record",
    ]
    assert len(rows) == 12 and "win4658_handle_trace" not in {row["detection"] for row in rows}
    assert [row["time"] for row in rows] == sorted(row["time"] for row in rows[:-1]) + [rows[-1]["time"]]
    mimikatz = next(row for row in rows if row["detection"] == "win4658_restricted_substring")
    assert (mimikatz["severity"], mimikatz["mitre"], mimikatz["pid"], mimikatz["pid_hex"], mimikatz["handle"]) == (
        "high",
        "TA0006 T1003",
        "6960",
        "0x1b30",
        "0x2a4",
    )
    assert mimikatz["source_file"].endswith("hunt_examples.xml") and mimikatz["source_record"] == "8"
    budget = next(row for row in rows if row["object_name"].endswith("Q1-budget.xlsx"))
    assert (budget["object_type"], budget["duration_seconds"], budget["detection"]) == (
        "File",
        "9161.578",
        "win4658_handle_lifetime",
    )


def test_timeline_as_json_lines_holds_the_findings_only(capsys):
    _status, out, _err = _run(capsys, "hunt", "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 11 and all(line["severity"] and line["mitre"] for line in lines)


def test_the_table_fits_the_terminal_and_cuts_on_the_right(capsys, monkeypatch):
    for width in (60, 100, 180):
        monkeypatch.setenv("COLUMNS", str(width))
        _status, out, _err = _run(capsys, "hunt")
        assert max(len(line) for line in out.splitlines()) == width
    row = next(line for line in out.splitlines() if "mimikatz" in line and " high " in line)
    assert "WS01.contoso.local" in row and "C:\\Users\\alice\\Downloads\\mimikatz_trunk\\x64\\mi…" in row
    monkeypatch.setenv("COLUMNS", "100")
    _status, out, _err = _run(capsys, "hunt")
    assert " WS01 " in next(line for line in out.splitlines() if "mimikatz" in line and " high " in line)


def test_standard_input_is_read_as_a_file(capsys, monkeypatch):
    for path in [EXAMPLE_FILES[1], corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip")]:
        _status, out, _err = _run(capsys, "hunt", "--format", "json", path)
        expected = json.loads(out.splitlines()[-1])["summary"]
        with open(path, "rb") as stream:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))
            status, out, err = _run(capsys, "hunt", "--format", "json", "-")
        lines = out.splitlines()
        assert status == 0 and json.loads(lines[-1])["summary"] == expected
        assert all("<stdin>" in json.loads(line)["source"] for line in lines[:-1])


class Terminal(io.StringIO):
    """What a terminal receives, kept: the progress line is drawn only on one."""

    def isatty(self):
        return True


def test_progress_shows_records_files_and_rate_and_errors_never_run_into_it():
    stats, terminal = ReadStats(), Terminal()
    stats.records, stats.files = 12345, 3
    progress = Progress("hunted", stats, terminal, delay=0, interval=0.01)
    deadline = time.monotonic() + 5
    while not progress.shown and time.monotonic() < deadline:
        time.sleep(0.01)
    progress.error("a.evtx: record 7: damaged")
    progress.close()
    text = terminal.getvalue()
    assert re.search(r"\r\033\[Khunted: 12,345 records, 3 files \([\d,]+ records/s\)", text)
    before, after = text.split("win4658: a.evtx: record 7: damaged\n")
    assert before.endswith("\r\033[K") and threading.active_count() >= 1
    assert not Progress("hunted", stats, io.StringIO()).enabled


def test_readme_hunting_section_and_help_agree():
    from tests.support.paths import ROOT
    from win4658.cli import build_parser

    with open(f"{ROOT}/README.md", encoding="utf-8") as stream:
        readme = stream.read()
    section = readme[readme.index("## Hunting") : readme.index("\n## ", readme.index("## Hunting") + 1)]
    hunt = build_parser()._subparsers._group_actions[0].choices["hunt"]
    options = {option for action in hunt._actions for option in action.option_strings if option.startswith("--")}
    options -= {"--help"}
    mentioned = set(re.findall(r"(--[a-z][a-z-]+)", section)) - {"--per-host"}  # baseline's
    assert options <= mentioned and mentioned <= options | {"--per-host"}
    for name in ("csv", "jsonl", "json", "table"):
        assert f"--format {name}" in section or name == "table"


@pytest.mark.parametrize("option", ["--html", "-o"])
def test_an_output_that_cannot_be_written_is_refused_before_the_hunt(capsys, tmp_path, option):
    target = tmp_path / "missing-folder" / "out"
    status, out, err = _run(capsys, "hunt", option, str(target))
    assert (status, out) == (2, "") and err == f"win4658: {target}: No such file or directory\n"

"""`win4658 hunt --sessions` in every output: the sessions file (CSV, NDJSON), json's lines, the table's overview;
each the sessions `win4658 convert --to sessions` gives for the same input (same count, pairs and durations).
The HTML report's section is tested in a browser by tests/detections/test_report.py."""

import csv
import os
from collections import Counter

import pytest

from tests.support.converted import converted_sessions
from tests.support.paths import corpus_path
from win4658.cli import main
from win4658.event import Origin
from win4658.examples import EXAMPLE_FILES
from win4658.sessions import overview
from win4658.sessions.fields import session_spec
from win4658.sessions.overview import SessionOverview

DUMPERT = ("json", "cmd_lsass_memory_dumpert_syscalls.zip")
SOURCE_COLUMNS = ["source_file", "source_record"]


def _ecs_value(document, dotted):
    node = document
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return ""
        node = node[key]
    return " ".join(node) if isinstance(node, list) else str(node)


def _csv_rows(path):
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


def _hunt(capsys, *argv):
    status = main(["hunt", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _inputs(name):
    return list(EXAMPLE_FILES) if name == "examples" else [corpus_path(*name)]


@pytest.mark.parametrize("name", ["examples", DUMPERT, ()], ids=["examples", "dumpert", "corpus"])
def test_the_csv_sessions_are_those_of_convert(name, capsys, tmp_path):
    paths = _inputs(name)
    documents, _data = converted_sessions(tmp_path, *paths)
    timeline = tmp_path / "timeline.csv"
    status, _out, err = _hunt(capsys, "--format", "csv", "--sessions", "-o", str(timeline), *paths)
    sessions_file = tmp_path / "timeline.sessions.csv"
    assert status == 0 and f"{len(documents):,} handle sessions written to {sessions_file}" in err
    header, *rows = _csv_rows(sessions_file)
    columns = [field["ecs"] for field in session_spec()["fields"]]
    assert header == columns + SOURCE_COLUMNS
    assert [row[: len(columns)] for row in rows] == [
        [_ecs_value(document, column) for column in columns] for document in documents
    ]
    assert all(row[-2].startswith(tuple(paths)) and int(row[-1]) >= 0 for row in rows)  # archives: zip!member
    endings = Counter(row[columns.index("win4658.handle.ending")] for row in rows)
    if name == "examples":
        assert endings == {"closed": 4, "close_without_open": 4}
        budget = next(row for row in rows if row[columns.index("win4658.handle.id")] == "0x1a8c")
        assert dict(zip(header, budget)) == dict(
            zip(
                header,
                [
                    "2026-03-02T09:00:03.512000Z",
                    "2026-03-02T11:32:45.090000Z",
                    "9161578000000",
                    "9161.578",
                    "closed",
                    "WS01.contoso.local",
                    "S-1-5-21-3457937927-2839227994-823803824-1107",
                    "alice",
                    "CONTOSO",
                    "0x5a3c1",
                    "3824",
                    "0xef0",
                    r"C:\Windows\explorer.exe",
                    "explorer.exe",
                    "0x1a8c",
                    "Security",
                    "File",
                    r"C:\Users\alice\Documents\Q1-budget.xlsx",
                    "Q1-budget.xlsx",
                    "0x120089",
                    "FILE_READ_DATA FILE_READ_EA FILE_READ_ATTRIBUTES READ_CONTROL SYNCHRONIZE",
                    "",
                    "",
                    "0",
                    "",
                    "500103",
                    "500113",
                    EXAMPLE_FILES[1],
                    "13",
                ],
            )
        )
    if name == ():
        assert endings == {"closed": 2491, "close_without_open": 2928, "open_at_end": 23}
    # the timeline beside it is the one hunted without sessions
    without = tmp_path / "without.csv"
    assert main(["hunt", "--format", "csv", "-o", str(without), *paths]) == 0
    assert timeline.read_bytes() == without.read_bytes()


@pytest.mark.parametrize("name", ["examples", DUMPERT], ids=["examples", "dumpert"])
def test_the_jsonl_sessions_file_is_convert_to_sessions(name, capsys, tmp_path):
    paths = _inputs(name)
    _documents, converted = converted_sessions(tmp_path, *paths)
    sessions_file = tmp_path / "mine.ndjson"
    status, _out, _err = _hunt(
        capsys,
        "--format",
        "jsonl",
        "--sessions-out",
        str(sessions_file),
        "-o",
        str(tmp_path / "timeline.jsonl"),
        *paths,
    )
    assert status == 0 and sessions_file.read_bytes() == converted
    assert (tmp_path / "timeline.jsonl").read_bytes() == _hunt_bytes(capsys, tmp_path, "--format", "jsonl", *paths)


def _hunt_bytes(capsys, tmp_path, *argv):
    output = tmp_path / "plain.out"
    assert main(["hunt", "-o", str(output), *argv]) == 0
    capsys.readouterr()
    return output.read_bytes()


def test_json_sessions_move_to_the_sessions_file(capsys, tmp_path):
    path = corpus_path(*DUMPERT)
    _documents, converted = converted_sessions(tmp_path, path)
    _status, inline, _err = _hunt(capsys, "--format", "json", "--sessions", path)
    sessions_file = tmp_path / "sessions.ndjson"
    status, out, _err = _hunt(capsys, "--format", "json", "--sessions-out", str(sessions_file), path)
    assert status == 0 and sessions_file.read_bytes() == converted
    assert out.splitlines() == [line for line in inline.splitlines() if not line.startswith('{"session"')]
    assert sum(line.startswith('{"session"') for line in inline.splitlines()) == 6


def test_the_table_shows_the_sessions_by_ending_and_the_longest(capsys, tmp_path):
    status, out, _err = _hunt(capsys, "--sessions", "--limit", "2")
    section = out.split("== Handle sessions: ", 1)[1].splitlines()
    assert status == 0 and section[:4] == [
        "8",
        "  closed 4, reused before close 0, open at end 0, close without open 4",
        "  object types: 4: (none: no open) 4, File 2, Key 1, Process 1",
        "  the 2 longest of 4 with a duration:",
    ]
    assert section[5].split() == [
        "9,161.578",
        "2026-03-02T09:00:03.512000Z",
        "WS01.contoso.local",
        "explorer.exe",
        "0xef0",
        "0x1a8c",
        "File",
        r"C:\Users\alice\Documents\Q1-budget.xlsx",
        "[FILE_READ_DATA",
        "FILE_READ_EA",
        "FILE_READ_ATTRIBUTES",
        "READ_CONTROL",
        "SYNCHRONIZE]",
    ]
    assert section[6].split()[:2] == ["0.013", "2026-03-02T09:31:07.250118Z"] and len(section) == 7
    _status, plain, _err = _hunt(capsys, "--limit", "2")
    assert out.split("\n\n== Handle sessions")[0] + "\n" == plain
    # with a sessions file, the table keeps its overview and the file gets the CSV
    sessions_file = tmp_path / "sessions.csv"
    _status, with_file, _err = _hunt(capsys, "--sessions-out", str(sessions_file), "--limit", "2")
    assert with_file == out and len(_csv_rows(sessions_file)) == 9


def test_where_the_sessions_cannot_go(capsys, tmp_path):
    status, out, err = _hunt(capsys, "--format", "csv", "--sessions")
    assert status == 2 and out == "" and "give -o FILE (they go to FILE.sessions.csv) or --sessions-out FILE" in err
    events = tmp_path / "events.xml"
    original = open(EXAMPLE_FILES[1], "rb").read()
    events.write_bytes(original)
    status, _out, err = _hunt(capsys, "--format", "csv", "--sessions-out", str(events), str(events))
    assert status == 2 and "the sessions file would overwrite an input" in err and events.read_bytes() == original
    status, _out, err = _hunt(
        capsys, "--sessions-out", str(tmp_path / "r.html"), "--html", str(tmp_path / "r.html"), str(events)
    )
    assert status == 2 and "cannot also be the HTML report (--html)" in err and not (tmp_path / "r.html").exists()
    same = tmp_path / "t.csv"
    status, _out, err = _hunt(capsys, "--format", "csv", "-o", str(same), "--sessions-out", str(same), str(events))
    assert status == 2 and "cannot also be the output (-o)" in err and not same.exists()
    same.write_text("kept")
    os.link(same, tmp_path / "hard.csv")  # one file under two names
    status, _out, err = _hunt(
        capsys, "--format", "csv", "-o", str(same), "--sessions-out", str(tmp_path / "hard.csv"), str(events)
    )
    assert status == 2 and f"{tmp_path / 'hard.csv'}: the sessions file cannot also be the output (-o)" in err
    assert same.read_text() == "kept"
    status, _out, _err = _hunt(capsys, "--format", "csv", "-o", os.devnull, "--sessions-out", os.devnull, str(events))
    assert status == 0  # a device holds nothing to overwrite
    for device in (os.devnull, "/dev/stdout"):  # no file to put the sessions' own file beside
        status, _out, err = _hunt(capsys, "--format", "jsonl", "--sessions", "-o", device, str(events))
        assert status == 2 and "give -o FILE (they go to FILE.sessions.jsonl) or --sessions-out FILE" in err
    assert not os.path.exists(os.devnull + ".sessions.jsonl")


def test_the_csv_joins_every_list_a_session_record_holds(tmp_path):
    from win4658.cli.hunt_output import SESSION_LIST_FIELDS
    from win4658.sessions.stream import handle_sessions, session_hunt

    records = [
        item for item in handle_sessions([corpus_path()], session_hunt(10_000, 50_000)) if isinstance(item, dict)
    ]
    assert {name for record in records for name, value in record.items() if isinstance(value, list)} == set(
        SESSION_LIST_FIELDS
    )


# --- the overview's bounds ---------------------------------------------------------------------------------------


def _record(duration_ns, object_type="File", ending="closed", handle="0x4"):
    record = {"ending": ending, "access_count": 1, "handle_id": handle}
    if object_type is not None:
        record["object_type"] = object_type
    if duration_ns is not None:
        record["duration_ns"] = duration_ns
    return record


def test_the_overview_keeps_the_longest_first_ended_first_on_ties():
    sessions = SessionOverview(kept=3)
    for index, duration in enumerate([5, 9, 5, 1, 9, 5, None]):
        sessions.add(
            _record(duration, handle=hex(index), ending="closed" if duration else "open_at_end"), Origin("f", index)
        )
    assert [(record["duration_ns"], origin.record) for record, origin in sessions.longest()] == [(9, 1), (9, 4), (5, 0)]
    assert (sessions.total, sessions.with_duration) == (7, 6)
    assert sessions.ending_counts() == [
        ("closed", 6),
        ("reused_before_close", 0),
        ("open_at_end", 1),
        ("close_without_open", 0),
    ]
    assert SessionOverview(kept=0).longest() == []


def test_the_overview_keeps_the_first_sessions_still_open_as_they_came():
    sessions = SessionOverview(kept=2)
    endings = ["open_at_end", "reused_before_close", "open_at_end", "close_without_open", "open_at_end"]
    for index, ending in enumerate(endings):
        sessions.add(_record(None, handle=hex(index), ending=ending), Origin("f", index))
    sessions.add(_record(4, handle="0x9"), Origin("f", 9))
    assert [(record["handle_id"], origin.record) for record, origin in sessions.still_open] == [("0x0", 0), ("0x2", 2)]
    assert [origin.record for _record, origin in sessions.longest()] == [9]
    assert sessions.endings["open_at_end"] == 3
    none_kept = SessionOverview(kept=0)
    none_kept.add(_record(None, ending="open_at_end"), Origin("f", 1))
    assert none_kept.still_open == [] and none_kept.endings["open_at_end"] == 1


def test_the_overview_folds_object_types_past_its_bound(monkeypatch):
    monkeypatch.setattr(overview, "MAX_OBJECT_TYPES", 2)
    sessions = SessionOverview(kept=1)
    for object_type in ("File", "Key", "Process", "Token", None):
        sessions.add(_record(7, object_type), Origin("f", 1))
    assert [(name, counts.sessions) for name, counts in sessions.by_object_type()] == [
        ("(other types)", 3),
        ("File", 1),
        ("Key", 1),
    ]


def test_no_csv_cell_from_the_logs_is_a_spreadsheet_formula(capsys, tmp_path):
    from tests.support.paths import ROOT

    formula = '=HYPERLINK("http://attacker.example/","Q1-budget.xlsx")'
    source = os.path.join(ROOT, "src", "win4658", "examples", "hunt_examples.xml")
    with open(source, encoding="utf-8") as stream:
        text = stream.read()
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(text.replace("C:\\Users\\alice\\Documents\\Q1-budget.xlsx", formula), encoding="utf-8")
    timeline = tmp_path / "timeline.csv"
    status, _out, _err = _hunt(
        capsys, "--format", "csv", "--sessions", "--long-handle", "0.01", "-o", str(timeline), str(hostile)
    )
    sessions = _csv_rows(tmp_path / "timeline.sessions.csv")
    findings = _csv_rows(timeline)
    cells = [cell for row in findings + sessions for cell in row]
    assert status == 0 and "'" + formula in cells
    assert [cell for cell in cells if cell[:1] in ("=", "+", "@") or (cell[:1] == "-" and cell != "-")] == []

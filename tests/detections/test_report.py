"""`win4658 hunt --html`: the report loaded in a real browser (Debian's chromium, headless): the findings it shows
are those of the JSON output, the handle sessions (with --sessions) those of `convert --to sessions`, its tables
filter and sort, nothing is fetched, no console error, and hostile values stay text."""

import json
import os
import re
import shutil
import subprocess
from collections import Counter

import pytest

from tests.support.converted import converted_sessions
from tests.support.paths import corpus_path
from win4658.cli import main
from win4658.detections import report as report_module
from win4658.examples import EXAMPLE_FILES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "C:\\Temp\\<script>alert(1)</script>\"'></x.exe"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
)


def _browser(*options, url):
    """chromium headless on a file: its stdout and the console messages it logged (errors included)."""
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=20000",
            *options,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def _hunt(capsys, tmp_path, *paths):
    report = tmp_path / "report.html"
    status = main(["hunt", "--format", "json", "--html", str(report), *paths])
    lines = capsys.readouterr().out.splitlines()
    return status, report, json.loads(lines[-1])["summary"], [json.loads(line) for line in lines[:-1]]


def _check_in_browser(report, summary, tmp_path):
    dom, console = _browser("--dump-dom", url=report.as_uri())
    assert console == [] and 'data-ready="1"' in dom
    total = sum(summary["findings"].values())
    assert re.search(r'id="match-count" data-matches="(\d+)"', dom).group(1) == str(total)
    shown = dict(re.findall(r'<tr data-detection="([a-z0-9_]+)" data-count="(\d+)"', dom))
    assert {name: int(count) for name, count in shown.items() if int(count)} == summary["findings"]
    assert dom.count('<tr><td class="nowrap">') == min(total, 100)  # the first page of the findings table
    screenshot = tmp_path / "report.png"
    _browser("--hide-scrollbars", "--window-size=1400,2400", f"--screenshot={screenshot}", url=report.as_uri())
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 50_000
    return dom


@needs_chromium
def test_report_of_the_bundled_examples_shows_what_the_json_finds(capsys, tmp_path):
    status, report, summary, _findings = _hunt(capsys, tmp_path, *EXAMPLE_FILES)
    dom = _check_in_browser(report, summary, tmp_path)
    assert status == 0 and "Q1-budget.xlsx" in dom and "9,161.578" in dom  # the longest handle, named
    assert re.search(r'<td class="sev high">high</td><td title="[^"]+">4</td><td>TA0006 T1003</td>', dom)


@needs_chromium
def test_report_of_the_corpus_shows_what_the_json_finds(capsys, tmp_path):
    status, report, summary, _findings = _hunt(capsys, tmp_path, corpus_path())
    _check_in_browser(report, summary, tmp_path)
    assert status == 0 and sum(summary["findings"].values()) == 1399


def test_report_is_self_contained():
    import io

    from win4658.detections.local_hunt import Hunt
    from win4658.detections.report import HtmlReport

    hunt = Hunt()
    report = HtmlReport(hunt)
    for item in hunt.run(EXAMPLE_FILES):
        report.add(item)
    page = io.StringIO()
    report.write(page)
    text = page.getvalue()
    assert "default-src 'none'" in text
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", text)  # no resource from anywhere
    assert re.findall(r"<script[^>]*>", text) == ['<script type="application/json" id="data">', "<script>"]


def _hostile_examples(tmp_path):
    """The bundled examples with explorer.exe and the budget file renamed to markup, as an attacker could."""
    escaped = (
        HOSTILE.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )
    with open(EXAMPLE_FILES[1], encoding="utf-8") as stream:
        text = stream.read()
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(
        text.replace("C:\\Windows\\explorer.exe", escaped).replace(
            "C:\\Users\\alice\\Documents\\Q1-budget.xlsx", escaped
        ),
        encoding="utf-8",
    )
    return str(hostile)


def test_hostile_values_are_escaped_in_the_file(capsys, tmp_path):
    _status, report, _summary, findings = _hunt(capsys, tmp_path, _hostile_examples(tmp_path))
    text = report.read_text(encoding="utf-8")
    assert any(finding.get("process") == HOSTILE for finding in findings)
    assert "<script>alert" not in text and "</script>\"'" not in text
    assert len(re.findall(r"<script", text, re.IGNORECASE)) == 2 and text.count("</script>") == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&gt;&lt;/x.exe" in text  # the lifetime tables


@needs_chromium
def test_hostile_values_stay_text_in_the_browser(capsys, tmp_path):
    _status, report, summary, _findings = _hunt(capsys, tmp_path, _hostile_examples(tmp_path))
    dom = _check_in_browser(report, summary, tmp_path)
    assert "alert(1)" in dom and len(re.findall(r"<script", dom, re.IGNORECASE)) == 2
    # the findings table wrote the value as text: the browser serialises it escaped
    assert "<td>C:\\Temp\\&lt;script&gt;alert(1)&lt;/script&gt;\"'&gt;&lt;/x.exe</td>" in dom
    assert os.path.getsize(report) < 100_000


def test_lifetime_view_counts_every_paired_handle_and_keeps_the_longest():
    from win4658.detections.local_hunt import Hunt

    hunt = Hunt()
    for _item in hunt.run(EXAMPLE_FILES):
        pass
    assert {label: count for label, count in hunt.durations.histogram() if count} == {
        "1–10 ms": 2,
        "10–100 ms": 1,
        "1 h–1 day": 1,
    }
    longest = hunt.durations.longest()
    assert [round(handle["duration_seconds"], 3) for handle in longest] == [9161.578, 0.013, 0.002, 0.002]
    assert longest[0]["object_name"] == r"C:\Users\alice\Documents\Q1-budget.xlsx"
    assert longest[0]["handle_id"] == "0x1a8c"


# --- the handle sessions (hunt --sessions) ------------------------------------------------------------------------


def _hunt_sessions(capsys, tmp_path, *paths):
    report = tmp_path / "sessions.html"
    assert main(["hunt", "--format", "json", "--sessions", "--html", str(report), *paths]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return report, [line["session"] for line in lines if "session" in line]


def _longest_first(records):
    """The closed sessions as the report lists them: the longest first, equal durations in the order they ended."""
    closed = [record for record in records if "duration_ns" in record]
    return sorted(closed, key=lambda record: -record["duration_ns"])  # sorted is stable


def _listed(records):
    """The sessions the report's table lists, as embedded: the longest closed, then the first still open."""
    still_open = [record for record in records if record["ending"] == "open_at_end"]
    return _longest_first(records)[:1000] + still_open[:1000]


def _seconds(record):
    return f"{record['duration_seconds']:,.3f}" if "duration_seconds" in record else "open"


def _session_rows(dom):
    body = re.search(r'<table id="sessions-table">.*?<tbody>(.*?)</tbody>', dom).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def _check_sessions(dom, records, converted):
    """The section shows the sessions of convert --to sessions: counts by ending, the longest on the first page."""
    assert [record["ending"] for record in records] == [
        document["win4658"]["handle"]["ending"] for document in converted
    ]
    endings = Counter(record["ending"] for record in records)
    cards = dict(re.findall(r'<div class="card" data-ending="([a-z_]+)"><b>([\d,]+)</b>', dom))
    assert {name: int(count.replace(",", "")) for name, count in cards.items() if count != "0"} == {
        "sessions": len(records),
        **endings,
    }
    longest = _longest_first(records)
    listed = min(len(longest), 1000)
    shown = _listed(records)
    assert re.search(r'id="sessions-match-count" data-matches="(\d+)"', dom).group(1) == str(len(shown))
    rows = _session_rows(dom)
    assert [(row[0], row[1], row[2], row[6]) for row in rows] == [
        (_seconds(record), record.get("start", ""), record["host"], record["handle_id"]) for record in shown[:100]
    ]
    assert re.findall(r'<td title="closed ([^"]+)">', dom) == [
        record["end"] for record in shown[:100] if "end" in record
    ]
    more = re.search(r'id="sessions-more">([\d,]+) more sessions', dom)
    assert (more and int(more.group(1).replace(",", ""))) == (len(longest) - listed or None)
    return rows


@needs_chromium
def test_sessions_section_of_the_examples_is_convert_to_sessions(capsys, tmp_path):
    report, records = _hunt_sessions(capsys, tmp_path, *EXAMPLE_FILES)
    converted, _data = converted_sessions(tmp_path, *EXAMPLE_FILES)
    dom, console = _browser("--dump-dom", url=report.as_uri())
    assert console == [] and 'data-ready="1"' in dom
    rows = _check_sessions(dom, records, converted)
    assert rows[1][8:12] == [
        r"\Device\HarddiskVolume2\Windows\System32\lsass.exe",
        "PROCESS_VM_READ PROCESS_QUERY_LIMITED_INFORMATION",
        "PROCESS_VM_READ",
        "1",
    ]
    assert re.search(r"<tr><td>File</td><td class=\"num\">2</td><td class=\"num\">2</td>", dom)
    assert rows[0][12:] == ["hunt_examples.xml", "13"] and f'<td title="{EXAMPLE_FILES[1]}">' in dom


@needs_chromium
def test_sessions_section_of_the_corpus_is_bounded_and_is_convert_to_sessions(capsys, tmp_path):
    report, records = _hunt_sessions(capsys, tmp_path, corpus_path())
    converted, _data = converted_sessions(tmp_path, corpus_path())
    dom, console = _browser("--dump-dom", url=report.as_uri())
    assert console == [] and 'data-ready="1"' in dom
    _check_sessions(dom, records, converted)
    assert len(records) == 5442 and "1,491 more sessions with a duration are not shown" in dom
    assert len(re.search(r'"sessions":\{.*?"rows":(\[.*?\])\}\}</script>', report.read_text()).group(1)) < 400_000


def _interacted(report, tmp_path, script):
    """The report with ``script`` run after its own (as a user's clicks and typing), as the browser then shows it."""
    page = tmp_path / "interacted.html"
    page.write_text(
        report.read_text(encoding="utf-8").replace("</body>", f"<script>{script}</script></body>"), encoding="utf-8"
    )
    dom, console = _browser("--dump-dom", url=page.as_uri())
    assert console == []
    return dom


@needs_chromium
def test_sessions_and_findings_tables_filter_and_sort(capsys, tmp_path):
    report, _records = _hunt_sessions(capsys, tmp_path, *EXAMPLE_FILES)
    type_code = json.loads(re.search(r'id="data">(.*?)</script>', report.read_text()).group(1))["strings"].index("File")

    def matches(dom, prefix=""):
        return int(re.search(rf'id="{prefix}match-count" data-matches="(\d+)"', dom).group(1))

    typed = '{{ const f = document.getElementById("{id}"); f.value = "{text}"; f.dispatchEvent(new Event("input")); }}'
    dom = _interacted(
        report, tmp_path, typed.format(id="sessions-filter", text="LSASS") + typed.format(id="filter", text="mimikatz")
    )
    assert (matches(dom, "sessions-"), matches(dom)) == (1, 4)
    chosen = (
        f'{{ const s = document.getElementById("sessions-type"); s.value = "{type_code}";'
        's.dispatchEvent(new Event("change")); }'
    )
    dom = _interacted(report, tmp_path, chosen)
    assert matches(dom, "sessions-") == 2 and [row[8] for row in _session_rows(dom)] == [
        r"C:\Users\alice\Documents\Q1-budget.xlsx",
        r"C:\Windows\System32\config\SAM",
    ]
    dom = _interacted(report, tmp_path, chosen + typed.format(id="sessions-filter", text="alice"))
    assert matches(dom, "sessions-") == 1
    dom = _interacted(report, tmp_path, 'document.querySelector("#sessions-table th").click();')  # seconds, rising
    assert [row[0] for row in _session_rows(dom)] == ["0.002", "0.002", "0.013", "9,161.578"]


def _unclosed_examples(tmp_path):
    """The examples without the closes of the lsass and SAM handles: both are still open at the end of the data."""
    unclosed = tmp_path / "unclosed.xml"
    with open(EXAMPLE_FILES[1], encoding="utf-8") as stream:
        unclosed.write_text(
            "".join(line for line in stream if not re.search(r"<EventRecordID>5001(08|10)<", line)), encoding="utf-8"
        )
    return str(unclosed)


def test_the_report_counts_the_sessions_past_its_bounds(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "MAX_SESSIONS_EMBEDDED", 1)
    report, _records = _hunt_sessions(capsys, tmp_path, _unclosed_examples(tmp_path))
    text = report.read_text(encoding="utf-8")
    assert "<h3>The 1 longest sessions, then 1 still open at the end of the data</h3>" in text
    assert '<p class=warn id="sessions-more">1 more sessions with a duration are not shown' in text
    assert (
        '<p class=warn id="sessions-open-more">1 more sessions still open at the end of the data are not shown '
        "(the report keeps the 1 opened first).</p>"
    ) in text
    rows = json.loads(re.search(r'id="data">(.*?)</script>', text).group(1))["sessions"]["rows"]
    assert [(row[0], row[1]) for row in rows] == [
        (9161.578, "2026-03-02T09:00:03.512000Z"),
        (None, "2026-03-02T09:31:07.250118Z"),
    ]


@needs_chromium
def test_handles_still_open_at_the_end_follow_the_longest_sessions(capsys, tmp_path):
    report, records = _hunt_sessions(capsys, tmp_path, _unclosed_examples(tmp_path))
    dom, console = _browser("--dump-dom", url=report.as_uri())
    assert console == [] and 'data-ready="1"' in dom
    assert [(row[0], row[1], row[6], row[8]) for row in _session_rows(dom)] == [
        ("9,161.578", "2026-03-02T09:00:03.512000Z", "0x1a8c", r"C:\Users\alice\Documents\Q1-budget.xlsx"),
        (
            "0.002",
            "2026-03-02T08:59:58.101234Z",
            "0x2f4",
            r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion",
        ),
        ("open", "2026-03-02T09:31:07.250118Z", "0x2a4", r"\Device\HarddiskVolume2\Windows\System32\lsass.exe"),
        ("open", "2026-03-02T09:42:55.610001Z", "0x1c4", r"C:\Windows\System32\config\SAM"),
    ]
    assert [(row[0], row[1], row[2], row[6]) for row in _session_rows(dom)] == [
        (_seconds(record), record["start"], record["host"], record["handle_id"]) for record in _listed(records)
    ]
    assert re.findall(r'<td title="still open at the end of the data">([^<]+)</td>', dom) == [
        "2026-03-02T09:31:07.250118Z",
        "2026-03-02T09:42:55.610001Z",
    ]
    assert "<h3>The 2 longest sessions, then 2 still open at the end of the data</h3>" in dom
    seconds = 'document.querySelector("#sessions-table th").click();'
    dom = _interacted(report, tmp_path, seconds)  # rising: a handle still open has been open the longest
    assert [row[0] for row in _session_rows(dom)] == ["0.002", "9,161.578", "open", "open"]
    dom = _interacted(report, tmp_path, seconds * 2)
    assert [row[0] for row in _session_rows(dom)] == ["open", "open", "9,161.578", "0.002"]


@needs_chromium
def test_hostile_values_stay_text_in_the_sessions_table(capsys, tmp_path):
    report, _records = _hunt_sessions(capsys, tmp_path, _hostile_examples(tmp_path))
    dom, console = _browser("--dump-dom", url=report.as_uri())
    assert console == [] and len(re.findall(r"<script", dom, re.IGNORECASE)) == 2
    assert _session_rows(dom)[0][4] == "C:\\Temp\\&lt;script&gt;alert(1)&lt;/script&gt;\"'&gt;&lt;/x.exe"

"""`win4658 hunt --html`: the report loaded in a real browser (Debian's chromium, headless): the findings it shows
are those of the JSON output, nothing is fetched, no console error, and hostile values stay text."""
import json
import os
import re
import shutil
import subprocess

import pytest

from tests.support.paths import corpus_path
from win4658.cli import main
from win4658.examples import EXAMPLE_FILES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "C:\\Temp\\<script>alert(1)</script>\"'></x.exe"
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                    "(apt-get install -y chromium; .ci/run installs it)")


def _browser(*options, url):
    """chromium headless on a file: its stdout and the console messages it logged (errors included)."""
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=20000", *options, url],
                          capture_output=True, text=True, timeout=180, check=True)
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
    assert dom.count("<tr><td class=\"nowrap\">") == min(total, 100)  # the first page of the findings table
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
    escaped = (HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .replace('"', "&quot;").replace("'", "&apos;"))
    with open(EXAMPLE_FILES[1], encoding="utf-8") as stream:
        text = stream.read()
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(text.replace("C:\\Windows\\explorer.exe", escaped)
                       .replace("C:\\Users\\alice\\Documents\\Q1-budget.xlsx", escaped), encoding="utf-8")
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
        "1–10 ms": 2, "10–100 ms": 1, "1 h–1 day": 1}
    longest = hunt.durations.longest()
    assert [round(handle["duration_seconds"], 3) for handle in longest] == [9161.578, 0.013, 0.002, 0.002]
    assert longest[0]["object_name"] == r"C:\Users\alice\Documents\Q1-budget.xlsx"
    assert longest[0]["handle_id"] == "0x1a8c"

"""The HTML report of a large hunt: `win4658 hunt --html` over sampled events, the file's size and how long
headless chromium takes to load it until its script has drawn the findings table.

    .venv/bin/python benchmarks/report.py --events 250000     # about 100,000 findings
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import datagen  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=250_000, help="sampled events to hunt over (default 250,000)")
    parser.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "corpus"))
    parser.add_argument("--runs", type=int, default=3, help="browser loads (default 3)")
    args = parser.parse_args()
    data = os.path.join(HERE, ".data")
    os.makedirs(data, exist_ok=True)
    events = os.path.join(data, f"hunt-{args.events}.ndjson")
    if not os.path.exists(events):
        datagen.write_jsonlines(datagen.sampled_events(datagen.corpus_pool(args.corpus), args.events), events)
    report = os.path.join(data, "report.html")
    started = time.monotonic()
    done = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "win4658"),
            "hunt",
            "--format",
            "json",
            "--html",
            report,
            events,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    hunt_seconds = time.monotonic() - started
    summary = json.loads(done.stdout.splitlines()[-1])["summary"]
    findings = sum(summary["findings"].values())
    print(
        f"events {args.events:,}, findings {findings:,}, hunt --html {hunt_seconds:.1f} s, "
        f"report {os.path.getsize(report) / 2**20:.1f} MiB"
    )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    for _run in range(args.runs):
        started = time.monotonic()
        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=60000",
                "--dump-dom",
                "file://" + report,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        wall = time.monotonic() - started
        loaded = re.search(r'data-load-ms="(\d+)"', dom)
        shown = re.search(r'data-matches="(\d+)"', dom)
        print(
            f"chromium: script done at {loaded.group(1) if loaded else '?'} ms after navigation start, "
            f"findings in the table {shown.group(1) if shown else '?'}, whole process {wall:.1f} s"
        )


if __name__ == "__main__":
    main()

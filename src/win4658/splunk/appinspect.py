"""Read splunk-appinspect's JSON report: the exit status of `splunk-appinspect inspect` is 0 even when checks fail.

python -m win4658.splunk.appinspect REPORT.json   → prints the summary and each failure/error, exit 1 if any
"""

import json
import sys
from typing import Any, Dict, List, Tuple

BLOCKING = ("failure", "error")


def verdict(report: Dict[str, Any]) -> Tuple[bool, List[str]]:
    """(passed, lines): the summary line, then one line per failed or errored check with its first messages."""
    summary = report["summary"]
    lines = ["appinspect: " + ", ".join(f"{name} {count}" for name, count in sorted(summary.items()))]
    for app_report in report.get("reports", []):
        for group in app_report.get("groups", []):
            for check in group.get("checks", []):
                if check.get("result") in BLOCKING:
                    messages = "; ".join(message.get("message", "") for message in check.get("messages", [])[:3])
                    lines.append(f"  {check['result']}: {check['name']}: {messages}")
    passed = all(summary.get(name, 0) == 0 for name in BLOCKING)
    return passed, lines


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m win4658.splunk.appinspect REPORT.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as stream:
        passed, lines = verdict(json.load(stream))
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

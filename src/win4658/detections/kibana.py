"""Kibana detection rules (EQL over ECS as `to_ecs` and the ingest pipeline produce it), one NDJSON line each.

The lines import with `POST /api/detection_engine/rules/_import`. A path list becomes a `regex~` lookup list of
the expressions `paths.pattern_regex` builds, the ones the local engine matches, so both flag the same events.
"""
import json
from typing import Dict, Iterable, List, Optional

from ..quoting import eql_string
from .definitions import Detection
from .lifetime import ZERO_HANDLES
from .paths import pattern_regex, wildcard_regex

INDEX_PATTERNS = ["winlogbeat-*", "logs-system.security-*", "logs-windows.*", "win4658-*"]
ATTACK = "https://attack.mitre.org"
EVIDENCE_FIELDS = ["host.name", "user.name", "process.executable", "process.pid", "winlog.event_data.HandleId",
                   "winlog.event_data.ObjectName"]
CLOSED_WITH_PROCESS = 'any where event.code == "4658" and process.executable != null'
LIFETIME_TIEBREAKER = "event.sequence"  # the record number as a long (winlog.record_id is a keyword)


def eql_list(texts: Iterable[str]) -> str:
    """A lookup list: one regexp query per pattern, each under Elasticsearch's 1,000-character regex limit."""
    return "(" + ", ".join(map(eql_string, texts)) + ")"


def _allowlist(detection: Detection) -> str:
    rows = detection.list.rows  # type: ignore[union-attr]
    every_host = [path for host, path in rows if host.strip() == "*"]
    allowed = [f"process.executable regex~ {eql_list(map(pattern_regex, every_host))}"] if every_host else []
    allowed += [f"(host.name regex~ {eql_string(wildcard_regex(host))} and "
                f"process.executable regex~ {eql_string(pattern_regex(path))})"
                for host, path in rows if host.strip() != "*"]
    return f"{CLOSED_WITH_PROCESS} and not ({' or '.join(allowed) or 'false'})"


def _folders(detection: Detection, negate: bool) -> str:
    regexes = eql_list(map(pattern_regex, detection.list.column("path_pattern")))  # type: ignore[union-attr]
    return f"{CLOSED_WITH_PROCESS} and {'not ' if negate else ''}process.executable regex~ {regexes}"


def _substrings(detection: Detection) -> str:
    patterns = ", ".join(eql_string(f"*{substring}*") for substring in detection.list.column("substring"))  # type: ignore[union-attr]
    return f"{CLOSED_WITH_PROCESS} and process.executable : ({patterns})"


def _lifetime(detection: Detection) -> str:
    zero = ", ".join(map(eql_string, ZERO_HANDLES))
    return ("sequence by host.name, process.pid, winlog.event_data.HandleId\n"
            '  [any where event.code == "4656" and (event.outcome == null or event.outcome != "failure")'
            f" and not winlog.event_data.HandleId in ({zero})]\n"
            '  [any where event.code == "4658"]')


QUERIES = {
    "allowlist": _allowlist,
    "standard_folders": lambda detection: _folders(detection, negate=True),
    "restricted_folders": lambda detection: _folders(detection, negate=False),
    "restricted_substrings": _substrings,
    "handle_lifetime": _lifetime,
}


def query(detection: Detection) -> Optional[str]:
    build = QUERIES.get(detection.kind)
    return build(detection) if build else None


def _threat(detection: Detection) -> List[dict]:
    threats = []
    for entry in detection.spec.get("mitre", []):
        tactic, technique = entry["tactic"], entry["technique"]
        item = {"id": technique["id"], "name": technique["name"],
                "reference": f"{ATTACK}/techniques/{technique['id']}/"}
        if "subtechnique" in entry:
            sub = entry["subtechnique"]
            item["subtechnique"] = [{"id": sub["id"], "name": sub["name"],
                                     "reference": f"{ATTACK}/techniques/{sub['id'].replace('.', '/')}/"}]
        threats.append({"framework": "MITRE ATT&CK",
                        "tactic": {"id": tactic["id"], "name": tactic["name"],
                                   "reference": f"{ATTACK}/tactics/{tactic['id']}/"},
                        "technique": [item]})
    return threats


def rule(detection: Detection) -> Dict[str, object]:
    spec = detection.spec
    document: Dict[str, object] = {
        "rule_id": spec["rule_id"],
        "name": f"win4658 {detection.number}: {detection.title}",
        "description": spec["description"],
        "type": "eql",
        "language": "eql",
        "query": query(detection),
        "index": INDEX_PATTERNS,
        "severity": spec["severity"],
        "risk_score": spec["risk_score"],
        "threat": _threat(detection),
        "references": spec["references"],
        "false_positives": spec["false_positives"],
        "author": ["win4658"],
        "license": "Apache-2.0",
        "tags": ["win4658", "OS: Windows", "Windows Security 4658", f"win4658 detection {detection.number}"],
        "interval": "15m",
        "from": "now-20m",
        "enabled": False,
        "max_signals": 100,
        "version": 1,
        "investigation_fields": {"field_names": EVIDENCE_FIELDS},
    }
    if detection.kind == "handle_lifetime":
        # equal times in the log's order: by the record number (docs/pairing.md)
        document["tiebreaker_field"] = LIFETIME_TIEBREAKER
        document["building_block_type"] = "default"
        document["note"] = ("Each alert is one handle lifetime (its 4656 and 4658). Durations, per-process "
                            "statistics and the long-handle threshold are computed by `win4658 hunt` and Splunk.")
    return document


def rules(detections: List[Detection]) -> List[Dict[str, object]]:
    return [rule(detection) for detection in detections if detection.spec["kibana"] and detection.kind in QUERIES]


def rules_ndjson(detections: List[Detection]) -> str:
    return "".join(json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n" for document in rules(detections))

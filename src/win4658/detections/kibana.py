"""Kibana detection rules (EQL over ECS as `to_ecs` and the ingest pipeline produce it), one NDJSON line each.

The lines import with `POST /api/detection_engine/rules/_import`. A path list becomes a `regex~` lookup list of
the expressions `paths.pattern_regex` builds, the ones the local engine matches, so both flag the same events.
"""

import json
from typing import Callable, Dict, Iterable, List, Optional

from ..quoting import eql_string
from .definitions import Detection
from .fields import FINDING_FIELDS, HANDLE_KEY, FieldNames
from .lifetime import ZERO_HANDLES
from .paths import pattern_regex, wildcard_regex

INDEX_PATTERNS = ["winlogbeat-*", "logs-system.security-*", "logs-windows.*", "win4658-*"]
ATTACK = "https://attack.mitre.org"
# a rule's investigation fields: the finding's, and the object where the rule's event names one
EVIDENCE_FIELDS = (*FINDING_FIELDS, "EventData.ObjectName")
# the lifetime's tiebreaker: the record number as a long (event.sequence in ECS, where winlog.record_id is a keyword)
LIFETIME_TIEBREAKER = "System.EventRecordID"


def eql_list(texts: Iterable[str]) -> str:
    """A lookup list: one regexp query per pattern, each under Elasticsearch's 1,000-character regex limit."""
    return "(" + ", ".join(map(eql_string, texts)) + ")"


def _path_in(detection: Detection, field: str, _ecs: FieldNames) -> str:
    _condition, rows = detection.condition_and_list()
    return f"{field} regex~ {eql_list(map(pattern_regex, rows.compared))}"


def _path_in_for_host(detection: Detection, field: str, ecs: FieldNames) -> str:
    condition, rows = detection.condition_and_list()
    host_field = ecs(condition.by_field())
    every_host = [path for host, path in rows.rows if host.strip() == "*"]
    allowed = [f"{field} regex~ {eql_list(map(pattern_regex, every_host))}"] if every_host else []
    allowed += [
        f"({host_field} regex~ {eql_string(wildcard_regex(host))} and {field} regex~ {eql_string(pattern_regex(path))})"
        for host, path in rows.rows
        if host.strip() != "*"
    ]
    return f"({' or '.join(allowed) or 'false'})"


def _contains_any(detection: Detection, field: str, _ecs: FieldNames) -> str:
    _condition, rows = detection.condition_and_list()
    return f"{field} : ({', '.join(eql_string(f'*{substring}*') for substring in rows.compared)})"


# The EQL backend's token table: operator → (detection, the field's ECS name, the ECS names) → the test of the field
OPERATORS: Dict[str, Callable[[Detection, str, FieldNames], str]] = {
    "path_in": _path_in,
    "contains_any": _contains_any,
    "path_in_for_host": _path_in_for_host,
}


def _condition_query(detection: Detection, ecs: FieldNames) -> str:
    condition, _rows = detection.condition_and_list()
    field = ecs(condition.field)
    codes = ", ".join(f'"{code}"' for code in sorted(detection.event_ids))
    event_codes = f"{ecs('System.EventID')} " + (f"== {codes}" if len(detection.event_ids) == 1 else f"in ({codes})")
    test = OPERATORS[condition.operator](detection, field, ecs)
    return f"any where {event_codes} and {field} != null and {'not ' if condition.negate else ''}{test}"


def _lifetime(_detection: Detection, ecs: FieldNames) -> str:
    zero = ", ".join(map(eql_string, ZERO_HANDLES))
    code, outcome, handle = ecs("System.EventID"), ecs.transformed("System.Keywords", "lookup"), ecs(HANDLE_KEY[-1])
    return (
        f"sequence by {', '.join(map(ecs, HANDLE_KEY))}\n"
        f'  [any where {code} == "4656" and ({outcome} == null or {outcome} != "failure")'
        f" and not {handle} in ({zero})]\n"
        f'  [any where {code} == "4658"]'
    )


# the handle trace is a drill-down: no rule
STATEFUL: Dict[str, Callable[[Detection, FieldNames], str]] = {"handle_lifetime": _lifetime}


def query(detection: Detection, ecs: FieldNames) -> Optional[str]:
    if detection.kind is None:
        return _condition_query(detection, ecs)
    build = STATEFUL.get(detection.kind)
    return build(detection, ecs) if build else None


def _threat(detection: Detection) -> List[dict]:
    threats = []
    for entry in detection.spec.get("mitre", []):
        tactic, technique = entry["tactic"], entry["technique"]
        item = {
            "id": technique["id"],
            "name": technique["name"],
            "reference": f"{ATTACK}/techniques/{technique['id']}/",
        }
        if "subtechnique" in entry:
            sub = entry["subtechnique"]
            item["subtechnique"] = [
                {
                    "id": sub["id"],
                    "name": sub["name"],
                    "reference": f"{ATTACK}/techniques/{sub['id'].replace('.', '/')}/",
                }
            ]
        threats.append(
            {
                "framework": "MITRE ATT&CK",
                "tactic": {
                    "id": tactic["id"],
                    "name": tactic["name"],
                    "reference": f"{ATTACK}/tactics/{tactic['id']}/",
                },
                "technique": [item],
            }
        )
    return threats


def rule(detection: Detection, ecs: FieldNames) -> Dict[str, object]:
    spec = detection.spec
    document: Dict[str, object] = {
        "rule_id": spec["rule_id"],
        "name": f"win4658 {detection.number}: {detection.title}",
        "description": spec["description"],
        "type": "eql",
        "language": "eql",
        "query": query(detection, ecs),
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
        "investigation_fields": {"field_names": [ecs(field) for field in EVIDENCE_FIELDS]},
    }
    if detection.kind == "handle_lifetime":
        # equal times in the log's order: by the record number (docs/pairing.md)
        document["tiebreaker_field"] = ecs(LIFETIME_TIEBREAKER)
        document["building_block_type"] = "default"
        document["note"] = (
            "Each alert is one handle lifetime (its 4656 and 4658). Durations, per-process "
            "statistics and the long-handle threshold are computed by `win4658 hunt` and Splunk."
        )
    return document


def rules(detections: List[Detection], ecs: FieldNames) -> List[Dict[str, object]]:
    return [
        rule(detection, ecs)
        for detection in detections
        if detection.spec["kibana"] and query(detection, ecs) is not None
    ]


def rules_ndjson(detections: List[Detection], ecs: FieldNames) -> str:
    return "".join(
        json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n" for document in rules(detections, ecs)
    )

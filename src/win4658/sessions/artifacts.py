"""The committed handle-session files, written by `win4658 generate` from mappings/session.yml and detections/."""
import json
from typing import Dict

from ..detections import kibana
from ..detections.publish import checkout_detections
from ..elasticsearch.artifacts import as_text
from .elastic import session_rules, sessions_template_body

SESSIONS_TEMPLATE_FILE = "ingest_pipelines/win4658-sessions-template.json"
KIBANA_SESSION_RULES = "detections/generated/kibana_session_rules.ndjson"
READS_CHECKOUT = True  # the detections are read from the checkout being generated (win4658.generate)


def generated_files(root: str) -> Dict[str, str]:
    detections = checkout_detections(root)
    rules = session_rules(detections, kibana.rules(detections))
    return {SESSIONS_TEMPLATE_FILE: as_text(sessions_template_body()),
            KIBANA_SESSION_RULES: "".join(json.dumps(rule, ensure_ascii=False, sort_keys=True) + "\n" for rule in rules)}

"""The committed handle-session files (win4658.artifacts): the sessions' index template from mappings/session.yml,
their Kibana rules from detections/."""

import json
from typing import Any, Dict, List

from ..detections import kibana
from ..detections.definitions import Detection
from ..detections.fields import FieldNames
from ..elasticsearch.artifacts import as_text
from .elastic import session_rules, sessions_template_body

SESSIONS_TEMPLATE_FILE = "ingest_pipelines/win4658-sessions-template.json"
KIBANA_SESSION_RULES = "detections/generated/kibana_session_rules.ndjson"


def sessions_template(spec: Dict[str, Any]) -> str:
    return as_text(sessions_template_body(spec))


def kibana_session_rules(detections: List[Detection], ecs: FieldNames, spec: Dict[str, Any]) -> str:
    rules = session_rules(detections, kibana.rules(detections, ecs), spec)
    return "".join(json.dumps(rule, ensure_ascii=False, sort_keys=True) + "\n" for rule in rules)

"""Handle sessions in Elasticsearch: their index template (from mappings/session.yml), shipping them with
`win4658 es ship --sessions`, and the lifetime detection as a Kibana rule over the sessions index."""

import json
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from ..detections.definitions import Detection
from ..detections.lifetime import DEFAULT_MAX_OPEN
from ..detections.timeline import DEFAULT_WINDOW
from ..elasticsearch.client import Cluster
from ..elasticsearch.ship import Indexed, ShipSummary, ship_documents
from ..elasticsearch.template import _properties
from ..event import Origin, ReadStats, RecordError
from .fields import ecs_names, to_ecs
from .record import session_record
from .stream import ended_handles, session_hunt, session_origin

SESSIONS_TEMPLATE_NAME = "win4658-sessions"
SESSIONS_INDEX_PATTERN = "win4658-sessions*"
DEFAULT_SESSIONS_INDEX = "win4658-sessions"
TEMPLATE_PRIORITY = 210  # above the events template, whose pattern win4658-* also matches the sessions index
TEMPLATE_VERSION = 1


# the fields an analyst investigates first, by their names in session.yml
EVIDENCE_FIELDS = ("host", "user_name", "process_executable", "process_id", "handle_id", "object_name", "duration_ns")


def session_field_types(spec: Dict[str, Any]) -> Dict[str, str]:
    """Index type of every field a session document of ``spec`` (session.yml) can hold."""
    types = {"@timestamp": "date", **{target: "keyword" for target in spec["ecs_constants"]}}
    by_name = {field["name"]: field for field in spec["fields"]}
    types.update((field["ecs"], field["type"]) for field in spec["fields"])
    for targets in spec["ecs_by_object_type"].values():
        types.update((target, by_name[name]["type"]) for name, target in targets.items())
    return types


def sessions_template_body(spec: Dict[str, Any], substitutes: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The body of ``PUT _index_template/win4658-sessions``: session documents are ECS already, no pipeline;
    ``substitutes`` as for the events template."""
    types = {field: (substitutes or {}).get(kind, kind) for field, kind in session_field_types(spec).items()}
    return {
        "index_patterns": [SESSIONS_INDEX_PATTERN],
        "priority": TEMPLATE_PRIORITY,
        "version": TEMPLATE_VERSION,
        "_meta": {
            "description": "win4658: handle sessions (one document per handle, 4656 to 4658), "
            "fields of mappings/session.yml"
        },
        "template": {"mappings": {"dynamic": "strict", "properties": _properties(types)}},
    }


def session_documents(
    paths: Iterable[str], window: int, max_open_handles: int, stats: ReadStats
) -> Iterator[Union[Tuple[Origin, Dict[str, Any]], RecordError]]:
    """(where its last event was read, ECS document) per session, and RecordErrors; reading counted in ``stats``."""
    hunt = session_hunt(window, max_open_handles)
    hunt.summary.stats = stats
    for item in ended_handles(paths, hunt):
        yield item if isinstance(item, RecordError) else (session_origin(item), to_ecs(session_record(item)))


def _threshold_query(seconds: float, spec: Dict[str, Any]) -> str:
    names = ecs_names(spec)
    return (
        f'event.dataset : {json.dumps(spec["ecs_constants"]["event.dataset"])} and {names["ending"]} : "closed" '
        f"and {names['duration_ns']} > {int(seconds * 1_000_000_000)}"
    )


def session_rules(
    detections: List[Detection], event_rules: List[Dict[str, object]], spec: Dict[str, Any]
) -> List[Dict[str, object]]:
    """The lifetime detection again, as a query over the sessions index of ``spec`` (session.yml; durations there
    are computed)."""
    rules = []
    names = ecs_names(spec)
    by_id = {rule["rule_id"]: rule for rule in event_rules}
    for detection in detections:
        if detection.kind != "handle_lifetime" or detection.spec["rule_id"] not in by_id:
            continue
        base = by_id[detection.spec["rule_id"]]
        seconds = detection.parameters["long_handle_seconds"]
        rule = {
            name: value
            for name, value in base.items()
            if name not in ("building_block_type", "note", "tiebreaker_field")
        }
        rule.update(
            {
                "rule_id": str(uuid.uuid5(uuid.UUID(detection.spec["rule_id"]), "handle-sessions")),
                "name": f"win4658 {detection.number}: {detection.title} (handle sessions)",
                "type": "query",
                "language": "kuery",
                "query": _threshold_query(seconds, spec),
                "index": [SESSIONS_INDEX_PATTERN],
                "investigation_fields": {"field_names": [names[name] for name in EVIDENCE_FIELDS]},
                "note": f"One alert per handle session open longer than {seconds:g} s, from the index "
                "`win4658 es ship --sessions` writes.",
            }
        )
        rules.append(rule)
    return rules


def ship_sessions(
    client: Cluster,
    paths: Iterable[str],
    index: str,
    summary: ShipSummary,
    window: int = DEFAULT_WINDOW,
    max_open_handles: int = DEFAULT_MAX_OPEN,
) -> Iterator[Union[Indexed, RecordError]]:
    """Index one ECS document per handle session (no pipeline: the documents are ECS already)."""
    return ship_documents(client, session_documents(paths, window, max_open_handles, summary.stats), index, summary)

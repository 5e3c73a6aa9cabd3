"""`win4658 es install`: put the generated pipeline and index template, reporting created / updated / unchanged."""
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from elasticsearch import Elasticsearch, NotFoundError

from .client import path_part, request
from .pipeline import PIPELINE_ID, pipeline_body
from .template import INDEX_PATTERN, TEMPLATE_NAME, template_body


class Installed(NamedTuple):
    kind: str
    name: str
    status: str  # created | updated | unchanged


def install(client: Elasticsearch, pipeline_id: str = PIPELINE_ID, template_name: str = TEMPLATE_NAME,
            index_patterns: Sequence[str] = (INDEX_PATTERN,), sessions: bool = False) -> List[Installed]:
    """The pipeline and the events template; with ``sessions``, the handle-sessions template too."""
    from ..sessions.elastic import SESSIONS_TEMPLATE_NAME, sessions_template_body

    template = template_body(pipeline_id=pipeline_id, index_patterns=index_patterns)
    installed = [
        _put(client, "pipeline", pipeline_id, f"/_ingest/pipeline/{path_part(pipeline_id)}", pipeline_body()),
        _put(client, "index template", template_name, f"/_index_template/{path_part(template_name)}", template),
    ]
    if sessions:
        installed.append(_put(client, "index template", SESSIONS_TEMPLATE_NAME,
                              f"/_index_template/{path_part(SESSIONS_TEMPLATE_NAME)}", sessions_template_body()))
    return installed


def _put(client: Elasticsearch, kind: str, name: str, path: str, body: Dict[str, Any]) -> Installed:
    current = _current(client, kind, name, path)
    if current is not None and _contains(current, body):
        return Installed(kind, name, "unchanged")
    request(client, "PUT", path, body)
    return Installed(kind, name, "created" if current is None else "updated")


def _current(client: Elasticsearch, kind: str, name: str, path: str) -> Optional[Dict[str, Any]]:
    try:
        stored = request(client, "GET", path)
    except NotFoundError:
        return None
    if kind == "pipeline":
        return stored.get(name)
    return next((item["index_template"] for item in stored.get("index_templates", []) if item["name"] == name), None)


def _contains(stored: Any, wanted: Any) -> bool:
    """True when every key we send is stored with the same value (Elasticsearch adds defaults of its own)."""
    if isinstance(wanted, dict):
        return isinstance(stored, dict) and all(key in stored and _contains(stored[key], value)
                                                for key, value in wanted.items())
    return stored == wanted

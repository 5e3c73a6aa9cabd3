"""Session records under their ECS or CIM names, as mappings/session.yml declares them."""
import os
from functools import lru_cache
from typing import Any, Callable, Dict, List, Tuple

import yaml

from ..mapping import MAPPINGS_DIR

SESSION_FIELDS_FILE = "session.yml"


@lru_cache(maxsize=1)
def session_spec() -> dict:
    with open(os.path.join(MAPPINGS_DIR, SESSION_FIELDS_FILE), encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _paths(schema: str) -> List[Tuple[str, Tuple[str, ...]]]:
    return [(field["name"], tuple(field[schema].split("."))) for field in session_spec()["fields"]]


def _put(document: Dict[str, Any], path: Tuple[str, ...], value: Any) -> None:
    node = document
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def to_ecs(record: Dict[str, Any]) -> Dict[str, Any]:
    """The nested ECS document of one session."""
    spec = session_spec()
    # the time the session ended (its close), as a finding's: a rule over recent sessions sees the long ones
    document: Dict[str, Any] = {"@timestamp": record.get("end") or record.get("start")}
    for target, value in spec["ecs_constants"].items():
        _put(document, tuple(target.split(".")), value)
    for name, path in _ecs_paths():
        if name in record:
            _put(document, path, record[name])
    for name, target in spec["ecs_by_object_type"].get(record.get("object_type"), {}).items():
        if name in record:
            _put(document, tuple(target.split(".")), record[name])
    return document


def to_cim(record: Dict[str, Any]) -> Dict[str, Any]:
    """The flat CIM fields of one session."""
    document = dict(session_spec()["cim_constants"])
    document.update((target, record[name]) for name, (target,) in _cim_paths() if name in record)
    return document


_ecs_paths = lru_cache(maxsize=1)(lambda: _paths("ecs"))
_cim_paths = lru_cache(maxsize=1)(lambda: _paths("cim"))

SESSION_SHAPES: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {"ecs": to_ecs, "cim": to_cim}


def session_cim(name: str) -> str:
    """The CIM name of a session field (``duration_seconds`` → ``duration``): what Splunk's summary events hold."""
    return dict(_cim_paths())[name][0]

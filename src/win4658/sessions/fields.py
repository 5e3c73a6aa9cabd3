"""Session records under their ECS or CIM names, as mappings/session.yml declares them or, for a field that
carries a field of the Windows event, as the event mappings name that field."""

import os
from functools import lru_cache
from typing import Any, Callable, Dict, List, Tuple

import yaml

from ..detections.fields import FieldNames, installed
from ..mapping import MAPPINGS_DIR

SESSION_FIELDS_FILE = "session.yml"
PLATFORMS = ("ecs", "cim")


def read_session_spec(path: str) -> dict:
    """session.yml as written: a field carrying an event field may leave its ECS and CIM names to the mappings."""
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def resolved(spec: dict, names: Dict[str, FieldNames]) -> dict:
    """``spec`` (session.yml) with an ``ecs`` and a ``cim`` name for every field: its own where it declares one, else
    the name ``names[platform]`` (the event mapping's) gives its ``event_field``."""
    return dict(spec, fields=[_resolved_field(field, names) for field in spec["fields"]])


def _resolved_field(field: dict, names: Dict[str, FieldNames]) -> dict:
    resolved_names = {}
    for platform in PLATFORMS:
        name = field.get(platform) or (names[platform].of(field["event_field"]) if "event_field" in field else None)
        if name is None:
            raise ValueError(
                f"mappings/{SESSION_FIELDS_FILE}: field {field['name']}: mappings/{platform}.yml gives "
                f"{field.get('event_field')} no target of its own; declare its {platform} name"
            )
        resolved_names[platform] = name
    return dict(field, **resolved_names)


@lru_cache(maxsize=1)
def session_spec() -> dict:
    """The installed session.yml, its names resolved through the installed mappings, once per process (generation
    reads the checkout's: Sources.session_spec)."""
    return resolved(
        read_session_spec(os.path.join(MAPPINGS_DIR, SESSION_FIELDS_FILE)),
        {platform: installed(platform) for platform in PLATFORMS},
    )


def ecs_names(spec: dict) -> Dict[str, str]:
    """The ECS name of every session field of ``spec`` (session.yml), by its name there."""
    return {field["name"]: field["ecs"] for field in spec["fields"]}


def cim_names(spec: dict) -> Dict[str, str]:
    """The CIM name of every session field of ``spec`` (``duration_seconds`` → ``duration``): what Splunk's summary
    events hold."""
    return {field["name"]: field["cim"] for field in spec["fields"]}


def carried_names(spec: dict) -> Dict[str, str]:
    """The CIM name of the session field of ``spec`` that carries each event field as written (``EventData.ProcessName``
    → ``process_path``), the first where several do."""
    names: Dict[str, str] = {}
    for field in spec["fields"]:
        if "event_field" in field:
            names.setdefault(field["event_field"], field["cim"])
    return names


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

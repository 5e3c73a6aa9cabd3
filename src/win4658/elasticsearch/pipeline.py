"""The ingest pipeline, generated from mappings/ecs.yml: Winlogbeat's document in, exactly `to_ecs`'s fields out.

Order of the generated processors:
1. a System field the shipper left out of ``winlog.*`` is taken from its fallback (``event.code``, ``host.name``);
2. values "" and "-" of every field the mapping reads are dropped (the mapping counts them as absent);
3. the mapping's targets the shipper may have filled (``event.action``, ``host.name``, ``ecs.version``…) are removed;
4. each rule writes its target; rules that rewrite a field in place run last, after every rule reading it.
Every processor runs only for the mapping's event ids; any other event passes through untouched. Only
processors and options that exist since Elasticsearch 7.0 (and in OpenSearch) are used.
"""

from typing import Any, Dict, List, Optional

from .. import __version__
from ..mapping import ABSENT_VALUES, Mapping, MappingError, bundled
from ..transforms import PAINLESS_PARENT_OF, TRANSFORMS
from ..windows import WINLOGBEAT_EVENT_DATA_PATH as EVENT_DATA_PATH
from ..windows import WINLOGBEAT_FALLBACK_PATHS as FALLBACK_PATHS
from ..windows import WINLOGBEAT_PATHS as SYSTEM_PATHS

PIPELINE_ID = "win4658"
ERROR_TAG = "win4658_pipeline_error"

# No processor can drop the entries of a map whose names are not known in advance.
DROP_ABSENT_SCRIPT = (
    PAINLESS_PARENT_OF
    + """for (List path : params.fields) {
  Map parent = parentOf(ctx, path);
  String leaf = path.get(path.size() - 1);
  if (parent != null && params.absent.contains(parent.get(leaf))) { parent.remove(leaf); }
}
for (List path : params.maps) {
  Map parent = parentOf(ctx, path);
  String leaf = path.get(path.size() - 1);
  def values = parent == null ? null : parent.get(leaf);
  if (values instanceof Map) {
    for (def entries = values.entrySet().iterator(); entries.hasNext();) {
      if (params.absent.contains(entries.next().getValue())) { entries.remove(); }
    }
    if (values.isEmpty()) { parent.remove(leaf); }
  }
}
"""
)

ON_FAILURE: List[Dict[str, Dict[str, Any]]] = [
    {
        "set": {
            "field": "error.message",
            "value": "{{{_ingest.on_failure_message}}} (processor "
            "{{{_ingest.on_failure_processor_type}}} "
            "{{{_ingest.on_failure_processor_tag}}})",
        }
    },
    {"append": {"field": "tags", "value": [ERROR_TAG]}},
]


def pipeline_body(mapping: Optional[Mapping] = None) -> Dict[str, Any]:
    """The body of ``PUT _ingest/pipeline/win4658`` for a mapping (the bundled ECS mapping by default)."""
    mapping = mapping or bundled("ecs")
    gate = _gate(mapping.event_ids)
    specs = [rule.spec for rule in mapping.rules]
    processors = _fallbacks(specs, gate) + [_drop_absent(specs, gate), _remove_targets(specs, gate)]
    for spec in sorted(specs, key=_in_place):
        processors.extend(_rule_processors(spec, mapping.tables, gate))
    return {
        "description": f"win4658 {__version__}: Windows Security events "
        f"{', '.join(map(str, sorted(mapping.event_ids)))} from Winlogbeat 7+/Elastic Agent to ECS "
        f"{mapping.spec.get('ecs_version')}, generated from mappings/ecs.yml; "
        "other events pass through untouched",
        "version": pipeline_version(),
        "processors": processors,
        "on_failure": ON_FAILURE,
    }


def pipeline_version() -> int:
    major, minor, patch = (int(part) for part in __version__.split(".")[:3])
    return major * 10000 + minor * 100 + patch


def _gate(event_ids: frozenset) -> str:
    """Painless: the document is Winlogbeat's and its event id (or the id's fallback) one of ``event_ids``."""
    ids = ", ".join(f"'{event_id}'" for event_id in sorted(event_ids))
    path, fallback = SYSTEM_PATHS["EventID"], FALLBACK_PATHS["EventID"].replace(".", "?.")
    return f"ctx.{path.split('.')[0]} instanceof Map && [{ids}].contains(String.valueOf(ctx.{path} ?: ctx.{fallback}))"


def _input_path(source: str) -> str:
    """Where a rule's source arrives in Winlogbeat's document."""
    section, _, name = source.partition(".")
    if section == "EventData":
        return f"{EVENT_DATA_PATH}.{name}" if name else EVENT_DATA_PATH
    if name not in SYSTEM_PATHS:
        raise MappingError(f"System.{name}: Winlogbeat's document has no place for it (winlogbeat.SYSTEM_PATHS)")
    return SYSTEM_PATHS[name]


def _in_place(spec: dict) -> bool:
    return "source" in spec and _input_path(spec["source"]) == spec["target"]


def _system_fields(specs: List[dict]) -> List[str]:
    names = [spec["source"].partition(".")[2] for spec in specs if spec.get("source", "").startswith("System.")]
    return list(dict.fromkeys(names))


def _painless(path: str) -> str:
    return "ctx." + "?.".join(path.split("."))


def _present(path: str, gate: str) -> str:
    return f"{gate} && {_painless(path)} != null"


def _keys(path: str) -> List[str]:
    return path.split(".")


def _fallbacks(specs: List[dict], gate: str) -> List[dict]:
    return [
        {
            "set": {
                "tag": f"fallback_{SYSTEM_PATHS[name]}",
                "field": SYSTEM_PATHS[name],
                "value": f"{{{{{{{fallback}}}}}}}",
                "if": f"{gate} && {_painless(SYSTEM_PATHS[name])} == null && {_painless(fallback)} != null",
            }
        }
        for name, fallback in FALLBACK_PATHS.items()
        if name in _system_fields(specs)
    ]


def _drop_absent(specs: List[dict], gate: str) -> dict:
    params = {
        "absent": list(ABSENT_VALUES),
        "fields": [_keys(SYSTEM_PATHS[name]) for name in _system_fields(specs)],
        "maps": [_keys(EVENT_DATA_PATH)],
    }
    return {
        "script": {
            "tag": "drop_absent_values",
            "lang": "painless",
            "source": DROP_ABSENT_SCRIPT,
            "params": params,
            "if": gate,
        }
    }


def _remove_targets(specs: List[dict], gate: str) -> dict:
    targets = [spec["target"] for spec in specs if not _in_place(spec)]
    return {
        "remove": {
            "tag": "remove_shipper_values_of_targets",
            "field": list(dict.fromkeys(targets)),
            "ignore_missing": True,
            "if": gate,
        }
    }


def _rule_processors(spec: dict, tables: Dict[str, dict], gate: str) -> List[dict]:
    target = spec["target"]
    if "value" in spec:
        return [{"set": {"tag": f"set_{target}", "field": target, "value": spec["value"], "if": gate}}]
    transform = spec.get("transform", "copy")
    if transform not in TRANSFORMS:
        raise MappingError(f"{target}: transform {transform!r} has no ingest-pipeline twin")
    source = _input_path(spec["source"])
    processors = TRANSFORMS[transform].ingest(source, target, spec, tables)
    return [
        {kind: dict(options, **{"if": _present(source, gate)})}
        for processor in processors
        for kind, options in processor.items()
    ]

"""The composable index template for the indices `win4658 es ship` writes: explicit types for every field the
pipeline writes, and the pipeline as the index's default pipeline."""

from typing import Any, Dict, List, Optional, Sequence

from ..mapping import Mapping, MappingError, bundled
from ..reference import ecs_fields, ecs_version
from ..winlogbeat import EVENT_DATA_PATH
from .pipeline import ON_FAILURE, PIPELINE_ID, pipeline_version

TEMPLATE_NAME = "win4658"
INDEX_PATTERN = "win4658-*"
DEFAULT_INDEX = "win4658-events"


def written_fields(mapping: Mapping) -> List[str]:
    """Every field the pipeline writes: the mapping's targets and what its failure handler sets."""
    failure_fields = [options["field"] for processor in ON_FAILURE for options in processor.values()]
    return list(dict.fromkeys([rule.target for rule in mapping.rules] + failure_fields))


def field_types(mapping: Mapping) -> Dict[str, str]:
    """The index type of every field the pipeline writes: the mapping's custom_fields, else ECS's own."""
    custom = mapping.spec.get("custom_fields", {})
    ecs = ecs_fields()
    missing = [field for field in written_fields(mapping) if field not in custom and field not in ecs]
    if missing:
        raise MappingError(f"{', '.join(missing)}: not an ECS {ecs_version()} field: declare it in custom_fields")
    return {field: custom[field] if field in custom else ecs[field]["type"] for field in written_fields(mapping)}


def template_body(
    mapping: Optional[Mapping] = None,
    pipeline_id: str = PIPELINE_ID,
    index_patterns: Sequence[str] = (INDEX_PATTERN,),
    substitutes: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """The body of ``PUT _index_template/win4658``; ``substitutes`` ({type: portable type}, a Server's
    type_substitutes) maps the fields of a type the server lacks (``match_only_text`` before 7.14 …) as another."""
    mapping = mapping or bundled("ecs")
    types = {field: (substitutes or {}).get(kind, kind) for field, kind in field_types(mapping).items()}
    return {
        "index_patterns": list(index_patterns),
        "priority": 200,
        "version": pipeline_version(),
        "_meta": {"description": "win4658: Windows Security 4658 events in ECS, through the win4658 ingest pipeline"},
        "template": {
            "settings": {"index": {"default_pipeline": pipeline_id}},
            "mappings": {
                "dynamic_templates": [
                    {
                        "winlog_event_data": {
                            "path_match": f"{EVENT_DATA_PATH}.*",
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword"},
                        }
                    },
                ],
                "properties": _properties(types),
            },
        },
    }


def legacy_template_body(composable: Dict[str, Any]) -> Dict[str, Any]:
    """The same template as a ``PUT _template/NAME`` body, for Elasticsearch before 7.8 (``order`` for
    ``priority``, the template's settings and mappings at the top, ``_meta`` inside the mappings)."""
    return {
        "index_patterns": composable["index_patterns"],
        "order": composable["priority"],
        "version": composable["version"],
        "settings": composable["template"].get("settings", {}),
        "mappings": dict(composable["template"]["mappings"], _meta=composable["_meta"]),
    }


def data_stream_template_body(
    composable: Dict[str, Any], custom_template: str, policy: Optional[str], ignore_missing: bool
) -> Dict[str, Any]:
    """The composable template made a data stream's: ``data_stream: {}``, the ILM policy (when the server has
    ILM), and the users' ``@custom`` component template composed last so that its settings and mappings win."""
    body = dict(composable, data_stream={}, composed_of=[custom_template])
    template = body["template"] = dict(composable["template"])
    if policy:
        template["settings"] = {"index": dict(template["settings"]["index"], lifecycle={"name": policy})}
    if ignore_missing:
        body["ignore_missing_component_templates"] = [custom_template]
    return body


def _properties(types: Dict[str, str]) -> Dict[str, Any]:
    properties: Dict[str, Any] = {}
    for field, index_type in sorted(types.items()):
        *parents, leaf = [field] if field == "@timestamp" else field.split(".")
        node = properties
        for key in parents:
            node = node.setdefault(key, {"properties": {}})["properties"]
        node[leaf] = {"type": index_type}
    return properties

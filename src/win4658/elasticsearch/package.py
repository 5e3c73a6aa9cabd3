"""The Elastic integration package (packages/win4658/), written by `win4658 generate` from the same sources as the
rest: the pipeline and the field definitions from mappings/ecs.yml, the golden cases from ingest_pipelines/tests,
the security rules from detections/, the dashboards from dashboards/win4658.yml.

Elastic Agent's `winlog` input reads the Security channel (event ids 4656, 4658, 4663, 4690 by default) into the
data stream `logs-win4658.handles-*`, whose default pipeline is the generated one. Build the zip with
`elastic-package build` or zip the folder, and upload it with `POST /api/fleet/epm/packages` (docs/elastic.md).
"""

import json
from typing import Any, Dict, List

import yaml

from .. import __version__
from ..detections import kibana as kibana_rules
from ..detections.definitions import Detection
from ..detections.fields import FieldNames
from ..kibana.dashboards import saved_objects
from ..mapping import Mapping
from ..sources import Sources
from .pipeline import ON_FAILURE, pipeline_body
from .template import field_types

PACKAGE_NAME = "win4658"
PACKAGE_DIR = f"packages/{PACKAGE_NAME}"
DATA_STREAM = "handles"
DATA_STREAM_DIR = f"{PACKAGE_DIR}/data_stream/{DATA_STREAM}"
FORMAT_VERSION = "3.3.0"
KIBANA_VERSIONS = "^8.12.0 || ^9.0.0"
# Fleet makes the data view `logs-*` for every logs data stream: the package's panels read it, not win4658-*.
FLEET_DATA_VIEW = "logs-*"
PACKAGE_DATA_VIEWS = {"win4658-events": FLEET_DATA_VIEW}
EVENT_IDS = "4656,4658,4663,4690"
# What Elastic Agent and Winlogbeat add to each event and the pipeline passes through, with ECS types: declared so
# that `elastic-package test pipeline` finds every field of the expected documents defined.
SHIPPER_FIELDS = {
    "agent.ephemeral_id": "keyword",
    "agent.id": "keyword",
    "agent.name": "keyword",
    "agent.type": "keyword",
    "agent.version": "keyword",
    "elastic_agent.id": "keyword",
    "elastic_agent.snapshot": "boolean",
    "elastic_agent.version": "keyword",
    "event.created": "date",
    "event.dataset": "constant_keyword",
    "event.module": "constant_keyword",
    "event.ingested": "date",
    "event.original": "keyword",
    "host.architecture": "keyword",
    "host.hostname": "keyword",
    "host.id": "keyword",
    "host.ip": "ip",
    "host.mac": "keyword",
    "host.os.build": "keyword",
    "host.os.family": "keyword",
    "host.os.kernel": "keyword",
    "host.os.name": "keyword",
    "host.os.platform": "keyword",
    "host.os.type": "keyword",
    "host.os.version": "keyword",
    "input.type": "keyword",
    "log.level": "keyword",
    "message": "match_only_text",
    "winlog.api": "keyword",
}


def _yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def manifest() -> Dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "name": PACKAGE_NAME,
        "title": "Windows handle events (4658)",
        "version": __version__,
        "description": "Collect Windows Security handle events (4656, 4658, 4663, 4690) with Elastic Agent, map them "
        "to ECS, and detect unexpected processes and long-held handles.",
        "type": "integration",
        "source": {"license": "Apache-2.0"},
        "categories": ["security", "os_system"],
        "conditions": {"kibana": {"version": KIBANA_VERSIONS}, "elastic": {"subscription": "basic"}},
        "policy_templates": [
            {
                "name": PACKAGE_NAME,
                "title": "Windows handle events",
                "description": "Collect handle events from the Windows Security event log with Elastic Agent.",
                "data_streams": [DATA_STREAM],
                "inputs": [
                    {
                        "type": "winlog",
                        "title": "Collect handle events from the Security log",
                        "description": "Collecting Windows Security events 4656, 4658, 4663 and 4690.",
                    }
                ],
            }
        ],
        "owner": {"github": PACKAGE_NAME, "type": "community"},
    }


def data_stream_manifest() -> Dict[str, Any]:
    return {
        "title": "Windows handle events",
        "type": "logs",
        "streams": [
            {
                "input": "winlog",
                "title": "Windows handle events",
                "description": "Collect Windows Security handle events with Elastic Agent.",
                "template_path": "winlog.yml.hbs",
                "vars": [
                    {
                        "name": "event_id",
                        "type": "text",
                        "title": "Event ids",
                        "multi": False,
                        "required": True,
                        "show_user": True,
                        "default": EVENT_IDS,
                        "description": "The Security event ids to read (comma-separated).",
                    },
                    {
                        "name": "processors",
                        "type": "yaml",
                        "title": "Processors",
                        "multi": False,
                        "required": False,
                        "show_user": False,
                        "description": "Processors run by the agent before the events are sent.",
                    },
                ],
            }
        ],
    }


STREAM_TEMPLATE = """name: Security
event_id: {{event_id}}
{{#if processors}}
processors:
{{processors}}
{{/if}}
"""


def _field(name: str, index_type: str, description: str) -> Dict[str, Any]:
    field: Dict[str, Any] = {"name": name, "type": index_type, "description": description}
    if index_type == "object":
        field["object_type"] = "keyword"  # each winlog.event_data.* value, as the index template maps it
    return field


def field_files(mapping: Mapping) -> Dict[str, List[Dict[str, Any]]]:
    """fields/*.yml: base fields of a data stream, the ECS and winlog.* fields the pipeline writes, and the fields
    the shipper adds."""
    sources = {rule.target: ".".join(part for part in rule.source if part) for rule in mapping.rules}
    failure = {options["field"] for processor in ON_FAILURE for options in processor.values()}
    ecs: List[Dict[str, Any]] = []
    winlog: List[Dict[str, Any]] = []
    for name, index_type in field_types(mapping).items():
        if name == "@timestamp":
            continue
        if name in failure:
            description = "Set by the pipeline when a processor fails; the document is kept."
        elif sources.get(name, "value") == "value":
            description = "A constant the pipeline sets."
        else:
            description = f"From the event's {sources[name]}."
        (winlog if name.startswith("winlog.") else ecs).append(_field(name, index_type, description))
    base = [
        {"name": "data_stream.type", "type": "constant_keyword", "description": "Data stream type."},
        {"name": "data_stream.dataset", "type": "constant_keyword", "description": "Data stream dataset."},
        {"name": "data_stream.namespace", "type": "constant_keyword", "description": "Data stream namespace."},
        {"name": "@timestamp", "type": "date", "description": "When the event was logged (System.TimeCreated)."},
    ]
    shipper = [
        _field(name, index_type, "Set by Elastic Agent or Winlogbeat; the pipeline keeps it.")
        for name, index_type in SHIPPER_FIELDS.items()
    ]
    return {"base-fields.yml": base, "ecs.yml": ecs, "winlog.yml": winlog, "agent.yml": shipper}


def security_rules(detections: List[Detection], ecs: FieldNames) -> Dict[str, Dict[str, Any]]:
    return {
        str(rule["rule_id"]): {"id": rule["rule_id"], "type": "security-rule", "attributes": rule}
        for rule in kibana_rules.rules(detections, ecs)
    }


def kibana_objects(dashboards: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The dashboards' saved objects, reading Fleet's `logs-*` data view instead of win4658-events."""
    objects = []
    for item in saved_objects(dashboards):
        if item["id"] in PACKAGE_DATA_VIEWS:
            continue
        item["references"] = [
            dict(reference, id=PACKAGE_DATA_VIEWS.get(reference["id"], reference["id"]))
            for reference in item["references"]
        ]
        objects.append(item)
    return objects


def dashboard_list(dashboards: Dict[str, Any]) -> str:
    return "\n".join(f'  - "{spec["title"]}": {spec["description"]}' for spec in dashboards["dashboards"])


KIBANA_FOLDERS = {
    "index-pattern": "index_pattern",
    "search": "search",
    "visualization": "visualization",
    "dashboard": "dashboard",
}


def changelog() -> List[Dict[str, Any]]:
    return [
        {
            "version": __version__,
            "changes": [
                {
                    "description": (
                        "First package: the win4658 pipeline, fields, golden pipeline tests, rules and dashboards."
                    ),
                    "type": "enhancement",
                    "link": "docs/elastic.md",
                }
            ],
        }
    ]


README = """# Windows handle events (win4658)

Collects Windows Security events 4656 (handle requested), 4658 (handle closed), 4663 (object access) and 4690
(handle duplicated) with Elastic Agent's Windows event log input, and maps them to ECS with the win4658 ingest
pipeline: `event.action`, `event.outcome`, `host.name`, `user.*`, `process.pid`, `process.executable`,
`process.name`, and the event's own fields under `winlog.*` (`winlog.event_data.*` as keywords).

Requires the Security log's object-access auditing (Audit Handle Manipulation, and Audit File System or Registry
with SACLs on the objects to watch).

## Assets

- The data stream `logs-win4658.handles-*` and its ingest pipeline, tested with the golden cases in
  `data_stream/handles/_dev/test/pipeline`.
- Detection rules (disabled until you enable them): {rules}.
- Dashboards:
{dashboards}

Everything here is generated by `win4658 generate` from the win4658 repository; see its docs/elastic.md.
"""


def package_files(sources: Sources) -> Dict[str, str]:
    """Every file of packages/win4658/, by its path in the checkout."""
    rules = security_rules(sources.detections, sources.ecs_names)
    files = {
        f"{PACKAGE_DIR}/manifest.yml": _yaml(manifest()),
        f"{PACKAGE_DIR}/changelog.yml": _yaml(changelog()),
        f"{PACKAGE_DIR}/docs/README.md": README.format(
            rules=", ".join(sorted(rule["attributes"]["name"] for rule in rules.values())),
            dashboards=dashboard_list(sources.dashboards),
        ),
        f"{DATA_STREAM_DIR}/manifest.yml": _yaml(data_stream_manifest()),
        f"{DATA_STREAM_DIR}/agent/stream/winlog.yml.hbs": STREAM_TEMPLATE,
        f"{DATA_STREAM_DIR}/elasticsearch/ingest_pipeline/default.json": _json(pipeline_body(sources.ecs)),
    }
    files[f"{PACKAGE_DIR}/LICENSE.txt"] = sources.license
    for name, fields in field_files(sources.ecs).items():
        files[f"{DATA_STREAM_DIR}/fields/{name}"] = _yaml(fields)
    for name, text in sources.goldens.items():
        files[f"{DATA_STREAM_DIR}/_dev/test/pipeline/{name}"] = text
    for rule_id, asset in rules.items():
        files[f"{PACKAGE_DIR}/kibana/security_rule/{rule_id}.json"] = _json(asset)
    for item in kibana_objects(sources.dashboards):
        files[f"{PACKAGE_DIR}/kibana/{KIBANA_FOLDERS[item['type']]}/{item['id']}.json"] = _json(item)
    return files

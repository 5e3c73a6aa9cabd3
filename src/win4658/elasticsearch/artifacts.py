"""The committed Elasticsearch files, written by `win4658 generate` from mappings/ecs.yml."""
import json
from typing import Any, Dict

from .pipeline import pipeline_body
from .template import template_body

PIPELINE_FILE = "ingest_pipelines/win4658.json"
TEMPLATE_FILE = "ingest_pipelines/win4658-template.json"


def as_text(body: Dict[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def generated_files() -> Dict[str, str]:
    return {PIPELINE_FILE: as_text(pipeline_body()), TEMPLATE_FILE: as_text(template_body())}

"""Where `win4658 generate` writes the ingest pipeline and the index template (from mappings/ecs.yml), as JSON text."""

import json
from typing import Any, Dict

PIPELINE_FILE = "ingest_pipelines/win4658.json"
TEMPLATE_FILE = "ingest_pipelines/win4658-template.json"


def as_text(body: Dict[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"

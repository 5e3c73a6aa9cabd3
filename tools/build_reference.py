"""Build the shipped field definitions and test schemas from their official sources.

    pip download --no-deps pytest-splunk-addon==6.4.0 -d /tmp/psa
    python tools/build_reference.py --ecs-flat ECS_FLAT --ecs-version 9.4.0 \
        --cim-wheel /tmp/psa/pytest_splunk_addon-6.4.0-py3-none-any.whl --schemas REFERENCE_DIR [--check]

ECS_FLAT is elastic/ecs `generated/ecs/ecs_flat.yml` at the tag of the version, or its JSON extraction
(`../shared/reference/ecs/ecs_flat.json`, whose allowed values sit beside it in `ecs_allowed_values.json`).
REFERENCE_DIR holds `elasticsearch/ingest_pipeline.schema.json` and `sigma/sigma-detection-rule-schema.json`
(`../shared/reference`). `--check` writes nothing and exits 1 if a committed file differs from what it would write.
Provenance and licences: src/win4658/reference/NOTICE.md and tests/reference/NOTICE.md.
"""

import argparse
import json
import os
import sys
import zipfile
from typing import Any, Dict, Iterator, List

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_REFERENCE = os.path.join(ROOT, "src", "win4658", "reference")
TEST_REFERENCE = os.path.join(ROOT, "tests", "reference")
ECS_FIELD_KEYS = ("type", "level", "normalize")
# The CIM datasets the mappings target, by data model (pytest_splunk_addon/data_models/<model>.json).
CIM_DATASETS = {
    "Authentication": ["Authentication"],
    "Change": ["All_Changes"],
    "Data_Access": ["Data_Access"],
    "Endpoint": ["Processes", "Filesystem"],
}
CIM_FIELD_KEYS = ("type", "validity", "condition", "expected_values", "multi_value")
SCHEMAS = ["elasticsearch/ingest_pipeline.schema.json", "sigma/sigma-detection-rule-schema.json"]


def ecs_files(flat_path: str, version: str) -> Dict[str, str]:
    with open(flat_path, encoding="utf-8") as stream:
        flat = json.load(stream) if flat_path.endswith(".json") else yaml.safe_load(stream)
    fields = {name: {key: definition[key] for key in ECS_FIELD_KEYS} for name, definition in sorted(flat.items())}
    allowed = {
        name: {
            "allowed_values": [value["name"] for value in definition["allowed_values"]],
            "expected_event_types": {
                value["name"]: value["expected_event_types"]
                for value in definition["allowed_values"]
                if "expected_event_types" in value
            },
        }
        for name, definition in sorted(flat.items())
        if "allowed_values" in definition
    }
    if not allowed:  # the JSON extraction keeps them in a file of their own
        with open(os.path.join(os.path.dirname(flat_path), "ecs_allowed_values.json"), encoding="utf-8") as stream:
            allowed = json.load(stream)
    lines = [f"{json.dumps(name)}: {json.dumps(definition, sort_keys=True)}" for name, definition in fields.items()]
    header = json.dumps({"ecs_version": version, "source": "elastic/ecs generated/ecs/ecs_flat.yml"})[:-1]
    return {
        os.path.join(PACKAGE_REFERENCE, "ecs_fields.json"): header + ', "fields": {\n' + ",\n".join(lines) + "\n}}\n",
        os.path.join(PACKAGE_REFERENCE, "ecs_allowed_values.json"): _json(allowed),
    }


def _walk(datasets: List[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    for dataset in datasets:
        yield dataset
        yield from _walk(dataset.get("child_dataset", []))


def cim_files(wheel_path: str) -> Dict[str, str]:
    files = {}
    with zipfile.ZipFile(wheel_path) as wheel:
        for model, wanted in CIM_DATASETS.items():
            definition = json.loads(wheel.read(f"pytest_splunk_addon/data_models/{model}.json"))
            by_name = {dataset["name"]: dataset for dataset in _walk(definition["objects"])}
            datasets = [
                {
                    "model": model,
                    "dataset": name,
                    "tags": by_name[name]["tags"],
                    "fields": {
                        field["name"]: {key: field[key] for key in CIM_FIELD_KEYS if key in field}
                        for field in by_name[name]["fields"]
                    },
                }
                for name in wanted
            ]
            files[os.path.join(PACKAGE_REFERENCE, "cim", f"{model}.json")] = _json(
                {
                    "source": f"pytest-splunk-addon {os.path.basename(wheel_path).split('-')[1]}: "
                    f"pytest_splunk_addon/data_models/{model}.json",
                    "datasets": datasets,
                }
            )
    return files


def schema_files(reference_dir: str) -> Dict[str, str]:
    files = {}
    for relative in SCHEMAS:
        with open(os.path.join(reference_dir, *relative.split("/")), encoding="utf-8", newline="") as stream:
            files[os.path.join(TEST_REFERENCE, *relative.split("/"))] = stream.read()
    return files


def _json(document: Any) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ecs-flat", required=True, help="ecs_flat.yml of elastic/ecs (or its JSON extraction)")
    parser.add_argument("--ecs-version", required=True)
    parser.add_argument("--cim-wheel", required=True, help="the pytest-splunk-addon wheel")
    parser.add_argument("--schemas", required=True, help="folder with elasticsearch/ and sigma/ schemas")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed file differs")
    options = parser.parse_args(argv)
    files = {
        **ecs_files(options.ecs_flat, options.ecs_version),
        **cim_files(options.cim_wheel),
        **schema_files(options.schemas),
    }
    differing = []
    for path, text in files.items():
        if os.path.exists(path):
            with open(path, encoding="utf-8", newline="") as stream:
                if stream.read() == text:
                    continue
        differing.append(os.path.relpath(path, ROOT))
        if not options.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
    for relative in differing:
        print(f"{'differs' if options.check else 'written'}: {relative}")
    return 1 if options.check and differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

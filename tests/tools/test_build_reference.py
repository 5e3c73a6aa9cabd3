"""tools/build_reference.py on small inputs in the official formats: what it keeps and how it writes it."""

import json
import os
import zipfile

import build_reference

ECS_FLAT_YML = """\
event.category:
  type: keyword
  level: core
  normalize: [array]
  short: Event category.
  allowed_values:
  - name: file
    description: Events about files.
    expected_event_types: [change, creation]
  - name: host
    description: Events about hosts.
process.title:
  type: keyword
  level: extended
  normalize: []
  short: Process title.
"""


def test_ecs_fields_and_allowed_values_from_the_official_ecs_flat_yml(tmp_path):
    (tmp_path / "ecs_flat.yml").write_text(ECS_FLAT_YML)
    files = build_reference.ecs_files(str(tmp_path / "ecs_flat.yml"), "9.9.9")
    fields_text = files[os.path.join(build_reference.PACKAGE_REFERENCE, "ecs_fields.json")]
    assert fields_text.splitlines() == [
        '{"ecs_version": "9.9.9", "source": "elastic/ecs generated/ecs/ecs_flat.yml", "fields": {',
        '"event.category": {"level": "core", "normalize": ["array"], "type": "keyword"},',
        '"process.title": {"level": "extended", "normalize": [], "type": "keyword"}',
        "}}",
    ]
    assert json.loads(files[os.path.join(build_reference.PACKAGE_REFERENCE, "ecs_allowed_values.json")]) == {
        "event.category": {"allowed_values": ["file", "host"], "expected_event_types": {"file": ["change", "creation"]}}
    }


def test_cim_datasets_from_the_pytest_splunk_addon_wheel(tmp_path, monkeypatch):
    monkeypatch.setattr(build_reference, "CIM_DATASETS", {"Endpoint": ["Processes"]})
    model = {
        "model_name": "Endpoint",
        "objects": [
            {"name": "Ports", "tags": [["listening", "port"]], "fields": [{"name": "dest_port", "type": "required"}]},
            {
                "name": "Parent",
                "tags": [],
                "fields": [],
                "child_dataset": [
                    {
                        "name": "Processes",
                        "tags": [["process", "report"]],
                        "fields_cluster": [],
                        "fields": [
                            {
                                "name": "process_id",
                                "type": "required",
                                "validity": "if(isnum(process_id),process_id,null())",
                                "comment": "The numeric identifier of the process.",
                            },
                            {"name": "user", "type": "conditional", "condition": "action=x", "multi_value": True},
                        ],
                    }
                ],
            },
        ],
    }
    wheel = tmp_path / "pytest_splunk_addon-6.4.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pytest_splunk_addon/data_models/Endpoint.json", json.dumps(model))
    [(path, text)] = build_reference.cim_files(str(wheel)).items()
    assert path == os.path.join(build_reference.PACKAGE_REFERENCE, "cim", "Endpoint.json")
    assert json.loads(text) == {
        "source": "pytest-splunk-addon 6.4.0: pytest_splunk_addon/data_models/Endpoint.json",
        "datasets": [
            {
                "model": "Endpoint",
                "dataset": "Processes",
                "tags": [["process", "report"]],
                "fields": {
                    "process_id": {"type": "required", "validity": "if(isnum(process_id),process_id,null())"},
                    "user": {"type": "conditional", "condition": "action=x", "multi_value": True},
                },
            }
        ],
    }

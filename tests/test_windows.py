"""The Windows event layer (mappings/windows.yml, win4658.windows): declared once, read by the mappings, the
Winlogbeat shape and the Splunk renderer; the add-on's runtime needs it and not the mapping compiler."""

import os

import pytest
import yaml

from win4658.mapping import MAPPINGS_DIR, bundled
from win4658.splunk.package import vendored_files
from win4658.windows import name_tables


def test_the_ecs_mapping_looks_names_up_in_the_windows_layer_and_does_not_repeat_them():
    with open(os.path.join(MAPPINGS_DIR, "ecs.yml"), encoding="utf-8") as stream:
        own_tables = yaml.safe_load(stream)["tables"]
    assert not set(own_tables) & set(name_tables())
    ecs = bundled("ecs")
    used = {rule.spec["table"] for rule in ecs.rules if "table" in rule.spec} & set(name_tables())
    assert used == {"task_names", "opcode_names", "keywords_names"}
    assert all(ecs.tables[name] == name_tables()[name] for name in used)


def test_the_addon_runtime_vendors_the_windows_layer_and_not_the_mapping_compiler():
    vendored = vendored_files()
    assert {"lib/win4658/windows.py", "lib/win4658/mappings/windows.yml"} <= set(vendored)
    assert not {"lib/win4658/mapping.py", "lib/win4658/rule_compiler.py", "lib/win4658/transforms.py"} & set(vendored)


def test_readers_renderers_and_the_winlogbeat_shape_take_their_tables_from_the_layer():
    from win4658 import windows, winlogbeat
    from win4658.readers import classic, jsonlines, jsonlines_fast
    from win4658.splunk import knowledge

    assert winlogbeat.SYSTEM_PATHS is windows.WINLOGBEAT_PATHS is jsonlines_fast.SYSTEM_PATHS
    assert windows.WINLOGBEAT_FALLBACK_PATHS is jsonlines_fast.FALLBACK_PATHS
    assert jsonlines_fast.NXLOG_FIELDS is windows.NXLOG_FIELDS and jsonlines.NXLOG_SYSTEM_KEYS is windows.NXLOG_OWN_KEYS
    assert classic.LABELS is windows.CLASSIC_LABELS is knowledge.LABELS
    assert windows.SYSTEM_TEXT_ELEMENTS < set(windows.SYSTEM_ELEMENTS)
    assert windows.NXLOG_FIELDS[6] == ("Opcode", "OpcodeValue", "Opcode")
    assert windows.CLASSIC_LABELS[("Object", "Handle ID")] == "HandleId" and len(windows.CLASSIC_LABELS) == 21


@pytest.mark.parametrize("name", ["windows.yml", "ecs.yml", "cim.yml"])
def test_libyaml_and_pure_python_yaml_read_the_sources_alike(name):
    """The sources are read with libyaml when PyYAML has it (windows.SAFE_LOADER); the Splunk add-on's vendored
    PyYAML reads them in pure Python: both give the same document."""
    from win4658 import windows

    with open(os.path.join(windows.MAPPINGS_DIR, name), encoding="utf-8") as stream:
        text = stream.read()
    assert yaml.load(text, Loader=windows.SAFE_LOADER) == yaml.load(text, Loader=yaml.SafeLoader)

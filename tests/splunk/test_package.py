"""The package TA-win4658-<version>.tgz: Splunk's layout rules, the vendored libraries, EVTX in the app."""

import json
import os
import re
import tarfile

import pytest

from tests.support.paths import corpus_path
from tests.support.splunkd import event_keys, input_definition, interpreter, packaged_conf, run_input
from win4658 import __version__
from win4658.mapping import bundled
from win4658.splunk.package import PackageError, build_package, evtx_from_wheel, extract_package, package_name

SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def _names(package):
    with tarfile.open(package) as archive:
        return archive.getnames()


def test_package_is_named_for_the_version(package):
    assert os.path.basename(package) == package_name() == f"TA-win4658-{__version__}.tgz"


def test_package_follows_splunk_layout_rules(package):
    names = _names(package)
    assert all(name == "TA-win4658" or name.startswith("TA-win4658/") for name in names)
    parts = [part for name in names for part in name.split("/")]
    assert not [part for part in parts if part.startswith(".")], "dotfiles"
    assert "local" not in parts and "__pycache__" not in parts
    assert not [name for name in names if name.endswith((".pyc", ".pyo"))]
    for required in (
        "default/app.conf",
        "default/inputs.conf",
        "default/props.conf",
        "default/transforms.conf",
        "default/eventtypes.conf",
        "default/tags.conf",
        "default/macros.conf",
        "README/inputs.conf.spec",
        "metadata/default.meta",
        "bin/win4658_files.py",
        "lookups/win4658_event_codes.csv",
        "lib/splunklib/modularinput/script.py",
        "lib/yaml/__init__.py",
        "lib/win4658/mappings/cim.yml",
        "lib/win4658/splunk/runtime/modinput.py",
    ):
        assert f"TA-win4658/{required}" in names, required


def _png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_package_has_what_splunkbase_expects(package):
    with tarfile.open(package) as archive:

        def read(relative):
            return archive.extractfile(f"TA-win4658/{relative}").read()

        sizes = {
            name: _png_size(read(f"static/{name}.png"))
            for name in ("appIcon", "appIcon_2x", "appIconAlt", "appIconAlt_2x")
        }
        assert sizes == {"appIcon": (36, 36), "appIcon_2x": (72, 72), "appIconAlt": (36, 36), "appIconAlt_2x": (72, 72)}
        assert read("LICENSE").decode("utf-8").lstrip().startswith("Apache License\n")
        manifest = json.loads(read("app.manifest"))
        readme = read("README.txt").decode("utf-8")
        views = [name for name in archive.getnames() if name.startswith("TA-win4658/default/data/ui/views/")]
    assert manifest["schemaVersion"] == "2.0.0"
    assert manifest["info"]["id"] == {"group": None, "name": "TA-win4658", "version": __version__}
    assert manifest["info"]["license"]["text"] == "LICENSE"
    assert len(views) == 3 and "TA-win4658/default/data/ui/nav/default.xml" in _names(package)
    for heading in (
        "What it is",
        "Install",
        "Configure",
        "Sourcetypes and sources",
        "CIM fields",
        "Beside Splunk_TA_windows",
        "AppInspect",
    ):
        assert f"\n{heading}" in readme, heading
    cim_fields = {rule.target for rule in bundled("cim").rules if rule.target}
    assert not [field for field in cim_fields if not re.search(rf"\b{field}\b", readme)]
    for source in (
        "XmlWinEventLog:Security",
        "WinEventLog:Security",
        "XmlWinEventLog:ForwardedEvents",
        "WinEventLog:ForwardedEvents",
    ):
        assert source in readme
    for warning in EXPLAINED_APPINSPECT_WARNINGS:
        assert f"- {warning}:" in readme


# AppInspect's warnings on this package (cloud and default tags), each explained in README.txt
EXPLAINED_APPINSPECT_WARNINGS = (
    "check_that_app_contains_any_windows_specific_components",
    "check_for_python_script_existence",
    "check_for_modular_inputs",
    "check_python_sdk_version",
    "check_for_indexer_synced_configs",
)


def test_modes_are_plain_and_owner_is_anonymous(package):
    with tarfile.open(package) as archive:
        for member in archive.getmembers():
            assert member.mode == (0o755 if member.isdir() else 0o644), member.name
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")


def test_only_what_the_input_imports_is_vendored(package):
    names = _names(package)
    vendored = {name.split("/")[2] for name in names if name.startswith("TA-win4658/lib/") and name.count("/") >= 2}
    assert vendored == {"win4658", "splunklib", "yaml"}
    assert "TA-win4658/lib/win4658/cli/__init__.py" not in names
    assert not [name for name in names if name.startswith("TA-win4658/lib/yaml/") and not name.endswith(".py")]


def test_two_builds_are_byte_identical(package, tmp_path):
    with open(package, "rb") as first, open(build_package(str(tmp_path)), "rb") as second:
        assert first.read() == second.read()


def test_app_conf_has_a_semver_version_and_package_id(package):
    app = packaged_conf(package, "default/app.conf")
    assert app.get("launcher", "version") == app.get("id", "version") == __version__
    assert SEMVER.match(__version__)
    assert app.get("package", "id") == app.get("id", "name") == "TA-win4658"


def test_inputs_conf_names_the_python_versions(package):
    inputs = packaged_conf(package, "default/inputs.conf")
    assert inputs.get("win4658_files", "python.version") == "python3"
    assert [v.strip() for v in inputs.get("win4658_files", "python.required").split(",")] == ["3.9", "3.13"]
    assert inputs.get("win4658_files", "sourcetype") == "XmlWinEventLog"
    assert inputs.get("win4658_files", "event_ids") == "4658,4656,4663"


def test_unpacking_refuses_unsafe_members(tmp_path):
    evil = tmp_path / "evil.tgz"
    with tarfile.open(evil, "w:gz") as archive:
        info = tarfile.TarInfo("../outside")
        archive.addfile(info)
    with pytest.raises(PackageError, match="unsafe member"):
        extract_package(str(evil), str(tmp_path / "apps"))


def test_a_file_that_is_not_an_evtx_wheel_is_refused(tmp_path):
    wheel = tmp_path / "evtx-0.8.9-cp37-abi3-any.whl"
    wheel.write_bytes(b"not a zip")
    with pytest.raises(PackageError, match="not a readable wheel"):
        evtx_from_wheel(str(wheel))


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_vendored_evtx_reads_the_corpus_under_splunk_pythons(version, evtx_wheel, tmp_path):
    python = interpreter(version)
    corpus = corpus_path("evtx")
    app_dir = extract_package(build_package(str(tmp_path / "dist"), evtx_wheels=[evtx_wheel]), str(tmp_path / "apps"))
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    code, stdout, stderr = run_input(
        python, app_dir, input_definition(checkpoints, corpus, recursive="true", event_ids="4658")
    )
    assert code == 0, stderr
    # MANIFEST.md: the EVTX files hold 1 + 77 + 20 + 0 + 1 + 0 events 4658
    assert len(event_keys(stdout)) == 99
    assert "ERROR" not in stderr

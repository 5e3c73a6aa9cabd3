"""The README's install (`pip install .`, not editable): the built wheel, run from outside any checkout.

The wheel is built from this checkout and installed with `pip install --target` into a folder that is put first on
PYTHONPATH, so `python -m win4658` runs the installed copy (not the editable one) with this venv's dependencies.
"""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.support.paths import ROOT
from win4658.checkout import CheckoutError, find_checkout, require_installed_from
from win4658.elasticsearch.rule_search import load_rules
from win4658.splunk.package import addon_files, build_package

KIBANA_RULES = os.path.join(ROOT, "detections", "generated", "kibana_rules.ndjson")


# src/win4658/{mappings,addon,dashboards} link to the checkout's folders
BUILD_INPUTS = ("pyproject.toml", "README.md", "src", "mappings", "addon", "dashboards")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel of a copy of the checkout's build inputs (a build in place would leave build/ in the checkout)."""
    source, wheels = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheels")
    for name in BUILD_INPUTS:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(
                path, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy(path, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
        capture_output=True,
    )
    [path] = wheels.glob("win4658-*.whl")
    return str(path)


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), wheel],
        check=True,
        capture_output=True,
    )
    return str(target)


def _win4658(site, cwd, *args):
    environment = {**os.environ, "PYTHONPATH": site}
    return subprocess.run(
        [sys.executable, "-m", "win4658", *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


def test_the_installed_copy_runs_not_the_checkout(site, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import win4658; print(win4658.__file__)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": site},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == os.path.join(site, "win4658", "__init__.py")


def test_the_wheel_holds_every_file_of_the_addon_and_the_package_data(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    addon = {f"win4658/addon/{relative}" for relative, _ in addon_files(os.path.join(ROOT, "addon"))}
    assert addon - names == set()
    data = {
        "win4658/detections/bundle.json",
        "win4658/mappings/ecs.yml",
        "win4658/mappings/cim.yml",
        "win4658/examples/hunt_examples.xml",
        "win4658/examples/4658_sample_documentation.xml",
        "win4658/dashboards/win4658.yml",
        "win4658/dashboards/generated/kibana_dashboards.ndjson",
    }
    assert data - names == set()


def test_hunt_from_anywhere_finds_what_the_checkout_finds(site, tmp_path):
    installed = _win4658(site, tmp_path, "hunt", "--format", "json")
    checkout = subprocess.run(
        [sys.executable, "-m", "win4658", "hunt", "--format", "json"], cwd=ROOT, capture_output=True, text=True
    )
    assert installed.returncode == checkout.returncode == 0, installed.stderr
    installed_findings = installed.stdout.replace(os.path.join(site, "win4658"), os.path.join(ROOT, "src", "win4658"))
    assert installed_findings == checkout.stdout and installed.stdout.count("\n") > 10
    assert os.listdir(tmp_path) == []


def test_generate_outside_a_checkout_says_what_it_needs_and_writes_nothing(site, tmp_path):
    result = _win4658(site, tmp_path, "generate")
    assert result.returncode == 2
    assert f"needs a win4658 checkout: --root DIR (the current directory {tmp_path} is not one)" in result.stderr
    assert os.listdir(tmp_path) == []
    not_one = _win4658(site, ROOT, "generate", "--root", str(tmp_path))
    assert not_one.returncode == 2 and f"{tmp_path}: not a win4658 checkout" in not_one.stderr


def test_generate_check_of_the_checkout_from_the_installed_copy(site, tmp_path):
    result = _win4658(site, tmp_path, "generate", "--root", ROOT, "--check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_splunk_package_builds_the_same_app_as_the_checkout(site, tmp_path):
    result = _win4658(site, tmp_path, "splunk", "package", "-o", "out")
    assert result.returncode == 0, result.stderr
    installed = tmp_path / result.stdout.strip()
    with open(installed, "rb") as ours, open(build_package(str(tmp_path / "checkout")), "rb") as checkout:
        assert ours.read() == checkout.read()


def test_es_hunt_help_and_its_default_rules_are_the_committed_ones(site, tmp_path):
    result = _win4658(site, tmp_path, "es", "hunt", "--help")
    assert result.returncode == 0 and "--rules NDJSON" in result.stdout
    assert load_rules() == load_rules(KIBANA_RULES) and len(load_rules()) == 5


def test_find_checkout_takes_root_then_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert find_checkout(None) == ROOT
    monkeypatch.chdir(tmp_path)
    assert find_checkout(ROOT) == ROOT
    with pytest.raises(CheckoutError, match="needs a win4658 checkout: --root DIR"):
        find_checkout(None)


def test_generate_refuses_a_checkout_whose_package_differs_from_the_installed_one(tmp_path):
    package = tmp_path / "src" / "win4658"
    shutil.copytree(os.path.join(ROOT, "src", "win4658"), package, ignore=shutil.ignore_patterns("__pycache__"))
    require_installed_from(str(tmp_path))
    with open(package / "detections" / "bundle.json", "a", encoding="utf-8") as stream:
        stream.write(" ")  # generated into the package: a checkout may be ahead of its install
    require_installed_from(str(tmp_path))
    for edited in (package / "mappings" / "ecs.yml", package / "detections" / "kibana.py"):
        with open(edited, "a", encoding="utf-8") as stream:
            stream.write("# edited\n")
    with pytest.raises(CheckoutError, match=r"detections/kibana\.py, mappings/ecs\.yml differ from the installed"):
        require_installed_from(str(tmp_path))

"""What runs inside Splunk is declared (win4658.splunk.package.SHIPPED_MODULES): the modules addon/bin/*.py import,
run under splunkd's Pythons (3.9 and 3.13) with the whole source tree importable, load exactly that set of win4658
modules and, besides the standard library, only the vendored whole packages."""

import ast
import json
import os
import subprocess

import pytest

from tests.support.splunkd import interpreter
from win4658.splunk.package import ADDON_DIR, SHIPPED_MODULES, WHOLE_PACKAGES

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__import__("win4658").__file__)))

# Run with -I -S: no site-packages, no environment; the source tree first, then the package's lib/ (for splunklib and
# yaml). Prints every loaded module with its file, and which files are the standard library's.
PROBE = """
import importlib, json, sys, sysconfig
source_root, lib, *entry_modules = sys.argv[1:]
sys.path[:0] = [source_root, lib]
for name in entry_modules:
    importlib.import_module(name)
stdlib = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
print(json.dumps({"modules": {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())},
                  "stdlib": sorted(stdlib)}))
"""


def entry_modules():
    """The win4658 modules addon/bin/*.py import."""
    modules = set()
    for name in sorted(os.listdir(os.path.join(ADDON_DIR, "bin"))):
        if name.endswith(".py"):
            with open(os.path.join(ADDON_DIR, "bin", name), encoding="utf-8") as stream:
                tree = ast.parse(stream.read())
            modules.update(
                node.module
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("win4658")
            )
    return sorted(modules)


def test_the_bin_scripts_are_thin_over_the_runtime_package():
    assert entry_modules() == ["win4658.splunk.runtime.copy_lookup", "win4658.splunk.runtime.modinput"]
    runtime_dir = os.path.join(SOURCE_ROOT, "win4658", "splunk", "runtime")
    runtime = {
        f"win4658.splunk.runtime.{name[:-3]}"
        for name in os.listdir(runtime_dir)
        if name.endswith(".py") and name != "__init__.py"
    }
    assert runtime <= set(SHIPPED_MODULES)


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_the_runtime_imports_exactly_the_shipped_modules(version, app_dir):
    python = interpreter(version)
    result = subprocess.run(
        [python, "-I", "-S", "-c", PROBE, SOURCE_ROOT, os.path.join(app_dir, "lib"), *entry_modules()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    loaded = probe["modules"]
    win4658_modules = {name for name in loaded if name.split(".")[0] == "win4658"}
    assert sorted(win4658_modules) == sorted(SHIPPED_MODULES)
    assert all(loaded[name].startswith(SOURCE_ROOT + os.sep) for name in win4658_modules)
    others = {
        name.split(".")[0]
        for name, path in loaded.items()
        if path and name.split(".")[0] != "win4658" and not path.startswith(tuple(probe["stdlib"]))
    }
    assert others == set(WHOLE_PACKAGES)
    vendored = os.path.join(app_dir, "lib") + os.sep
    assert all(path.startswith(vendored) for name, path in loaded.items() if path and name.split(".")[0] in others)

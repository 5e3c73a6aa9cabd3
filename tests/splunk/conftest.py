"""Fixtures of the Splunk tests: the built package, and the package as splunkd installs it, under each of splunkd's
Pythons (tests/support/splunkd.py)."""

import subprocess
import sys

import pytest

from tests.support.splunkd import interpreter
from win4658.splunk.package import build_package, extract_package


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return build_package(str(tmp_path_factory.mktemp("dist")))


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory):
    """The package as splunkd would install it."""
    build = tmp_path_factory.mktemp("package")
    return extract_package(build_package(str(build / "dist")), str(build / "apps"))


@pytest.fixture(params=["3.9", "3.13"])
def python(request):
    return interpreter(request.param)


@pytest.fixture(scope="module")
def evtx_wheel(tmp_path_factory):
    """evtx 0.8.9's cp37-abi3 Linux wheel, fetched with pip (the one network use of these tests)."""
    folder = tmp_path_factory.mktemp("wheels")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--platform",
            "manylinux2014_x86_64",
            "--python-version",
            "3.9",
            "evtx==0.8.9",
            "-d",
            str(folder),
        ],
        capture_output=True,
        text=True,
    )
    wheels = list(folder.glob("evtx-0.8.9-*.whl"))
    if result.returncode != 0 or not wheels:
        pytest.skip(f"cannot download the evtx 0.8.9 wheel from PyPI: {result.stderr.strip()[-200:]}")
    return str(wheels[0])

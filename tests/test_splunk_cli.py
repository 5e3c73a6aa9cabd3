"""`win4658 splunk package|search`, the connection settings (secrets never printed) and AppInspect's verdict."""
import os
import socket
import subprocess
import sys
import tarfile
import zipfile

import pytest

from win4658.splunk.appinspect import verdict
from win4658.splunk.client import ConnectionSettings, SplunkConnectionError
from win4658.splunk.package import package_name

SECRET = "s3cret-Passw0rd-4658"


def run_cli(*arguments, environment=None):
    env = {"PATH": os.environ.get("PATH", ""), **(environment or {})}
    return subprocess.run([sys.executable, "-c", "import sys; from win4658.cli import main; sys.exit(main(sys.argv[1:]))",
                           *arguments],
                          capture_output=True, text=True, env=env)


def test_package_command_prints_the_package_path_and_warns_that_evtx_is_missing(tmp_path):
    result = run_cli("splunk", "package", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / package_name())
    with tarfile.open(result.stdout.strip()) as archive:
        assert "TA-win4658/bin/win4658_files.py" in archive.getnames()
    lines = result.stderr.splitlines()
    assert len(lines) == 5 and lines[0] == lines[-1] == "win4658: " + "!" * 72
    assert lines[1] == "win4658: WARNING: no evtx wheel vendored: this package CANNOT READ EVTX FILES."


def test_package_command_with_an_evtx_wheel_does_not_warn(tmp_path):
    wheel = tmp_path / "evtx-0.8.9-cp37-abi3-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:  # the layout of evtx's wheel: evtx/<compiled module>
        archive.writestr("evtx/__init__.py", "from .evtx import *\n")
        archive.writestr("evtx/evtx.abi3.so", b"\x7fELF")
    result = run_cli("splunk", "package", "-o", str(tmp_path / "dist"), "--evtx-wheel", str(wheel))
    assert result.returncode == 0 and result.stderr == ""
    with tarfile.open(result.stdout.strip()) as archive:
        assert "TA-win4658/lib/evtx/evtx.abi3.so" in archive.getnames()


def test_package_command_refuses_a_file_that_is_not_a_wheel(tmp_path):
    bogus = tmp_path / "evtx.whl"
    bogus.write_text("no")
    result = run_cli("splunk", "package", "-o", str(tmp_path), "--evtx-wheel", str(bogus))
    assert result.returncode == 1 and "not a readable wheel" in result.stderr


def test_search_without_connection_settings_says_what_to_set():
    result = run_cli("splunk", "search", "anything")
    assert result.returncode == 2
    assert "set WIN4658_SPLUNK_URL" in result.stderr


def test_search_with_url_but_no_credential_says_so():
    result = run_cli("splunk", "search", "anything", environment={"WIN4658_SPLUNK_URL": "https://127.0.0.1:8089"})
    assert result.returncode == 2 and "no credential" in result.stderr


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_never_shows_the_password():
    environment = {"WIN4658_SPLUNK_URL": f"https://127.0.0.1:{_closed_port()}", "WIN4658_SPLUNK_USER": "admin",
                   "WIN4658_SPLUNK_PASSWORD": SECRET}
    result = run_cli("splunk", "search", "anything", environment=environment)
    assert result.returncode == 2 and "127.0.0.1" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_settings_from_the_environment_hide_the_credential():
    settings = ConnectionSettings.from_environment({"WIN4658_SPLUNK_URL": "https://splunk:8089",
                                                    "WIN4658_SPLUNK_TOKEN": SECRET})
    assert settings.token == SECRET and SECRET not in repr(settings)
    with pytest.raises(SplunkConnectionError, match="no credential"):
        ConnectionSettings.from_environment({"WIN4658_SPLUNK_URL": "https://splunk:8089",
                                             "WIN4658_SPLUNK_USER": "admin"})


def _report(summary, checks):
    return {"summary": summary, "reports": [{"groups": [{"checks": checks}]}]}


def test_appinspect_verdict_fails_on_any_failure_or_error():
    passed, lines = verdict(_report(
        {"error": 0, "failure": 1, "warning": 2, "success": 100},
        [{"name": "check_for_local_meta", "result": "failure", "messages": [{"message": "Do not supply a local.meta"}]},
         {"name": "check_python_sdk_version", "result": "warning", "messages": [{"message": "outdated"}]}]))
    assert not passed
    assert lines == ["appinspect: error 0, failure 1, success 100, warning 2",
                     "  failure: check_for_local_meta: Do not supply a local.meta"]
    assert verdict(_report({"error": 1, "failure": 0}, []))[0] is False
    assert verdict(_report({"error": 0, "failure": 0, "warning": 4}, []))[0] is True

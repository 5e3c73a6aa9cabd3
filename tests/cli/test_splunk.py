"""`win4658 splunk package|search`, the connection settings (secrets never printed) and AppInspect's verdict."""

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import zipfile

import pytest

from tests.support.loopback import answering, loopback_server, self_signed_certificate, server_context, url
from win4658.splunk.appinspect import verdict
from win4658.splunk.client import ConnectionSettings, SplunkConnectionError
from win4658.splunk.package import package_name

SECRET = "s3cret-Passw0rd-4658"


def run_cli(*arguments, environment=None):
    env = {"PATH": os.environ.get("PATH", ""), **(environment or {})}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from win4658.cli import main; sys.exit(main(sys.argv[1:]))", *arguments],
        capture_output=True,
        text=True,
        env=env,
    )


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
    environment = {
        "WIN4658_SPLUNK_URL": f"https://127.0.0.1:{_closed_port()}",
        "WIN4658_SPLUNK_USER": "admin",
        "WIN4658_SPLUNK_PASSWORD": SECRET,
    }
    result = run_cli("splunk", "search", "anything", environment=environment)
    assert result.returncode == 2 and "127.0.0.1" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_settings_from_the_environment_hide_the_credential():
    settings = ConnectionSettings.from_environment(
        {"WIN4658_SPLUNK_URL": "https://splunk:8089", "WIN4658_SPLUNK_TOKEN": SECRET}
    )
    assert settings.token == SECRET and SECRET not in repr(settings)
    with pytest.raises(SplunkConnectionError, match="no credential"):
        ConnectionSettings.from_environment(
            {"WIN4658_SPLUNK_URL": "https://splunk:8089", "WIN4658_SPLUNK_USER": "admin"}
        )


@pytest.fixture
def self_signed_splunk(tmp_path):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate made now; it refuses every login (401) and
    records every request it gets: (url, certificate file, requests)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    certificate, key = self_signed_certificate(str(tmp_path))
    received = []

    refuse_every_login = answering(
        401, "text/xml", b'<response><messages><msg type="WARN">Login failed</msg></messages></response>', received
    )
    with loopback_server(refuse_every_login, tls=server_context(certificate, key)) as server:
        yield url(server, "https"), certificate, received


@pytest.mark.parametrize(
    "credential",
    [{"WIN4658_SPLUNK_USER": "admin", "WIN4658_SPLUNK_PASSWORD": SECRET}, {"WIN4658_SPLUNK_TOKEN": SECRET}],
)
def test_an_unverified_certificate_is_refused_before_any_credential_is_sent(self_signed_splunk, credential):
    url, _certificate, received = self_signed_splunk
    result = run_cli("splunk", "search", "anything", environment={"WIN4658_SPLUNK_URL": url, **credential})
    assert result.returncode == 2 and received == []
    assert "the server's certificate is not trusted" in result.stderr and "WIN4658_SPLUNK_CA_CERTS" in result.stderr
    assert SECRET not in result.stderr + result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "trust",
    [
        {"WIN4658_SPLUNK_CA_CERTS": "{certificate}"},
        {"WIN4658_SPLUNK_VERIFY": "false"},
        {"WIN4658_SPLUNK_VERIFY": "0"},
        "--insecure",
    ],
)
def test_a_trusted_ca_or_insecure_reaches_the_server(self_signed_splunk, trust):
    url, certificate, received = self_signed_splunk
    environment = {"WIN4658_SPLUNK_URL": url, "WIN4658_SPLUNK_USER": "admin", "WIN4658_SPLUNK_PASSWORD": SECRET}
    arguments = ["splunk", "search", "anything"]
    if trust == "--insecure":
        arguments.append(trust)
    else:
        environment.update({name: value.format(certificate=certificate) for name, value in trust.items()})
    result = run_cli(*arguments, environment=environment)
    assert result.returncode == 2 and "login refused" in result.stderr, result.stderr
    assert [(method, path) for method, path, _headers, _body in received] == [("POST", "/services/auth/login")]
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "url, message",
    [
        (
            "localhost:8089",
            "WIN4658_SPLUNK_URL must be https://host[:port] with its scheme, e.g. https://localhost:8089",
        ),
        ("http://[::1", "it is not a URL"),
        ("https://splunk:port", "it is not a URL"),
        (f"https://admin:{SECRET}@splunk:8089", "without credentials"),
        ("ftp://splunk", "must be https://host[:port]"),
    ],
)
def test_a_url_that_is_not_http_s_host_port_is_a_clear_error(url, message):
    result = run_cli(
        "splunk", "search", "anything", environment={"WIN4658_SPLUNK_URL": url, "WIN4658_SPLUNK_TOKEN": "t"}
    )
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert SECRET not in result.stderr


def test_a_ca_bundle_that_cannot_be_loaded_is_named(tmp_path):
    environment = {
        "WIN4658_SPLUNK_URL": "https://127.0.0.1:8089",
        "WIN4658_SPLUNK_TOKEN": SECRET,
        "WIN4658_SPLUNK_CA_CERTS": str(tmp_path / "missing.pem"),
    }
    result = run_cli("splunk", "search", "anything", environment=environment)
    assert (
        result.returncode == 2 and f"WIN4658_SPLUNK_CA_CERTS: cannot load {tmp_path / 'missing.pem'}" in result.stderr
    )
    assert SECRET not in result.stderr


def test_verification_is_on_unless_turned_off():
    environment = {"WIN4658_SPLUNK_URL": "https://splunk:8089", "WIN4658_SPLUNK_TOKEN": SECRET}
    assert ConnectionSettings.from_environment(environment).verify is True
    assert ConnectionSettings.from_environment({**environment, "WIN4658_SPLUNK_VERIFY": "1"}).verify is True
    for off in ("false", "0", "No", " off "):
        assert ConnectionSettings.from_environment({**environment, "WIN4658_SPLUNK_VERIFY": off}).verify is False
    assert ConnectionSettings.from_environment(environment, insecure=True).verify is False


def _report(summary, checks):
    return {"summary": summary, "reports": [{"groups": [{"checks": checks}]}]}


def test_appinspect_verdict_fails_on_any_failure_or_error():
    passed, lines = verdict(
        _report(
            {"error": 0, "failure": 1, "warning": 2, "success": 100},
            [
                {
                    "name": "check_for_local_meta",
                    "result": "failure",
                    "messages": [{"message": "Do not supply a local.meta"}],
                },
                {"name": "check_python_sdk_version", "result": "warning", "messages": [{"message": "outdated"}]},
            ],
        )
    )
    assert not passed
    assert lines == [
        "appinspect: error 0, failure 1, success 100, warning 2",
        "  failure: check_for_local_meta: Do not supply a local.meta",
    ]
    assert verdict(_report({"error": 1, "failure": 0}, []))[0] is False
    assert verdict(_report({"error": 0, "failure": 0, "warning": 4}, []))[0] is True

"""`win4658 splunk search` over HTTP to a server on 127.0.0.1 that answers as splunkd's REST API does (login, the
saved search's dispatch, the job's Atom entry, its JSON results): a job Splunk failed is an error with Splunk's
message, never "0 results"."""

import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest

from tests.support.loopback import loopback_server, url
from win4658.splunk.app import APP_ID

SECRET = "s3cret-Passw0rd-4658"
NAMESPACES = 'xmlns="http://www.w3.org/2005/Atom" xmlns:s="http://dev.splunk.com/ns/rest"'


def _entry(title, path, content, root=False):
    """An Atom entry as splunkd writes one: its content a <s:dict> of the keys."""
    acl = {
        "eai:acl": f'<s:dict><s:key name="app">{APP_ID}</s:key><s:key name="owner">nobody</s:key>'
        '<s:key name="sharing">app</s:key></s:dict>'
    }
    keys = "".join(f'<s:key name="{name}">{value}</s:key>' for name, value in dict(content, **acl).items())
    return (
        f"<entry{' ' + NAMESPACES if root else ''}><title>{title}</title><id>https://127.0.0.1/{path}</id>"
        f'<link href="/{path}" rel="alternate"/><author><name>nobody</name></author>'
        f'<content type="text/xml"><s:dict>{keys}</s:dict></content></entry>'
    )


def _feed(title, path, content):
    return f"<feed {NAMESPACES}><title>{title}s</title>{_entry(title, path, content)}</feed>"


def splunkd(job_state, unknown):
    """A splunkd with one saved search, `win4658_probe`, whose job ends in ``job_state`` (the job's content keys);
    requests to any other path are answered 404 and listed in ``unknown``."""
    saved = f"servicesNS/nobody/{APP_ID}/saved/searches/win4658_probe"
    job = f"servicesNS/nobody/{APP_ID}/search/v2/jobs/4658.1"  # v2: what splunk-sdk asks of Splunk 9.0.2+

    class Splunkd(BaseHTTPRequestHandler):
        def _answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            route = urlsplit(self.path).path.strip("/")
            content_type, answer = "text/xml", None
            if route == "services/auth/login":
                answer = "<response><sessionKey>session-4658</sessionKey></response>"
            elif route == "services/server/info":
                answer = _feed("server-info", route, {"version": "9.4.1", "serverName": "splunk"})
            elif route == f"servicesNS/nobody/{APP_ID}/saved/searches":
                answer = _feed("win4658_probe", saved, {"search": "| makeresults"})
            elif route in (saved, f"{saved}/dispatch"):
                answer = (
                    "<response><sid>4658.1</sid></response>"
                    if route.endswith("dispatch")
                    else _feed("win4658_probe", saved, {"search": "| makeresults"})
                )
            elif route == job:
                answer = _entry("job", job, job_state, root=True)
            elif route == f"{job}/results":
                content_type, answer = "application/json", json.dumps({"results": [{"answer": "4658"}]})
            if answer is None:
                unknown.append(self.path)
                self.send_response(404)
                answer = "<response><messages><msg type='ERROR'>not found</msg></messages></response>"
            else:
                self.send_response(201 if route.endswith("dispatch") else 200)
            payload = answer.encode()
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *_arguments):
            pass

    return Splunkd


def _search(job_state):
    unknown = []
    with loopback_server(splunkd(job_state, unknown)) as server:
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "WIN4658_SPLUNK_URL": url(server),
            "WIN4658_SPLUNK_USER": "admin",
            "WIN4658_SPLUNK_PASSWORD": SECRET,
        }
        result = subprocess.run(
            [sys.executable, "-m", "win4658", "splunk", "search", "win4658_probe"],
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
        )
    assert unknown == []
    return result


def test_a_finished_job_prints_its_rows():
    result = _search({"dispatchState": "DONE", "isDone": "1", "isFailed": "0"})
    assert (result.returncode, result.stdout, result.stderr) == (0, '{"answer": "4658"}\n', "1 results\n")


@pytest.mark.parametrize(
    "messages, shown",
    [
        (
            "<s:dict><s:key name=\"fatal\">Error in 'lookup' command: win4658_allowlist does not exist"
            "</s:key></s:dict>",
            "Error in 'lookup' command: win4658_allowlist does not exist",
        ),
        (
            "<s:dict><s:key name=\"error\"><s:list><s:item>Unknown search command 'x'.</s:item>"
            "<s:item>second</s:item></s:list></s:key></s:dict>",
            "Unknown search command 'x'.; second",
        ),
        ("", "no message"),
    ],
)
def test_a_failed_job_is_an_error_with_splunks_message(messages, shown):
    result = _search({"dispatchState": "FAILED", "isDone": "1", "isFailed": "1", "messages": messages})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"win4658: search job 4658.1 failed: {shown}\n"
    assert SECRET not in result.stderr

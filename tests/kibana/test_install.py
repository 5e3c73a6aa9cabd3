"""`win4658 kibana rules|dashboards install` over real HTTP(S) to a server on 127.0.0.1 that answers as Kibana's
import APIs do; and, when WIN4658_KIBANA_URL is set, against a real Kibana, in a space of its own that is deleted
afterwards (the rules and saved objects of a space go with it)."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.support.paths import ROOT
from win4658.kibana import install as kibana_install
from win4658.kibana.client import Kibana, KibanaError, kibana_settings
from win4658.kibana.install import delete_rules, delete_saved_objects, import_rules, import_saved_objects, ndjson_items

RULES = os.path.join(ROOT, "detections", "generated", "kibana_rules.ndjson")
DASHBOARDS = os.path.join(ROOT, "dashboards", "generated", "kibana_dashboards.ndjson")
SECRET = "a2liYW5hLWtleS1uZXZlci1wcmludGVk"


class FakeKibana:
    """Kibana's rule and saved-object import/delete APIs, on the wire, with the rules and objects in memory."""

    def __init__(self, ssl_context=None, refuse=(), version="8.15.3"):
        self.rules, self.objects, self.requests = {}, {}, []
        self.version = version  # what GET /api/status says (None: the user may not read it, 403)
        self.refuse = set(refuse)  # rule_ids answered with an error
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        if ssl_context is not None:
            self.http.socket = ssl_context.wrap_socket(self.http.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()

    def answer(self, method, path, headers, body):
        route, query = urlsplit(path).path, parse_qs(urlsplit(path).query)
        if method in ("POST", "DELETE") and headers.get("kbn-xsrf") != "true":
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "Request must contain a kbn-xsrf header.",
            }
        if route == "/api/status" and method == "GET":
            if self.version is None:
                return 403, {"statusCode": 403, "error": "Forbidden", "message": "Forbidden"}
            return 200, {"name": "kibana", "version": {"number": self.version, "build_snapshot": False}}
        if route == "/api/detection_engine/rules/_import":
            items = self._upload(headers, body)
            errors = [
                {"rule_id": item["rule_id"], "error": {"status_code": 400, "message": "bad rule"}}
                for item in items
                if item["rule_id"] in self.refuse
            ]
            self.rules.update({item["rule_id"]: item for item in items if item["rule_id"] not in self.refuse})
            return 200, {
                "success": not errors,
                "success_count": len(items) - len(errors),
                "rules_count": len(items),
                "errors": errors,
                "exceptions_success": True,
                "exceptions_success_count": 0,
                "exceptions_errors": [],
            }
        if route == "/api/saved_objects/_import":
            items = self._upload(headers, body)
            self.objects.update({(item["type"], item["id"]): item for item in items})
            return 200, {
                "success": True,
                "successCount": len(items),
                "successResults": [{"type": item["type"], "id": item["id"]} for item in items],
            }
        if route == "/api/detection_engine/rules" and method == "DELETE":
            rule_id = query["rule_id"][0]
            if self.rules.pop(rule_id, None) is None:
                return 404, {"statusCode": 404, "error": "Not Found", "message": f'rule_id: "{rule_id}" not found'}
            return 200, {"rule_id": rule_id}
        if route.startswith("/api/saved_objects/") and method == "DELETE":
            kind, object_id = map(unquote, route.split("/")[3:5])
            if self.objects.pop((kind, object_id), None) is None:
                return 404, {
                    "statusCode": 404,
                    "error": "Not Found",
                    "message": f"Saved object [{kind}/{object_id}] not found",
                }
            return 200, {}
        return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}

    @staticmethod
    def _upload(headers, body):
        message = BytesParser().parsebytes(f"content-type: {headers['content-type']}\r\n\r\n".encode() + body)
        (part,) = message.get_payload()
        assert part.get_param("name", header="content-disposition") == "file"
        return [json.loads(line) for line in part.get_payload(decode=True).splitlines() if line.strip()]

    def _handler(self):
        kibana = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                kibana.requests.append((self.command, self.path, headers))
                status, answer = kibana.answer(self.command, self.path, headers, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        return Handler


@pytest.fixture
def kibana():
    server = FakeKibana()
    yield server
    server.close()


def _client(url, **environ):
    return Kibana(kibana_settings(dict({"WIN4658_KIBANA_URL": url, "WIN4658_KIBANA_API_KEY": SECRET}, **environ)))


def run_cli(*args, url):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("WIN4658_KIBANA_")}
    environment.update(WIN4658_KIBANA_URL=url, WIN4658_KIBANA_API_KEY=SECRET)
    return subprocess.run(
        [sys.executable, "-m", "win4658", "kibana", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tempfile.gettempdir(),
        timeout=120,
    )  # the installed defaults


def test_rules_and_dashboards_import_with_xsrf_and_the_key(kibana):
    client = _client(kibana.url)
    rules = import_rules(client, RULES)
    objects = import_saved_objects(client, DASHBOARDS)
    assert rules == (len(ndjson_items(RULES)), len(ndjson_items(RULES)), [])
    assert objects == (21, 21, [])
    assert sorted(kibana.rules) == sorted(item["rule_id"] for item in ndjson_items(RULES))
    assert kibana.rules[ndjson_items(RULES)[0]["rule_id"]] == ndjson_items(RULES)[0]
    assert ("dashboard", "win4658-handle-activity") in kibana.objects
    assert [(method, path) for method, path, headers in kibana.requests] == [
        ("GET", "/api/status"),
        ("POST", "/api/detection_engine/rules/_import?overwrite=true"),
        ("POST", "/api/saved_objects/_import?overwrite=true"),
    ]
    assert {headers["authorization"] for method, path, headers in kibana.requests} == {f"ApiKey {SECRET}"}
    assert len(delete_rules(client, RULES)) == len(ndjson_items(RULES)) and kibana.rules == {}
    assert len(delete_saved_objects(client, DASHBOARDS)) == 21 and kibana.objects == {}
    assert delete_rules(client, RULES) == []


@pytest.mark.parametrize(
    "version, dropped",
    [
        ("9.1.5", set()),
        ("8.11.0", set()),
        (None, set()),
        ("8.10.4", {"investigation_fields"}),
        ("8.2.3", {"investigation_fields", "tiebreaker_field"}),
        ("7.17.25", {"investigation_fields", "tiebreaker_field"}),
    ],
)
def test_rules_lose_only_the_fields_the_kibana_version_refuses(version, dropped):
    server = FakeKibana(version=version)
    try:
        imported = import_rules(_client(server.url), RULES)
    finally:
        server.close()
    rules = ndjson_items(RULES)
    assert imported == (len(rules), len(rules), [])
    assert {"investigation_fields", "tiebreaker_field"} <= {key for rule in rules for key in rule}
    assert [server.rules[rule["rule_id"]] for rule in rules] == [
        {key: value for key, value in rule.items() if key not in dropped} for rule in rules
    ]


@pytest.mark.parametrize("version", ["7.10.2", "7.11.2"])
def test_eql_rules_are_refused_before_kibana_7_12_and_nothing_is_sent(version):
    server = FakeKibana(version=version)
    try:
        with pytest.raises(
            KibanaError,
            match=f"Kibana {version[:-2]} cannot run these EQL rules: they need "
            r"Elasticsearch and Kibana 7\.12 or later",
        ):
            import_rules(_client(server.url), RULES)
    finally:
        server.close()
    assert [(method, path) for method, path, headers in server.requests] == [("GET", "/api/status")]


def test_a_space_prefixes_the_paths(kibana):
    space_client = Kibana(kibana_settings({"WIN4658_KIBANA_URL": kibana.url + "/"}), space="soc team")
    with pytest.raises(KibanaError, match="HTTP 404"):
        import_rules(space_client, RULES)
    assert kibana.requests[-1][1] == "/s/soc%20team/api/detection_engine/rules/_import?overwrite=true"
    assert "authorization" not in kibana.requests[-1][2]


def test_cli_reports_each_refused_rule_and_exits_1(tmp_path):
    first_rule = ndjson_items(RULES)[0]["rule_id"]
    server = FakeKibana(refuse=[first_rule])
    try:
        result = run_cli("rules", "install", url=server.url)
        dashboards = run_cli("dashboards", "install", url=server.url)
    finally:
        server.close()
    count = len(ndjson_items(RULES))
    assert result.returncode == 1
    assert result.stderr == f"win4658 kibana: rule {first_rule}: bad rule\n"
    assert result.stdout == f"rules: {count - 1} of {count} imported\n"
    assert (dashboards.returncode, dashboards.stdout) == (0, "dashboards: 21 of 21 imported\n")
    assert SECRET not in result.stdout + result.stderr


def test_cli_usage_and_connection_errors_exit_2(kibana, tmp_path):
    missing = run_cli("rules", "install", "--file", str(tmp_path / "absent.ndjson"), url=kibana.url)
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "run `win4658 generate`" in missing.stderr
    unreachable = run_cli("rules", "install", url="http://127.0.0.1:9")
    assert unreachable.returncode == 2 and unreachable.stderr.startswith("win4658 kibana: cannot reach Kibana at ")
    bad_url = run_cli("dashboards", "install", url="http://[::1")
    assert bad_url.returncode == 2 and bad_url.stderr.startswith("win4658 kibana: WIN4658_KIBANA_URL cannot be read")
    for output in (missing, unreachable, bad_url):
        assert "Traceback" not in output.stderr and SECRET not in output.stderr


def test_settings_refuse_credentials_in_the_url_and_a_user_without_password():
    with pytest.raises(KibanaError, match="must not carry credentials") as refused:
        kibana_settings({"WIN4658_KIBANA_URL": "https://elastic:hunter2@kibana:5601"})
    assert "hunter2" not in str(refused.value)
    with pytest.raises(KibanaError, match="no password"):
        kibana_settings({"WIN4658_KIBANA_URL": "https://kibana:5601", "WIN4658_KIBANA_USER": "elastic"})
    assert "pw" not in repr(
        kibana_settings(
            {"WIN4658_KIBANA_URL": "https://k:5601", "WIN4658_KIBANA_USER": "u", "WIN4658_KIBANA_PASSWORD": "pw"}
        )
    )


def test_an_answer_that_is_not_kibanas_is_an_error(kibana):
    kibana.answer = lambda method, path, headers, body: (200, {})
    with pytest.raises(KibanaError, match="GET /api/status has no version.number"):
        import_rules(_client(kibana.url), RULES)
    kibana.answer = lambda method, path, headers, body: (
        200,
        {"version": {"number": "8.15.3"}} if path == "/api/status" else {},
    )
    with pytest.raises(KibanaError, match="import answer has no success_count"):
        import_rules(_client(kibana.url), RULES)


def test_tls_is_verified_and_no_credential_reaches_an_unverified_server(tls_files):
    certificate, context = tls_files
    server = FakeKibana(ssl_context=context)
    try:
        with pytest.raises(KibanaError, match="cannot reach Kibana.*SSL"):
            import_rules(
                Kibana(kibana_settings({"WIN4658_KIBANA_URL": server.url, "WIN4658_KIBANA_API_KEY": SECRET})), RULES
            )
        assert server.requests == []
        verified = Kibana(kibana_settings({"WIN4658_KIBANA_URL": server.url}, ca_certs=certificate))
        assert import_saved_objects(verified, DASHBOARDS).succeeded == 21
        insecure = Kibana(kibana_settings({"WIN4658_KIBANA_URL": server.url}, insecure=True))
        assert import_saved_objects(insecure, DASHBOARDS).succeeded == 21
    finally:
        server.close()


# --- a real Kibana ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_kibana():
    """A Kibana space of its own (with, on Kibana 7.x, the space's signals index that rule imports need there),
    deleted afterwards whatever the outcome: the rules and saved objects of a space go with it."""
    if not os.environ.get("WIN4658_KIBANA_URL"):
        pytest.skip(
            "WIN4658_KIBANA_URL is not set: no Kibana to import the rules and dashboards into "
            "(WIN4658_KIBANA_API_KEY or WIN4658_KIBANA_USER/WIN4658_KIBANA_PASSWORD, WIN4658_KIBANA_CA_CERTS)"
        )
    settings = kibana_settings(os.environ)
    version = kibana_install.kibana_version(Kibana(settings))
    space = f"win4658-test-{uuid.uuid4().hex[:10]}"
    Kibana(settings).request("POST", "/api/spaces/space", {"id": space, "name": space})
    in_space = Kibana(settings, space=space)
    signals_index = version is not None and kibana_install.EQL_RULES_SINCE <= version < (8, 0)
    try:
        if signals_index:  # Kibana 7.x imports rules only into a space whose signals index exists
            in_space.request("POST", "/api/detection_engine/index")
        yield in_space, version
    finally:
        try:
            if signals_index:  # not deleted with the space
                in_space.request("DELETE", "/api/detection_engine/index")
        finally:
            Kibana(settings).request("DELETE", f"/api/spaces/space/{space}")


def test_live_rules_import_and_delete(live_kibana):
    live_kibana, version = live_kibana
    rules = ndjson_items(RULES)
    if version is not None and version < kibana_install.EQL_RULES_SINCE:
        with pytest.raises(KibanaError, match="cannot run these EQL rules"):
            import_rules(live_kibana, RULES)
        return
    assert import_rules(live_kibana, RULES) == (len(rules), len(rules), [])
    assert import_rules(live_kibana, RULES) == (len(rules), len(rules), [])  # overwrite: the same rules again
    found = live_kibana.request("GET", "/api/detection_engine/rules/_find?per_page=100")  # the space holds only ours
    assert sorted(rule["rule_id"] for rule in found["data"]) == sorted(rule["rule_id"] for rule in rules)
    assert all(rule["enabled"] is False for rule in found["data"])
    assert len(delete_rules(live_kibana, RULES)) == len(rules)
    assert live_kibana.request("GET", "/api/detection_engine/rules/_find?per_page=100")["data"] == []


def test_live_dashboards_import_and_delete(live_kibana):
    live_kibana, _version = live_kibana
    assert import_saved_objects(live_kibana, DASHBOARDS) == (21, 21, [])
    dashboard = live_kibana.request("GET", "/api/saved_objects/dashboard/win4658-handle-activity")
    assert dashboard["attributes"]["title"] == "win4658: Handle activity"
    assert _found(live_kibana, "dashboard") == [
        "win4658-audit-volume",
        "win4658-handle-activity",
        "win4658-handle-sessions",
    ]  # the space holds only ours
    _check_live_sessions(live_kibana)
    assert len(delete_saved_objects(live_kibana, DASHBOARDS)) == 21
    assert _found(live_kibana, "dashboard") == _found(live_kibana, "index-pattern") == []


def _found(live_kibana, kind):
    answer = live_kibana.request("GET", f"/api/saved_objects/_find?type={kind}&per_page=100")
    return sorted(item["id"] for item in answer["saved_objects"])


def _check_live_sessions(live_kibana):
    """The sessions dashboard, its panels and the data view they read, as Kibana migrated and stored them."""
    data_view = live_kibana.request("GET", "/api/saved_objects/index-pattern/win4658-sessions")["attributes"]
    assert (data_view["title"], data_view["timeFieldName"]) == ("win4658-sessions*", "@timestamp")
    assert json.loads(data_view["fieldFormatMap"])["event.duration"]["id"] == "duration"
    dashboard = live_kibana.request("GET", "/api/saved_objects/dashboard/win4658-handle-sessions")
    assert dashboard["attributes"]["title"] == "win4658: Handle sessions"
    panels = sorted((reference["type"], reference["id"]) for reference in dashboard["references"])
    assert panels == [
        ("search", "win4658-sessions-latest"),
        ("search", "win4658-sessions-longest"),
        ("visualization", "win4658-session-durations"),
        ("visualization", "win4658-sessions-by-object-type"),
        ("visualization", "win4658-sessions-by-process-duration"),
        ("visualization", "win4658-sessions-over-time-by-ending"),
    ]
    stored = live_kibana.request(
        "POST", "/api/saved_objects/_bulk_get", [{"type": kind, "id": object_id} for kind, object_id in panels]
    )["saved_objects"]
    assert [item.get("error") for item in stored] == [None] * len(panels)
    assert all(
        [(reference["type"], reference["id"]) for reference in item["references"]]
        == [("index-pattern", "win4658-sessions")]
        for item in stored
    )
    assert stored[1]["attributes"]["sort"] == [["event.duration", "desc"]]

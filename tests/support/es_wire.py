"""A test harness: an HTTP server on 127.0.0.1 that answers as one Elasticsearch or OpenSearch node of a recorded
version would, on the wire (JSON bodies, status codes and error objects of the REST API).

It keeps pipelines, templates, ILM policies and bulk-indexed documents in memory, does not run pipelines
(`_simulate` returns each source unchanged), and lacks the endpoints the recorded version lacks. Like the servers, it
refuses a versioned media type (``application/vnd.elasticsearch+json; compatible-with=N``, which the
elasticsearch-py 8/9 clients send) that the version does not serve: Elasticsearch serves its own major and the one
before from 8.0 on (7.x none that a client of 8 or 9 asks for), OpenSearch none. ``faults`` holds
scripted misbehaviour for the next requests to a path: ``"reset"`` (the connection is reset), or ``(status, body)``
answered as is, or a callable that receives the parsed bulk lines and returns ``(status, body)``.
"""

import json
import os
import re
import socket
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple
from urllib.parse import unquote, urlsplit

from tests.support.paths import FIXTURES

SERVERS_DIR = os.path.join(FIXTURES, "servers")
SERVER_NAMES = sorted(name[:-5] for name in os.listdir(SERVERS_DIR) if name.endswith(".json"))


def recorded_info(name: str) -> Dict[str, Any]:
    with open(os.path.join(SERVERS_DIR, name + ".json"), encoding="utf-8") as stream:
        return json.load(stream)


def _error(status: int, kind: str, reason: str) -> Tuple[int, Dict[str, Any]]:
    return status, {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status,
    }


class WireServer:
    def __init__(self, server_name: str, ssl_context: "ssl.SSLContext | None" = None):
        self.info = recorded_info(server_name)
        version = self.info["version"]
        self.opensearch = version.get("distribution") == "opensearch"
        self.version = tuple(int(part) for part in version["number"].split(".")[:2])
        self.store: Dict[str, Dict[str, Any]] = {
            "pipeline": {},
            "index_template": {},
            "template": {},
            "ilm": {},
            "component_template": {},
        }
        self.documents: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self.data_streams: List[str] = []  # indices that take only `create`
        self.requests: List[Tuple[str, str, Any]] = []
        self.headers: List[Dict[str, str]] = []
        self.faults: Dict[str, List[Any]] = {}
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        if ssl_context is not None:
            self._http.socket = ssl_context.wrap_socket(self._http.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> "WireServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._http.shutdown()
        self._http.server_close()

    def has(self, endpoint: str) -> bool:
        if self.opensearch:
            return endpoint in ("index_template", "component_template", "template", "pipeline")
        needs = {
            "index_template": (7, 8),
            "component_template": (7, 8),
            "ilm": (6, 6),
            "template": (0, 0),
            "pipeline": (0, 0),
        }
        return self.version >= needs[endpoint]

    # --- answers ------------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, body: Any) -> Any:
        parts = [unquote(part) for part in urlsplit(path).path.strip("/").split("/")] if path.strip("/") else []
        if method == "GET" and not parts:
            return 200, self.info
        if parts[:1] == ["_ingest"] and parts[1:2] == ["pipeline"]:
            if parts[-1] == "_simulate":
                if len(parts) == 4 and parts[2] not in self.store["pipeline"]:
                    return _error(404, "resource_not_found_exception", f"pipeline [{parts[2]}] is missing")
                return 200, {
                    "docs": [
                        {"doc": {"_index": "_index", "_id": "_id", "_source": doc["_source"]}} for doc in body["docs"]
                    ]
                }
            return self._stored("pipeline", method, parts[2], body)
        if parts[:1] == ["_bulk"]:
            return self._bulk(body)
        endpoints = {
            "_index_template": "index_template",
            "_template": "template",
            "_component_template": "component_template",
        }
        if parts[:1] == ["_ilm"] and parts[1:2] == ["policy"]:
            return self._stored("ilm", method, parts[2], body)
        if parts and parts[0] in endpoints:
            return self._stored(endpoints[parts[0]], method, parts[1], body)
        if parts[-1:] == ["_search"]:
            return 200, {
                "took": 1,
                "timed_out": False,
                "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []},
            }
        return _error(400, "illegal_argument_exception", f"no handler found for uri [{path}] and method [{method}]")

    def _stored(self, kind: str, method: str, name: str, body: Any) -> Any:
        if not self.has(kind):
            return _error(
                400, "invalid_index_name_exception", f"Invalid index name [_{kind}], must not start with '_'."
            )
        store = self.store[kind]
        if method == "PUT":
            store[name] = body
            return 200, {"acknowledged": True}
        if name not in store:
            return 404, {} if kind in ("pipeline", "template") else _error(
                404, "resource_not_found_exception", f"{kind} [{name}] missing"
            )[1]
        if method == "DELETE":
            del store[name]
            return 200, {"acknowledged": True}
        if kind == "index_template":
            return 200, {"index_templates": [{"name": name, "index_template": store[name]}]}
        if kind == "component_template":
            return 200, {"component_templates": [{"name": name, "component_template": store[name]}]}
        if kind == "ilm":
            return 200, {name: {"version": 1, "policy": store[name]["policy"]}}
        return 200, {name: store[name]}

    def _bulk(self, lines: List[Dict[str, Any]]) -> Any:
        items = []
        for action, source in zip(lines[::2], lines[1::2]):
            operation, meta = next(iter(action.items()))
            key = (meta["_index"], meta["_id"])
            item = {"_index": meta["_index"], "_id": meta["_id"]}
            if meta["_index"] in self.data_streams and operation != "create":
                item.update(
                    status=400,
                    error={
                        "type": "illegal_argument_exception",
                        "reason": "only write ops with an op_type of create are allowed in data streams",
                    },
                )
            elif operation == "create" and key in self.documents:
                item.update(
                    status=409,
                    error={
                        "type": "version_conflict_engine_exception",
                        "reason": f"[{meta['_id']}]: version conflict, document already exists",
                    },
                )
            else:
                item.update(
                    status=200 if key in self.documents else 201,
                    result="updated" if key in self.documents else "created",
                )
                self.documents[key] = source
            items.append({operation: item})
        return 200, {
            "took": 3,
            "errors": any(item[next(iter(item))]["status"] >= 300 for item in items),
            "items": items,
        }

    def refused_media_type(self, headers: Any) -> Any:
        """(406, error) for a compatible-with version the server does not serve, else None."""
        for name in ("accept", "content-type"):
            match = re.search(r"compatible-with=(\d+)", headers.get(name, ""))
            served = () if self.opensearch or self.version < (8, 0) else (self.version[0] - 1, self.version[0])
            if match and int(match[1]) not in served:
                reason = f"{name.title()} header [{headers[name]}] is not supported"
                return 406, {"error": reason, "status": 406}
        return None

    # --- HTTP -----------------------------------------------------------------------------------------------

    def _handler(self):
        wire = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "ndjson" in self.headers.get("content-type", ""):
                    body: Any = [json.loads(line) for line in raw.splitlines() if line.strip()]
                else:
                    body = json.loads(raw) if raw else None
                wire.requests.append((self.command, self.path, body))
                wire.headers.append({key.lower(): value for key, value in self.headers.items()})
                route = urlsplit(self.path).path
                refused = wire.refused_media_type(self.headers)
                if refused:
                    wire.faults.setdefault(route, []).insert(0, refused)
                faults = wire.faults.get(route)
                fault = faults.pop(0) if faults else None
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                status, answer = (
                    fault(body) if callable(fault) else fault if fault else wire.answer(self.command, self.path, body)
                )
                payload = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=UTF-8")
                if not wire.opensearch and wire.version >= (7, 14):
                    self.send_header("X-elastic-product", "Elasticsearch")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        return Handler

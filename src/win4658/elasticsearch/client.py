"""Connecting to Elasticsearch or OpenSearch: URL, credentials from the environment, TLS verified, retries.

Requests go through `elastic-transport` directly (the HTTP layer of the official clients), not through the 8.x
`elasticsearch` client: that client refuses any server that does not answer with `X-Elastic-Product: Elasticsearch`
(Elasticsearch before 7.14, OpenSearch) and asks for `compatible-with=8` media types that 7.x rejects. The bodies we
send are plain JSON, which every server line understands. Errors are raised as the `elasticsearch` package's
ApiError subclasses (NotFoundError for 404 …), so callers catch one family whatever the server.

Credentials are read from environment variables only (never argv) and never appear in an error message.
"""

import base64
import json
import time
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple, TypedDict
from urllib.parse import quote, urlsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, NodeConfig, SerializationError, TlsError, Transport
from elasticsearch.exceptions import HTTP_EXCEPTIONS, ApiError, AuthorizationException

from ..connection_settings import environment_credentials, setting_variables
from ..urls import check_printable

VARIABLES = setting_variables("ES")
URL_VARIABLE, API_KEY_VARIABLE, USER_VARIABLE, PASSWORD_VARIABLE, CA_CERTS_VARIABLE = VARIABLES
RETRY_STATUSES = (429, 502, 503, 504)
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
NDJSON_HEADERS = {"content-type": "application/x-ndjson", "accept": "application/json"}
RETRIES = 5  # after the first attempt: waits of 1, 2, 4, 8, 16 s
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0


class SettingsError(ValueError):
    """The connection settings are missing or unsafe."""


class Settings(NamedTuple):
    """Where a server is and how to log in to it (Elasticsearch here, Kibana in win4658.kibana.client)."""

    url: str
    api_key: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = None
    ca_certs: Optional[str] = None
    verify: bool = True

    def __repr__(self) -> str:  # never show a secret
        return f"Settings(url={self.url!r}, user={self.user!r}, ca_certs={self.ca_certs!r}, verify={self.verify})"


def settings_from(
    environ: Mapping[str, str],
    url: Optional[str] = None,
    ca_certs: Optional[str] = None,
    insecure: bool = False,
    password: Optional[str] = None,
) -> Settings:
    """Settings from the command line's non-secret options and the environment's credentials."""
    url = url or environ.get(URL_VARIABLE)
    if not url:
        raise SettingsError(f"no Elasticsearch URL: pass --url or set {URL_VARIABLE}")
    for node_url in url.split(","):
        _check_url(node_url.strip())
    return Settings(url=url, **environment_credentials(environ, VARIABLES, password, ca_certs), verify=not insecure)


def _check_url(url: str) -> Tuple[str, str, int, str]:
    """(scheme, host, port, path prefix) of a node URL, or a SettingsError that says what is wrong with it."""
    try:
        check_printable(url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:  # an unclosed [ of an IPv6 address, a port that is not a number
        raise SettingsError(f"the Elasticsearch URL {_without_credentials(url)!r} cannot be read: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("the Elasticsearch URL must be http(s)://host[:port]")
    if parts.username or parts.password:
        raise SettingsError(
            f"the Elasticsearch URL must not carry credentials: use {API_KEY_VARIABLE} "
            f"or {USER_VARIABLE}/{PASSWORD_VARIABLE}"
        )
    default_port = 443 if parts.scheme == "https" else 9200
    return parts.scheme, parts.hostname, port or default_port, parts.path.rstrip("/")


def _without_credentials(url: str) -> str:
    return url.rsplit("@", 1)[-1] if "@" in url else url


# Mapping types of ECS that a server line may lack: the first Elasticsearch that has the type (its default
# distribution: the 7.x OSS build and OpenSearch lack them all) and the portable type a template uses instead.
LATE_TYPES = {
    "match_only_text": ((7, 14), "text"),
    "wildcard": ((7, 9), "keyword"),
    "constant_keyword": ((7, 7), "keyword"),
    "flattened": ((7, 3), "object"),
    "version": ((7, 10), "keyword"),
}


class Server(NamedTuple):
    """What GET / says about the server, and the features this project uses that depend on it."""

    distribution: str  # "elasticsearch" or "opensearch"
    version: Tuple[int, int, int]
    flavor: str = "default"  # Elasticsearch's build_flavor: "default", "oss" (7.x Apache-licensed builds), "serverless"

    @property
    def elasticsearch(self) -> bool:
        return self.distribution == "elasticsearch"

    def at_least(self, major: int, minor: int = 0) -> bool:
        return self.elasticsearch and self.version[:2] >= (major, minor)

    @property
    def composable_templates(self) -> bool:
        return self.at_least(7, 8) or not self.elasticsearch

    @property
    def type_substitutes(self) -> Dict[str, str]:
        """{type this server lacks: the type to map instead}, for the types of LATE_TYPES."""
        return {
            kind: substitute
            for kind, (since, substitute) in LATE_TYPES.items()
            if not self.at_least(*since) or self.flavor == "oss"
        }

    @property
    def eql(self) -> bool:
        """EQL as the generated rules write it (`regex~`, `:` with a list): Elasticsearch 7.12+, not the OSS build.
        7.10 and 7.11 have `_eql/search` but reject that syntax."""
        return self.at_least(7, 12) and self.flavor != "oss"

    @property
    def esql(self) -> bool:
        return self.at_least(8, 11)

    @property
    def data_streams(self) -> bool:
        """Data streams with an ILM policy: Elasticsearch 8.0+ (serverless has no ILM)."""
        return self.at_least(8, 0) and self.flavor != "serverless"

    @property
    def ignore_missing_component_templates(self) -> bool:
        return self.at_least(8, 7)

    def __str__(self) -> str:
        name = "Elasticsearch" if self.elasticsearch else "OpenSearch"
        oss = " (OSS build)" if self.flavor == "oss" else ""
        return f"{name} {'.'.join(map(str, self.version))}{oss}"


def server_from(info: Any) -> Server:
    """The Server of a GET / answer (Elasticsearch 7.0+ and OpenSearch; `version.distribution` names OpenSearch)."""
    version = info.get("version") if isinstance(info, dict) else None
    version = version if isinstance(version, dict) else {}
    number = version.get("number")
    if not isinstance(number, str):
        raise ServerAnswerError("GET /", "version.number")
    try:
        parts = tuple(int(part) for part in number.split("-")[0].split(".")[:3])
    except ValueError:
        raise ServerAnswerError("GET /", f"version.number {number!r}") from None
    distribution = "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    major, minor, patch = (parts + (0, 0))[:3]
    return Server(distribution, (major, minor, patch), version.get("build_flavor") or "default")


class ServerAnswerError(ValueError):
    """The server answered 2xx with a body that lacks what the API always returns."""

    def __init__(self, request: str, missing: str):
        super().__init__(f"the server's answer to {request} has no {missing}: is this Elasticsearch or OpenSearch?")


class Cluster:
    """Requests to one cluster through elastic-transport, each retried with exponential backoff on connection
    errors and on 429/502/503/504 (every request this project sends is idempotent: PUT, searches, and bulk
    indexing under content ids). A cluster that has never answered gets one retry: a wrong URL or a stopped
    cluster is reported within seconds, a cluster that goes away during a run gets the whole backoff."""

    def __init__(
        self,
        transport: Transport,
        auth_header: Optional[str] = None,
        retries: int = RETRIES,
        first_backoff: float = FIRST_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.transport = transport
        self._auth_header = auth_header
        self.retries = retries
        self.first_backoff = first_backoff
        self.sleep = sleep
        self._server: Optional[Server] = None
        self._answered = False  # until the cluster has answered once, a connection error is retried only once

    def __repr__(self) -> str:  # never show the authorization header
        return f"Cluster({[node.base_url for node in self.transport.node_pool.all()]})"

    def request(self, method: str, path: str, body: Any = None, ndjson: bool = False) -> Any:
        headers = dict(NDJSON_HEADERS if ndjson else JSON_HEADERS)
        if self._auth_header:
            headers["authorization"] = self._auth_header
        payload = body if ndjson or body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in range(self.retries + 1):
            try:
                meta, answer = self.transport.perform_request(method, path, headers=headers, body=payload)
            except TlsError:
                raise  # a certificate that does not verify will not verify on the next attempt
            except (TransportConnectionError, ConnectionTimeout):
                if attempt == self.retries or (attempt >= 1 and not self._answered):
                    raise
            except SerializationError:
                raise ServerAnswerError(f"{method} {path}", "JSON body") from None
            else:
                self._answered = True
                if meta.status not in RETRY_STATUSES or attempt == self.retries:
                    break
            self.sleep(self.backoff(attempt))
        if not 200 <= meta.status < 300:
            raise HTTP_EXCEPTIONS.get(meta.status, ApiError)(_error_message(meta.status, answer), meta, answer)
        return answer

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        return min(self.first_backoff * 2**attempt, MAX_BACKOFF)

    @property
    def server(self) -> Server:
        """The server's distribution and version (GET /, asked once)."""
        if self._server is None:
            self._server = server_from(self.request("GET", "/"))
        return self._server

    def server_or_none(self) -> Optional[Server]:
        """The server, or None when the credentials may not read GET / (the cluster `monitor` privilege)."""
        try:
            return self.server
        except AuthorizationException:
            return None


def _error_message(status: int, answer: Any) -> str:
    """'type: reason' of an Elasticsearch error answer (OpenSearch's too), or what else the answer holds."""
    error = answer.get("error") if isinstance(answer, dict) else answer
    if isinstance(error, dict):
        return ": ".join(str(error[key]) for key in ("type", "reason") if error.get(key)) or str(status)
    return str(error or status)


class _TlsOptions(TypedDict, total=False):
    """The NodeConfig keywords of an https node."""

    verify_certs: bool
    ca_certs: str
    ssl_show_warn: bool


def connect(settings: Settings, **options: Any) -> Cluster:
    """A Cluster for the settings; ``options`` (retries, first_backoff, sleep) tune the retries."""
    verify: _TlsOptions = {"verify_certs": settings.verify}
    if settings.ca_certs:
        verify["ca_certs"] = settings.ca_certs
    if not settings.verify:
        verify["ssl_show_warn"] = False
    nodes: List[NodeConfig] = []
    for node_url in settings.url.split(","):
        scheme, host, port, prefix = _check_url(node_url.strip())
        node_verify: _TlsOptions = verify if scheme == "https" else {}
        nodes.append(NodeConfig(scheme, host, port, path_prefix=prefix, request_timeout=60, **node_verify))
    transport = Transport(nodes, max_retries=0, retry_on_status=(), retry_on_timeout=False)
    return Cluster(transport, authorization(settings), **options)


def authorization(settings: Settings) -> Optional[str]:
    """The Authorization header value of the settings' API key or user and password (None without either)."""
    if settings.api_key:
        return f"ApiKey {settings.api_key}"
    if settings.user:
        if settings.password is None:
            raise SettingsError(f"{USER_VARIABLE} is set but no password: set {PASSWORD_VARIABLE}")
        token = base64.b64encode(f"{settings.user}:{settings.password}".encode("utf-8")).decode("ascii")
        return f"Basic {token}"
    return None


def request(client: Cluster, method: str, path: str, body: Optional[dict] = None) -> Any:
    """A raw REST call with a JSON body (pipeline and template bodies are sent exactly as committed)."""
    return client.request(method, path, body)


def path_part(name: str) -> str:
    return quote(name, safe="")

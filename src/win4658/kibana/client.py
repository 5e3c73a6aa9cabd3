"""Connecting to Kibana: URL and credentials from the environment only, TLS verified, retries with backoff.

Kibana's import APIs take a multipart upload, which the Elasticsearch transport does not send; urllib3 (already a
dependency through elastic-transport) does it, with the same guarantees: certificate verification on unless
``--insecure``, retries with exponential backoff on connection errors and 429/502/503/504 (imports with
``overwrite=true`` are idempotent), and credentials that never appear in argv, logs or errors.
"""

import json
import warnings
from typing import Any, Dict, Mapping, Optional
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.util.retry import Retry

from ..connection_settings import environment_credentials, setting_variables
from ..elasticsearch.client import Settings, authorization
from ..urls import check_printable

VARIABLES = setting_variables("KIBANA")
URL_VARIABLE, API_KEY_VARIABLE, USER_VARIABLE, PASSWORD_VARIABLE, CA_CERTS_VARIABLE = VARIABLES
RETRY_STATUSES = (429, 502, 503, 504)


class _Retry(Retry):
    """Retry, except a certificate that does not verify: it will not verify on the next attempt either."""

    def increment(self, *args: Any, **kwargs: Any) -> "_Retry":
        error = kwargs.get("error")
        if isinstance(error, urllib3.exceptions.SSLError):
            raise error
        return super().increment(*args, **kwargs)


class KibanaError(ValueError):
    """Settings that cannot work, or an answer Kibana refused (``status``: its HTTP status) or that is not Kibana's."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


def kibana_settings(environ: Mapping[str, str], ca_certs: Optional[str] = None, insecure: bool = False) -> Settings:
    url = (environ.get(URL_VARIABLE) or "").strip()
    if not url:
        raise KibanaError(f"no Kibana URL: set {URL_VARIABLE} (e.g. https://kibana.example:5601)")
    try:
        check_printable(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise KibanaError(f"{URL_VARIABLE} cannot be read: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KibanaError(f"{URL_VARIABLE} must be http(s)://host[:port][/base-path]")
    if parts.username or parts.password:
        raise KibanaError(
            f"{URL_VARIABLE} must not carry credentials: use {API_KEY_VARIABLE} or {USER_VARIABLE}/{PASSWORD_VARIABLE}"
        )
    settings = Settings(
        url.rstrip("/"), **environment_credentials(environ, VARIABLES, ca_certs=ca_certs), verify=not insecure
    )
    if settings.user and settings.password is None:
        raise KibanaError(f"{USER_VARIABLE} is set but no password: set {PASSWORD_VARIABLE}")
    return settings


class Kibana:
    """Requests to one Kibana (optionally in one space)."""

    def __init__(self, settings: Settings, space: Optional[str] = None, retries: int = 5, backoff_factor: float = 1.0):
        self.base = settings.url + (f"/s/{quote(space, safe='')}" if space else "")
        verification: Dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if settings.verify else "CERT_NONE"}
        if settings.ca_certs:
            verification["ca_certs"] = settings.ca_certs
        # connect=1: a Kibana that never answers is a wrong URL or a stopped server, reported within a second;
        # read=1: one that accepts and then stays silent is given the read timeout twice (4 min), not six times
        retry = _Retry(
            total=retries,
            connect=min(retries, 1),
            read=min(retries, 1),
            backoff_factor=backoff_factor,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,
            raise_on_status=False,
        )
        self.verify = settings.verify
        self.pool = urllib3.PoolManager(retries=retry, timeout=urllib3.Timeout(connect=10, read=120), **verification)
        self._headers = {"kbn-xsrf": "true", "accept": "application/json"}
        header = authorization(settings)
        if header:
            self._headers["authorization"] = header

    def __repr__(self) -> str:
        return f"Kibana({self.base!r})"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        headers = dict(self._headers)
        data = None
        if body is not None:
            headers["content-type"] = "application/json"
            data = json.dumps(body).encode("utf-8")
        return self._answer(method, path, self._send(method, path, data, headers))

    def upload(self, path: str, file_name: str, content: bytes) -> Any:
        """POST a file as the multipart field ``file`` (what Kibana's import APIs read)."""
        data, content_type = urllib3.encode_multipart_formdata({"file": (file_name, content, "application/ndjson")})
        response = self._send("POST", path, data, dict(self._headers, **{"content-type": content_type}))
        return self._answer("POST", path, response)

    def _send(self, method: str, path: str, data: Optional[bytes], headers: Dict[str, str]) -> Any:
        try:
            with warnings.catch_warnings():
                if not self.verify:  # asked for with --insecure: no warning on every request
                    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                return self.pool.request(method, self.base + path, body=data, headers=headers)
        except urllib3.exceptions.HTTPError as error:
            reason = getattr(error, "reason", None) or error
            raise KibanaError(f"cannot reach Kibana at {self.base}: {type(reason).__name__}: {reason}") from None

    @staticmethod
    def _answer(method: str, path: str, response: Any) -> Any:
        try:
            answer = json.loads(response.data) if response.data else None
        except ValueError:
            raise KibanaError(
                f"Kibana's answer to {method} {path.split('?')[0]} is not JSON (HTTP {response.status})"
            ) from None
        if not 200 <= response.status < 300:
            message = answer.get("message") if isinstance(answer, dict) else None
            refused = f"Kibana refused {method} {path.split('?')[0]}: HTTP {response.status} {message or ''}"
            raise KibanaError(refused.rstrip(), response.status)
        return answer

"""The splunk-sdk client behind `win4658 splunk search` and the live tests.

The connection comes from the environment only (never argv, never logged): WIN4658_SPLUNK_URL
(https://host:8089, the scheme is required) with WIN4658_SPLUNK_TOKEN (an authentication token), or
WIN4658_SPLUNK_USER and WIN4658_SPLUNK_PASSWORD. The server's TLS certificate is verified, against the system's
CAs or the PEM bundle WIN4658_SPLUNK_CA_CERTS names; WIN4658_SPLUNK_VERIFY=false (or 0, no, off) or --insecure
turns that off.
"""

import http.client
import ssl
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Mapping, Optional
from urllib.parse import SplitResult, urlsplit
from xml.etree.ElementTree import ParseError

from splunklib import binding, client, results

from ..urls import check_printable
from .app import APP_ID

URL_VARIABLE = "WIN4658_SPLUNK_URL"
TOKEN_VARIABLE = "WIN4658_SPLUNK_TOKEN"
USER_VARIABLE = "WIN4658_SPLUNK_USER"
PASSWORD_VARIABLE = "WIN4658_SPLUNK_PASSWORD"
VERIFY_VARIABLE = "WIN4658_SPLUNK_VERIFY"
CA_CERTS_VARIABLE = "WIN4658_SPLUNK_CA_CERTS"
VERIFY_OFF = ("0", "false", "no", "off")
POLL_SECONDS = 0.5
REQUEST_TIMEOUT = 60  # seconds a request may wait for the server's answer
# What splunk-sdk raises on an answer that is not splunkd's REST API (an HTML page, garbage, a proxy's error)
UNEXPECTED_ANSWER_ERRORS = (http.client.HTTPException, ParseError, AttributeError, KeyError, ValueError)


class SplunkConnectionError(RuntimeError):
    """Missing or wrong connection settings, or the server refused; the message never holds a secret."""


class ConnectionSettings:
    """Where and how to log in; repr() shows the URL and the kind of credential, not the credential."""

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        user: Optional[str] = None,
        password: Optional[str] = None,
        verify: bool = True,
        ca_certs: Optional[str] = None,
    ):
        self.url = url
        self.token = token
        self.user = user
        self.password = password
        self.verify = verify
        self.ca_certs = ca_certs

    @classmethod
    def from_environment(cls, environment: Mapping[str, str], insecure: bool = False) -> "ConnectionSettings":
        url = environment.get(URL_VARIABLE, "").strip()
        if not url:
            raise SplunkConnectionError(
                f"set {URL_VARIABLE} (https://host:8089) and {TOKEN_VARIABLE} or {USER_VARIABLE}/{PASSWORD_VARIABLE}"
            )
        _url_parts(url)
        token = environment.get(TOKEN_VARIABLE) or None
        user, password = environment.get(USER_VARIABLE) or None, environment.get(PASSWORD_VARIABLE) or None
        if token is None and (user is None or password is None):
            raise SplunkConnectionError(
                f"{URL_VARIABLE} is set but no credential: set {TOKEN_VARIABLE}, "
                f"or {USER_VARIABLE} and {PASSWORD_VARIABLE}"
            )
        verify = not insecure and environment.get(VERIFY_VARIABLE, "").strip().lower() not in VERIFY_OFF
        return cls(url, token, user, password, verify, environment.get(CA_CERTS_VARIABLE) or None)

    def __repr__(self) -> str:
        kind = "token" if self.token else f"user {self.user}"
        return f"ConnectionSettings({self.url}, {kind}, verify={self.verify})"


def _url_parts(url: str) -> SplitResult:
    """The parts of an http(s)://host[:port] URL; the error never repeats the URL, which could hold a secret."""
    expected = f"{URL_VARIABLE} must be https://host[:port] with its scheme, e.g. https://localhost:8089"
    try:
        check_printable(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError as error:
        raise SplunkConnectionError(f"{expected}: it is not a URL ({error})") from None
    if parts.username or parts.password:
        raise SplunkConnectionError(
            f"{expected}, without credentials: use {TOKEN_VARIABLE} or {USER_VARIABLE}/{PASSWORD_VARIABLE}"
        )
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SplunkConnectionError(expected)
    return parts


def _tls_context(settings: ConnectionSettings) -> Optional[ssl.SSLContext]:
    if not settings.verify:
        return None
    try:
        return ssl.create_default_context(cafile=settings.ca_certs)
    except OSError as error:  # ssl.SSLError too
        raise SplunkConnectionError(f"{CA_CERTS_VARIABLE}: cannot load {settings.ca_certs}: {error}") from None


def connect(settings: ConnectionSettings, app: str = APP_ID) -> client.Service:
    parts = _url_parts(settings.url)
    credentials: Dict[str, Any] = (
        {"splunkToken": settings.token}
        if settings.token
        else {"username": settings.user, "password": settings.password}
    )
    handler = binding.handler(timeout=REQUEST_TIMEOUT, verify=settings.verify, context=_tls_context(settings))
    try:
        service = client.connect(
            host=parts.hostname,
            port=parts.port or 8089,
            scheme=parts.scheme,
            app=app,
            owner="nobody",
            handler=handler,
            autologin=True,
            **credentials,
        )
        service.info  # noqa: B018  (a token is only checked on the first request: make it now)
        return service
    except binding.AuthenticationError:
        raise SplunkConnectionError(f"{settings.url}: login refused (check the token or user/password)") from None
    except ssl.SSLCertVerificationError as error:
        raise SplunkConnectionError(
            f"{settings.url}: the server's certificate is not trusted ({error.verify_message}):"
            f" set {CA_CERTS_VARIABLE} to its CA bundle, or {VERIFY_VARIABLE}=false "
            "(--insecure) to skip the check"
        ) from None
    except (OSError, binding.HTTPError, *UNEXPECTED_ANSWER_ERRORS) as error:
        raise _connection_error(settings.url, error) from None


@contextmanager
def answers_from(url: str) -> Iterator[None]:
    """Requests to the server at ``url``: a connection error, a timeout or an answer that is not splunkd's is a
    SplunkConnectionError naming the URL."""
    try:
        yield
    except (OSError, binding.HTTPError, *UNEXPECTED_ANSWER_ERRORS) as error:
        raise _connection_error(url, error) from None


def _connection_error(url: str, error: Exception) -> SplunkConnectionError:
    if isinstance(error, UNEXPECTED_ANSWER_ERRORS) and not isinstance(error, OSError):
        return SplunkConnectionError(
            f"{url}: the answer is not splunkd's REST API ({type(error).__name__}: "
            f"{str(error)[:120]!r}): is this the management port (8089)?"
        )
    return SplunkConnectionError(f"{url}: {type(error).__name__}: {_status(error)}")


def _status(error: Exception) -> str:
    return f"HTTP {error.status} {error.reason}" if isinstance(error, binding.HTTPError) else str(error)


def dispatch_saved_search(service: client.Service, name: str) -> Iterator[Dict[str, Any]]:
    """Run a saved search of the app and yield its result rows."""
    if name not in service.saved_searches:
        raise SplunkConnectionError(f"no saved search {name!r} in app {service.namespace.get('app')}")
    job = service.saved_searches[name].dispatch()
    yield from _job_results(job)


def run_search(service: client.Service, query: str, **arguments: Any) -> Iterator[Dict[str, Any]]:
    """Run an ad-hoc search (``search …`` or ``| …``) in the app's context and yield its result rows."""
    yield from _job_results(service.jobs.create(query, **arguments))


def _job_results(job: client.Job) -> Iterator[Dict[str, Any]]:
    """The rows of a finished job; a job Splunk failed (a search that does not parse, a missing lookup or index)
    is an error with Splunk's messages, never an empty result."""
    while not job.is_done():
        time.sleep(POLL_SECONDS)
    if job["isFailed"] == "1":
        messages = job.content.get("messages") or {}
        errors = messages.get("fatal") or messages.get("error") if isinstance(messages, dict) else None
        text = "; ".join([errors] if isinstance(errors, str) else errors or ["no message"])
        raise SplunkConnectionError(f"search job {job.sid} failed: {text}")
    stream = job.results(output_mode="json", count=0)
    for item in results.JSONResultsReader(stream):
        if isinstance(item, dict):
            yield item

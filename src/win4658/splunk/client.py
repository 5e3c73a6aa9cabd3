"""The splunk-sdk client behind `win4658 splunk search` and the live tests.

The connection comes from the environment only (never argv, never logged): WIN4658_SPLUNK_URL
(https://host:8089) with WIN4658_SPLUNK_TOKEN (an authentication token), or WIN4658_SPLUNK_USER and
WIN4658_SPLUNK_PASSWORD. WIN4658_SPLUNK_VERIFY=1 checks the server's TLS certificate.
"""
import time
from typing import Any, Dict, Iterator, Mapping, Optional
from urllib.parse import urlsplit

from splunklib import binding, client, results

from .app import APP_ID

URL_VARIABLE = "WIN4658_SPLUNK_URL"
TOKEN_VARIABLE = "WIN4658_SPLUNK_TOKEN"
USER_VARIABLE = "WIN4658_SPLUNK_USER"
PASSWORD_VARIABLE = "WIN4658_SPLUNK_PASSWORD"
VERIFY_VARIABLE = "WIN4658_SPLUNK_VERIFY"
POLL_SECONDS = 0.5


class SplunkConnectionError(RuntimeError):
    """Missing or wrong connection settings, or the server refused; the message never holds a secret."""


class ConnectionSettings:
    """Where and how to log in; repr() shows the URL and the kind of credential, not the credential."""

    def __init__(self, url: str, token: Optional[str] = None, user: Optional[str] = None,
                 password: Optional[str] = None, verify: bool = False):
        self.url = url
        self.token = token
        self.user = user
        self.password = password
        self.verify = verify

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> "ConnectionSettings":
        url = environment.get(URL_VARIABLE, "").strip()
        if not url:
            raise SplunkConnectionError(f"set {URL_VARIABLE} (https://host:8089) and {TOKEN_VARIABLE} "
                                        f"or {USER_VARIABLE}/{PASSWORD_VARIABLE}")
        token = environment.get(TOKEN_VARIABLE) or None
        user, password = environment.get(USER_VARIABLE) or None, environment.get(PASSWORD_VARIABLE) or None
        if token is None and (user is None or password is None):
            raise SplunkConnectionError(f"{URL_VARIABLE} is set but no credential: set {TOKEN_VARIABLE}, "
                                        f"or {USER_VARIABLE} and {PASSWORD_VARIABLE}")
        return cls(url, token, user, password, environment.get(VERIFY_VARIABLE, "") in ("1", "true", "yes"))

    def __repr__(self) -> str:
        kind = "token" if self.token else f"user {self.user}"
        return f"ConnectionSettings({self.url}, {kind})"


def connect(settings: ConnectionSettings, app: str = APP_ID) -> client.Service:
    parts = urlsplit(settings.url)
    credentials: Dict[str, Any] = ({"splunkToken": settings.token} if settings.token
                                   else {"username": settings.user, "password": settings.password})
    try:
        service = client.connect(host=parts.hostname, port=parts.port or 8089, scheme=parts.scheme or "https",
                                 app=app, owner="nobody", verify=settings.verify, autologin=True, **credentials)
        service.info  # noqa: B018  (a token is only checked on the first request: make it now)
        return service
    except binding.AuthenticationError:
        raise SplunkConnectionError(f"{settings.url}: login refused (check the token or user/password)") from None
    except (OSError, binding.HTTPError) as error:
        raise SplunkConnectionError(f"{settings.url}: {type(error).__name__}: {_status(error)}") from None


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
    while not job.is_done():
        time.sleep(POLL_SECONDS)
    stream = job.results(output_mode="json", count=0)
    for item in results.JSONResultsReader(stream):
        if isinstance(item, dict):
            yield item

"""Connecting to Elasticsearch with the official client: URL, credentials from the environment, TLS verified.

Credentials are read from environment variables only (never argv) and never appear in an error message.
The 8.x client talks to Elasticsearch 8.x and 9.x (REST compatibility mode v8).
"""
from typing import Mapping, NamedTuple, Optional
from urllib.parse import quote, urlsplit

from elasticsearch import Elasticsearch

URL_VARIABLE = "WIN4658_ES_URL"
API_KEY_VARIABLE = "WIN4658_ES_API_KEY"
USER_VARIABLE = "WIN4658_ES_USER"
PASSWORD_VARIABLE = "WIN4658_ES_PASSWORD"
CA_CERTS_VARIABLE = "WIN4658_ES_CA_CERTS"
RETRY_STATUSES = (429, 502, 503, 504)
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


class SettingsError(ValueError):
    """The connection settings are missing or unsafe."""


class Settings(NamedTuple):
    url: str
    api_key: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = None
    ca_certs: Optional[str] = None
    verify: bool = True

    def __repr__(self) -> str:  # never show a secret
        return f"Settings(url={self.url!r}, user={self.user!r}, ca_certs={self.ca_certs!r}, verify={self.verify})"


def settings_from(environ: Mapping[str, str], url: Optional[str] = None, ca_certs: Optional[str] = None,
                  insecure: bool = False, password: Optional[str] = None) -> Settings:
    """Settings from the command line's non-secret options and the environment's credentials."""
    url = url or environ.get(URL_VARIABLE)
    if not url:
        raise SettingsError(f"no Elasticsearch URL: pass --url or set {URL_VARIABLE}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("the Elasticsearch URL must be http(s)://host[:port]")
    if parts.username or parts.password:
        raise SettingsError(f"the Elasticsearch URL must not carry credentials: use {API_KEY_VARIABLE} "
                              f"or {USER_VARIABLE}/{PASSWORD_VARIABLE}")
    return Settings(
        url=url,
        api_key=environ.get(API_KEY_VARIABLE) or None,
        user=environ.get(USER_VARIABLE) or None,
        password=password or environ.get(PASSWORD_VARIABLE) or None,
        ca_certs=ca_certs or environ.get(CA_CERTS_VARIABLE) or None,
        verify=not insecure,
    )


def connect(settings: Settings) -> Elasticsearch:
    options = {
        "request_timeout": 60,
        "max_retries": 3,
        "retry_on_status": RETRY_STATUSES,
        "retry_on_timeout": True,
        "verify_certs": settings.verify,
    }
    if settings.ca_certs:
        options["ca_certs"] = settings.ca_certs
    if not settings.verify:
        options["ssl_show_warn"] = False
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.user:
        if settings.password is None:
            raise SettingsError(f"{USER_VARIABLE} is set but no password: set {PASSWORD_VARIABLE}")
        options["basic_auth"] = (settings.user, settings.password)
    return Elasticsearch(settings.url, **options)


def request(client: Elasticsearch, method: str, path: str, body: Optional[dict] = None) -> dict:
    """A raw REST call with a JSON body (pipeline and template bodies are sent exactly as committed)."""
    response = client.perform_request(method, path, headers=JSON_HEADERS, body=body)
    return response.body


def path_part(name: str) -> str:
    return quote(name, safe="")

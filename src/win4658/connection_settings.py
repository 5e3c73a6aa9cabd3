"""A server's connection settings as read from the environment (WIN4658_<SERVICE>_URL, _API_KEY, _USER, _PASSWORD,
_CA_CERTS): shared by the Elasticsearch and the Kibana clients, so both name and read their variables alike."""

from typing import Mapping, NamedTuple, Optional


class SettingVariables(NamedTuple):
    """The environment variables that hold one service's URL, credentials and CA certificates."""

    url: str
    api_key: str
    user: str
    password: str
    ca_certs: str


def setting_variables(service: str) -> SettingVariables:
    """WIN4658_<service>_URL, …_API_KEY, …_USER, …_PASSWORD and …_CA_CERTS."""
    return SettingVariables(*(f"WIN4658_{service}_{name.upper()}" for name in SettingVariables._fields))


def environment_credentials(
    environ: Mapping[str, str],
    variables: SettingVariables,
    password: Optional[str] = None,
    ca_certs: Optional[str] = None,
) -> dict:
    """api_key, user, password and ca_certs of the settings: the given ones first, else the environment's (None when
    neither is set or a variable is empty)."""
    return {
        "api_key": environ.get(variables.api_key) or None,
        "user": environ.get(variables.user) or None,
        "password": password or environ.get(variables.password) or None,
        "ca_certs": ca_certs or environ.get(variables.ca_certs) or None,
    }

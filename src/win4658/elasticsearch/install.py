"""`win4658 es install`: put the generated pipeline and index template, reporting created / updated / unchanged.

The template is adapted to the server (GET /): the composable `_index_template` where it exists (Elasticsearch 7.8+,
OpenSearch), the legacy `_template` otherwise, a portable type for a type the server lacks (`text` for
`match_only_text` before 7.14 and on OpenSearch: client.LATE_TYPES). With
``data_stream`` (Elasticsearch 8.0+) the template creates data streams with an ILM policy (named as the template)
and a `@custom` component template; both belong to the user once created and are never overwritten.
"""

from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from elasticsearch import NotFoundError

from .client import Cluster, Server, path_part, request
from .pipeline import PIPELINE_ID, pipeline_body
from .template import INDEX_PATTERN, TEMPLATE_NAME, data_stream_template_body, legacy_template_body, template_body

CUSTOM_SUFFIX = "@custom"
# Roll over daily or at 50 GB a primary shard, delete after 90 days: a starting point users edit in Kibana.
DEFAULT_POLICY = {
    "policy": {
        "_meta": {"description": "win4658 events: edit freely, `win4658 es install` never overwrites it"},
        "phases": {
            "hot": {"actions": {"rollover": {"max_age": "1d", "max_primary_shard_size": "50gb"}}},
            "delete": {"min_age": "90d", "actions": {"delete": {}}},
        },
    }
}


class InstallError(ValueError):
    """The server cannot hold what was asked (a data stream on a server without them)."""


class Installed(NamedTuple):
    kind: str
    name: str
    status: str  # created | updated | unchanged | kept (the user's own, never overwritten)


def install(
    client: Cluster,
    pipeline_id: str = PIPELINE_ID,
    template_name: str = TEMPLATE_NAME,
    index_patterns: Sequence[str] = (INDEX_PATTERN,),
    data_stream: bool = False,
    sessions: bool = False,
) -> List[Installed]:
    """The pipeline and the events template; with ``sessions``, the handle-sessions template too."""
    server = client.server_or_none()
    if server is None:
        raise InstallError(
            "the credentials may not read the server's version (GET /), which decides the template's "
            "form: add the cluster privilege monitor"
        )
    if data_stream and not server.data_streams:
        raise InstallError(
            f"--data-stream needs Elasticsearch 8.0 or later with ILM; {server} gets classic indices "
            "(run install without --data-stream)"
        )
    template = template_body(
        pipeline_id=pipeline_id, index_patterns=index_patterns, substitutes=server.type_substitutes
    )
    installed = [_put(client, "pipeline", pipeline_id, f"/_ingest/pipeline/{path_part(pipeline_id)}", pipeline_body())]
    if data_stream:
        installed += _data_stream_parts(client, server, template_name)
        template = data_stream_template_body(
            template, template_name + CUSTOM_SUFFIX, template_name, server.ignore_missing_component_templates
        )
    installed.append(
        _put(
            client,
            "index template",
            template_name,
            template_path(server, template_name),
            template if server.composable_templates else legacy_template_body(template),
        )
    )
    if sessions:
        from ..sessions.elastic import SESSIONS_TEMPLATE_NAME, sessions_template_body
        from ..sessions.fields import session_spec

        sessions_template = sessions_template_body(session_spec(), server.type_substitutes)
        installed.append(
            _put(
                client,
                "index template",
                SESSIONS_TEMPLATE_NAME,
                template_path(server, SESSIONS_TEMPLATE_NAME),
                sessions_template if server.composable_templates else legacy_template_body(sessions_template),
            )
        )
    return installed


def template_path(server: Server, template_name: str) -> str:
    endpoint = "_index_template" if server.composable_templates else "_template"
    return f"/{endpoint}/{path_part(template_name)}"


def uninstall(client: Cluster, pipeline_id: str, template_name: str) -> List[str]:
    """Delete the template and the pipeline (what `install` overwrites; never the user's policy or @custom);
    return the paths that existed."""
    deleted = []
    for path in (template_path(client.server, template_name), f"/_ingest/pipeline/{path_part(pipeline_id)}"):
        try:
            request(client, "DELETE", path)
            deleted.append(path)
        except NotFoundError:
            pass
    return deleted


def _data_stream_parts(client: Cluster, server: Server, template_name: str) -> List[Installed]:
    parts = [
        _create_once(
            client, "lifecycle policy", template_name, f"/_ilm/policy/{path_part(template_name)}", DEFAULT_POLICY
        )
    ]
    if not server.ignore_missing_component_templates:  # the template may not name a component that is missing
        custom = template_name + CUSTOM_SUFFIX
        parts.append(
            _create_once(
                client, "component template", custom, f"/_component_template/{path_part(custom)}", {"template": {}}
            )
        )
    return parts


def _create_once(client: Cluster, kind: str, name: str, path: str, body: Dict[str, Any]) -> Installed:
    try:
        request(client, "GET", path)
        return Installed(kind, name, "kept")
    except NotFoundError:
        request(client, "PUT", path, body)
        return Installed(kind, name, "created")


def _put(client: Cluster, kind: str, name: str, path: str, body: Dict[str, Any]) -> Installed:
    current = _current(client, kind, name, path)
    if current is not None and _contains(current, body):
        return Installed(kind, name, "unchanged")
    request(client, "PUT", path, body)
    return Installed(kind, name, "created" if current is None else "updated")


def _current(client: Cluster, kind: str, name: str, path: str) -> Optional[Dict[str, Any]]:
    try:
        stored = request(client, "GET", path)
    except NotFoundError:
        return None
    if not isinstance(stored, dict):
        return None
    if kind == "pipeline" or "index_templates" not in stored:  # a pipeline, or a legacy template: {name: body}
        return stored.get(name)
    return next((item["index_template"] for item in stored["index_templates"] if item.get("name") == name), None)


def _contains(stored: Any, wanted: Any) -> bool:
    """True when every key we send is stored with the same value (Elasticsearch adds defaults of its own)."""
    if isinstance(wanted, dict):
        return isinstance(stored, dict) and all(
            key in stored and _contains(stored[key], value) for key, value in wanted.items()
        )
    return stored == wanted

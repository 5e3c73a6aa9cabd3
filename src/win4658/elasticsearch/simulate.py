"""`win4658 es simulate`: run events through the cluster's pipeline and compare each result with `to_ecs`."""
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional

from elasticsearch import Elasticsearch

from ..event import Event, Origin, RecordError
from ..normalize import to_ecs
from ..winlogbeat import to_winlogbeat
from .client import path_part, request
from .compare import differences, without_shipper_fields

BATCH_SIZE = 100


class Simulated(NamedTuple):
    origin: Origin
    document: Optional[Dict[str, Any]]  # what the pipeline output, None when it failed
    error: Optional[str]
    differences: List[str]  # field by field, against to_ecs of the same event


def simulate_documents(client: Elasticsearch, documents: List[Dict[str, Any]], pipeline_id: Optional[str] = None,
                       pipeline: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """The raw `_simulate` results, one per document: ``{"doc": {"_source": …}}`` or ``{"error": …}``.

    Runs the installed pipeline ``pipeline_id``, or the given pipeline body without installing it.
    """
    body: Dict[str, Any] = {"docs": [{"_source": document} for document in documents]}
    if pipeline_id is not None:
        path = f"/_ingest/pipeline/{path_part(pipeline_id)}/_simulate"
    else:
        path, body["pipeline"] = "/_ingest/pipeline/_simulate", pipeline
    return request(client, "POST", path, body)["docs"]


def simulate_events(client: Elasticsearch, results: Iterable[Any], pipeline_id: Optional[str] = None,
                    pipeline: Optional[Dict[str, Any]] = None) -> Iterator[Any]:
    """Each Event as a Simulated result; RecordErrors pass through in place."""
    batch: List[Event] = []
    for result in results:
        if isinstance(result, RecordError):
            yield result
            continue
        batch.append(result)
        if len(batch) == BATCH_SIZE:
            yield from _simulate_batch(client, batch, pipeline_id, pipeline)
            batch = []
    if batch:
        yield from _simulate_batch(client, batch, pipeline_id, pipeline)


def _simulate_batch(client: Elasticsearch, events: List[Event], pipeline_id: Optional[str],
                    pipeline: Optional[Dict[str, Any]]) -> Iterator[Simulated]:
    outputs = simulate_documents(client, [to_winlogbeat(event) for event in events], pipeline_id, pipeline)
    for event, output in zip(events, outputs):
        if "doc" not in output:
            yield Simulated(event.origin, None, error_text(output.get("error")), [])
            continue
        document = output["doc"]["_source"]
        yield Simulated(event.origin, document, None, differences(to_ecs(event), without_shipper_fields(document)))


def error_text(error: Any) -> str:
    """An Elasticsearch error object as one line: 'type: reason (caused by type: reason)'."""
    if not isinstance(error, dict):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    if isinstance(error.get("caused_by"), dict):
        text += f" (caused by {error_text(error['caused_by'])})"
    return text

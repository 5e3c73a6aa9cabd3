"""`win4658 es simulate`: run events through the cluster's pipeline and compare each result with `to_ecs`."""

import glob
import json
import os
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from ..event import Event, Origin, RecordError
from ..normalize import to_ecs
from ..winlogbeat import to_winlogbeat
from .client import Cluster, ServerAnswerError, path_part, request
from .compare import differences, without_shipper_fields

BATCH_SIZE = 100
EXPECTED_SUFFIX = "-expected.json"


class Simulated(NamedTuple):
    origin: Origin
    document: Optional[Dict[str, Any]]  # what the pipeline output, None when it failed
    error: Optional[str]
    differences: List[str]  # field by field, against to_ecs of the same event


def simulate_documents(
    client: Cluster,
    documents: List[Dict[str, Any]],
    pipeline_id: Optional[str] = None,
    pipeline: Optional[Dict[str, Any]] = None,
) -> List[Dict[str, Any]]:
    """The raw `_simulate` results, one per document: ``{"doc": {"_source": …}}`` or ``{"error": …}``.

    Runs the installed pipeline ``pipeline_id``, or the given pipeline body without installing it.
    """
    body: Dict[str, Any] = {"docs": [{"_source": document} for document in documents]}
    if pipeline_id is not None:
        path = f"/_ingest/pipeline/{path_part(pipeline_id)}/_simulate"
    else:
        path, body["pipeline"] = "/_ingest/pipeline/_simulate", pipeline
    answer = request(client, "POST", path, body)
    docs = answer.get("docs") if isinstance(answer, dict) else None
    if not isinstance(docs, list) or len(docs) != len(documents):
        raise ServerAnswerError(f"POST {path}", f"docs list of {len(documents)} results")
    return docs


def simulate_events(
    client: Cluster,
    results: Iterable[Any],
    pipeline_id: Optional[str] = None,
    pipeline: Optional[Dict[str, Any]] = None,
) -> Iterator[Any]:
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


def _simulate_batch(
    client: Cluster, events: List[Event], pipeline_id: Optional[str], pipeline: Optional[Dict[str, Any]]
) -> Iterator[Simulated]:
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


class GoldenCase(NamedTuple):
    """One test-<case>.json of Elastic's pipeline-test format, with its expected documents (None if not written)."""

    path: str
    events: List[Dict[str, Any]]
    expected: Optional[List[Dict[str, Any]]]


def golden_cases(directory: str) -> List[GoldenCase]:
    cases = []
    for path in sorted(glob.glob(os.path.join(directory, "test-*.json"))):
        if path.endswith(EXPECTED_SUFFIX):
            continue
        expected_path = path + EXPECTED_SUFFIX
        expected = _read_json(expected_path)["expected"] if os.path.exists(expected_path) else None
        cases.append(GoldenCase(path, _read_json(path)["events"], expected))
    return cases


def check_golden(
    client: Cluster,
    case: GoldenCase,
    pipeline_id: Optional[str] = None,
    pipeline: Optional[Dict[str, Any]] = None,
    update: bool = False,
) -> List[Tuple[int, List[str]]]:
    """Run a case through the pipeline: (record, differences from its expected document) for each record that
    differs; with ``update`` the pipeline's output becomes the expected file instead."""
    outputs = [
        output["doc"]["_source"] if "doc" in output else {"error": output.get("error")}
        for output in simulate_documents(client, case.events, pipeline_id, pipeline)
    ]
    if update:
        with open(case.path + EXPECTED_SUFFIX, "w", encoding="utf-8") as stream:
            stream.write(json.dumps({"expected": outputs}, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        return []
    expected = case.expected or []
    if len(expected) != len(outputs):
        return [(0, [f"{len(outputs)} documents out, {len(expected)} expected"])]
    compared = [(record, differences(want, got)) for record, (want, got) in enumerate(zip(expected, outputs), 1)]
    return [(record, lines) for record, lines in compared if lines]


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)

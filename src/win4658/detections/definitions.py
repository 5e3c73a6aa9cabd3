"""The detection definitions: `detections/*.yml` in a checkout, bundled into the package as one JSON file.

`win4658 generate` validates each YAML file against `detections/detection.schema.json` and writes the
bundle (`bundle.json` beside this module), so an installed win4658 hunts with exactly the definitions the
Splunk, Kibana and Sigma files were generated from.
"""

import csv
import glob
import io
import json
import os
from importlib import resources
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

import yaml

BUNDLE_PATH = str(resources.files("win4658.detections") / "bundle.json")
SCHEMA_NAME = "detection.schema.json"
SEVERITIES = ("critical", "high", "medium", "low")  # triage order: the most severe first
# A condition's operator compares its field with the detection's list (the list's last column; the first column is
# matched against the ``by`` field). Each backend renders every operator (engine, splunk, kibana, sigma).
OPERATORS = {
    "path_in": "the field matches one of the path patterns",
    "contains_any": "the field contains one of the substrings, ignoring case",
    "path_in_for_host": "for one row, the `by` field matches the host pattern and the field the path pattern",
}
# The detections that keep state across events, each with its own code behind the same definition
STATEFUL_KINDS = ("handle_trace", "handle_lifetime")


class DefinitionError(ValueError):
    """A detection definition or a user's list file is wrong."""


class DetectionList(NamedTuple):
    """A user-editable list: the Splunk lookup `<name>.csv` and the `win4658 hunt --<option> CSV` file."""

    name: str
    columns: List[str]
    rows: List[List[str]]

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> List[str]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    @property
    def compared(self) -> List[str]:
        """The values a condition compares its field with: the last column."""
        return self.column(self.columns[-1])

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buffer.getvalue()

    def replaced_from(self, path: str) -> "DetectionList":
        """The same list with the rows of a user's CSV file (same header), e.g. a learned allow-list."""
        return self._replace(rows=read_csv_rows(path, self.columns))


def read_csv_rows(path: str, columns: List[str]) -> List[List[str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream)
            header = [name.strip() for name in next(reader, [])]
            if header[: len(columns)] != columns:
                raise DefinitionError(f"{path}: the header must be {','.join(columns)} (found {','.join(header)})")
            return [[value.strip() for value in row[: len(columns)]] for row in reader if any(v.strip() for v in row)]
    except OSError as error:
        raise DefinitionError(f"{path}: {error.strerror}") from None


class Condition(NamedTuple):
    """What makes one event a finding: ``field`` (a mapping source, e.g. ``EventData.ProcessName``) is present and
    ``operator`` holds against the list, or does not when ``negate``. ``reason`` says why (``{match}``: the row)."""

    field: str
    operator: str
    reason: str
    negate: bool = False
    by: Optional[str] = None

    def by_field(self) -> str:
        """The field a path_in_for_host condition matches against the list's first column."""
        if self.by is None:
            raise DefinitionError(f"the {self.operator} condition has no `by` field")
        return self.by


def _condition(spec: dict) -> Optional[Condition]:
    if "condition" not in spec:
        if spec.get("kind") not in STATEFUL_KINDS:
            raise DefinitionError(
                f"{spec.get('id')}: kind {spec.get('kind')!r} is none of {', '.join(STATEFUL_KINDS)}"
                " and there is no condition"
            )
        return None
    condition = Condition(**spec["condition"])
    if condition.operator not in OPERATORS:
        raise DefinitionError(
            f"{spec.get('id')}: unknown operator {condition.operator!r} (known: {', '.join(OPERATORS)})"
        )
    if (condition.by is not None) != (condition.operator == "path_in_for_host"):
        raise DefinitionError(f"{spec.get('id')}: `by` goes with path_in_for_host, and only with it")
    if "list" not in spec:
        raise DefinitionError(f"{spec.get('id')}: a condition compares with a list, and there is none")
    return condition


class Detection:
    """One detection definition (a validated `detections/<name>.yml`)."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.id: str = spec["id"]
        self.number: int = spec["number"]
        self.title: str = spec["title"]
        self.condition = _condition(spec)
        self.kind: Optional[str] = spec.get("kind")  # a stateful detection's kind; None for a condition
        self.event_ids = frozenset(spec["event_ids"])
        self.severity: str = spec["severity"]
        self.attack_ids: List[str] = _attack_ids(spec.get("mitre", []))
        # the handle trace is a drill-down on a handle, not an alert: it is listed, never counted as a finding
        self.drilldown = self.kind == "handle_trace"
        list_spec = spec.get("list")
        self.list: Optional[DetectionList] = (
            DetectionList(list_spec["name"], list(list_spec["columns"]), [list(row) for row in list_spec["rows"]])
            if list_spec
            else None
        )

    def condition_and_list(self) -> Tuple[Condition, DetectionList]:
        """What a per-event detection compares: its condition and its list (a stateful detection has neither)."""
        if self.condition is None or self.list is None:
            raise DefinitionError(f"{self.id}: the {self.kind} detection has no condition")
        return self.condition, self.list

    @property
    def parameters(self) -> dict:
        return self.spec.get("parameters", {})

    def __repr__(self) -> str:
        return f"Detection({self.number}, {self.id})"


def _attack_ids(mitre: List[dict]) -> List[str]:
    """The ATT&CK ids of the `mitre` entries, tactics then techniques (the sub-technique where there is one)."""
    tactics = [entry["tactic"]["id"] for entry in mitre]
    techniques = [entry.get("subtechnique", entry["technique"])["id"] for entry in mitre]
    return list(dict.fromkeys(tactics + techniques))


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def load_bundle(path: str = BUNDLE_PATH) -> List[Detection]:
    with open(path, encoding="utf-8") as stream:
        return [Detection(spec) for spec in json.load(stream)["detections"]]


def by_kind(detections: Iterable[Detection]) -> Dict[str, Detection]:
    """The stateful detections by kind."""
    return {detection.kind: detection for detection in detections if detection.kind is not None}


def load_sources(directory: str) -> List[dict]:
    """The YAML definitions of a checkout's `detections/`, validated, in detection-number order."""
    with open(os.path.join(directory, SCHEMA_NAME), encoding="utf-8") as stream:
        schema = json.load(stream)
    specs = []
    for path in sorted(glob.glob(os.path.join(directory, "*.yml"))):
        with open(path, encoding="utf-8") as stream:
            spec = yaml.safe_load(stream)
        _validate(spec, schema, path)
        try:
            Detection(spec)
        except (DefinitionError, TypeError) as error:
            raise DefinitionError(f"{path}: {error}") from None
        specs.append(spec)
    numbers = [spec["number"] for spec in specs]
    if len(set(numbers)) != len(numbers):
        raise DefinitionError(f"{directory}: detection numbers repeat: {sorted(numbers)}")
    return sorted(specs, key=lambda spec: spec["number"])


def _validate(spec: dict, schema: dict, path: str) -> None:
    import jsonschema  # a development dependency: only `win4658 generate` and the tests validate

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(spec), key=lambda error: len(error.path))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(top)"
        raise DefinitionError(f"{path}: {where}: {errors[0].message}")
    if spec.get("list"):
        width = len(spec["list"]["columns"])
        bad = [row for row in spec["list"]["rows"] if len(row) != width]
        if bad:
            raise DefinitionError(f"{path}: list rows must have {width} values: {bad[0]}")


def bundle_text(specs: List[dict]) -> str:
    return json.dumps({"detections": specs}, indent=1, ensure_ascii=False) + "\n"

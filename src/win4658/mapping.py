"""Field mappings as data: load mappings/*.yml and compile each rule into a small function.

A rule names a target field, a source (``System.<Name>``, ``EventData.<Name>`` or ``EventData`` as a
whole) or a constant ``value``, and one transform from a small named set. The same rules are turned into
the Elasticsearch pipeline and the Splunk props by the generators; transforms.py declares each transform
with all its forms; keep the set small.
"""

import os
from typing import Any, Callable, Dict, List, Tuple

import yaml

from .event import Event, TimedEvent
from .rule_compiler import ValueTest, compile_rules
from .times import readable_time
from .transforms import ABSENT_VALUES, TABLE_TRANSFORMS, TRANSFORMS, MappingError
from .windows import MAPPINGS_DIR, SAFE_LOADER, UNIQUE_PER_RECORD, name_tables

TIME_TARGET = "@timestamp"  # a date in the index: a value time_ns cannot read would be rejected there


class Rule:
    """One compiled rule: ``value(event)`` is what it writes to its target, or None."""

    __slots__ = ("target", "path", "spec", "source", "read", "convert")

    def __init__(self, spec: dict, tables: Dict[str, dict]):
        self.spec = spec
        self.target: str = spec["target"]
        self.path: Tuple[str, ...] = tuple(self.target.split(".")) if self.target else ()
        self.source: Tuple[str, str] = ("value", "") if "value" in spec else _section_and_name(spec["source"])
        self.read = _reader(spec)
        self.convert = _converter(spec, tables)

    def value(self, event: Event) -> Any:
        raw = self.read(event)
        if raw is None:
            return None
        try:
            return self.convert(raw)
        except (TypeError, ValueError) as error:
            raise MappingError(
                f"{self.target or 'fields'}: cannot {self.spec.get('transform')} {raw!r} from "
                f"{self.spec.get('source')}: {error}"
            ) from None


def _section_and_name(source: str) -> Tuple[str, str]:
    section, _, name = source.partition(".")
    return section, name


def _reader(spec: dict) -> Callable[[Event], Any]:
    if "value" in spec:
        constant = spec["value"]
        return lambda event: list(constant) if isinstance(constant, list) else constant
    section, name = _section_and_name(spec["source"])
    if not name:
        return lambda event: event.data or None
    if section == "System":
        return lambda event: _present(event.system.get(name))
    return lambda event: _present(event.data.get(name))


def _present(value: Any) -> Any:
    return None if value is None or value in ABSENT_VALUES else value


def _converter(spec: dict, tables: Dict[str, dict]) -> Callable[[Any], Any]:
    name = spec.get("transform", "copy")
    if name in TABLE_TRANSFORMS and spec["table"] not in tables:
        raise MappingError(f"{spec['target']}: unknown table {spec['table']!r}")
    if name not in TRANSFORMS:
        raise MappingError(f"{spec['target']}: unknown transform {name!r}")
    return TRANSFORMS[name].python(spec, tables)


class Mapping:
    """A loaded mapping file: ``apply(event)`` returns the nested document its rules produce."""

    def __init__(self, spec: dict, path: str = "<mapping>"):
        self.spec = spec
        self.path = path
        self.event_ids = frozenset(spec["event_ids"])
        # the Windows event's own name tables (windows.yml), then the mapping's
        self.tables: Dict[str, dict] = {**name_tables(), **spec.get("tables", {})}
        try:
            self.rules: List[Rule] = [Rule(rule, self.tables) for rule in spec["fields"]]
        except KeyError as error:
            raise MappingError(f"{path}: a rule lacks {error}") from None
        # apply(event) → the nested document; the rules compiled into one function when they can be (same result)
        # (the compiled function tests the time itself and hands an unreadable one to the checked rule-by-rule path)
        checked = _checking_time(self.apply_rule_by_rule, self.rules)
        time_test = None
        if checked != self.apply_rule_by_rule:  # != : bound methods
            time_test = ValueTest(TIME_TARGET, readable_time, TimedEvent if _copies_time(self.rules) else None)
        unique = frozenset(("System", name) for name in UNIQUE_PER_RECORD)
        compiled = compile_rules(self.rules, ABSENT_VALUES, checked, time_test, unique)
        self.apply: Callable[[Event], Dict[str, Any]] = compiled or checked

    def apply_rule_by_rule(self, event: Event) -> Dict[str, Any]:
        document: Dict[str, Any] = {}
        for rule in self.rules:
            value = rule.value(event)
            if value is None:
                continue
            if not rule.path:
                document.update(value)
            else:
                _put(document, rule.path, value)
        return document


def _checking_time(apply: Callable[[Event], Dict[str, Any]], rules: List[Rule]) -> Callable[[Event], Dict[str, Any]]:
    """``apply``, raising MappingError when the time it writes is not one time_ns reads (a date field would refuse
    it)."""
    sources = [rule.spec["source"] for rule in rules if rule.target == TIME_TARGET and "source" in rule.spec]
    if not sources:
        return apply

    def checked(event: Event) -> Dict[str, Any]:
        document = apply(event)
        time = document.get(TIME_TARGET)
        if time is not None and not readable_time(time):
            raise MappingError(f"{TIME_TARGET}: cannot read {str(time)[:60]!r} from {sources[0]} as an ISO-8601 time")
        return document

    return checked


def _copies_time(rules: List[Rule]) -> bool:
    """Whether the time written is TimeCreated as it is (a TimedEvent's is proven readable): one rule writes it, a
    copy of System.TimeCreated."""
    writing = [rule for rule in rules if rule.path[:1] == (TIME_TARGET,)]
    return (
        len(writing) == 1
        and writing[0].source == ("System", "TimeCreated")
        and writing[0].spec.get("transform", "copy") == "copy"
    )


def _put(document: Dict[str, Any], path: Tuple[str, ...], value: Any) -> None:
    if len(path) == 1 or path[0] == "@timestamp":
        document[path[0]] = value
        return
    node = document
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def load_mapping(name_or_path: str) -> Mapping:
    """Load ``ecs``/``cim`` from the bundled mappings, or any mapping file by path."""
    path = name_or_path if os.sep in name_or_path else os.path.join(MAPPINGS_DIR, f"{name_or_path}.yml")
    try:
        with open(path, encoding="utf-8") as stream:
            spec = yaml.load(stream, Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"{path}: {error}") from None
    return Mapping(spec, path)


_loaded: Dict[str, Mapping] = {}


def bundled(name: str) -> Mapping:
    """The bundled mapping ``name``, loaded once per process."""
    if name not in _loaded:
        _loaded[name] = load_mapping(name)
    return _loaded[name]


def flatten(document: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """{'a': {'b': 1}} → {'a.b': 1}; lists and scalars are leaves."""
    flat: Dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat

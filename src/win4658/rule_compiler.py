"""A mapping's rules compiled into one Python function, for speed: same document as applying them one by one.

Each source field is read once. The rules converting one source with pure transforms (lookups, to_string,
hex_to_int…) share one memo: a source value maps to the tuple of all their results, the absent values included
(a bounded number of them, so memory stays flat). Each nested object is built as a fresh dict and stored in its
parent after its last rule when it holds anything. That gives the rule-by-rule key order only when each object's
rules are contiguous and no rule writes inside another rule's value, so other mappings are not compiled
(`compile_rules` returns None). On any conversion error the compiled function hands the event to the rule-by-rule
path, which raises the precise MappingError.
"""

from typing import AbstractSet, Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from .event import Event
from .transforms import TRANSFORMS, to_int
from .windows import LARGEST_NUMBER

Apply = Callable[[Event], Dict[str, Any]]
Path = Tuple[str, ...]
READ_EXPRESSIONS = {"System": "system.get({name!r})", "EventData": "data.get({name!r})"}
MEMO_LIMIT = 4096  # remembered source values per source
# Only these are remembered: True == 1 and 1.0 == 1 would otherwise share a memo entry with 1.
REMEMBERED = frozenset({str, int, type(None)})


class ValueTest(NamedTuple):
    """A top-level target whose value must pass ``test``; the events of class ``trusted`` (None: none) are known to
    pass it and are not tested."""

    target: str
    test: Callable[[Any], bool]
    trusted: Optional[type] = None


def compile_rules(
    rules: Sequence[Any],
    absent_values: Tuple[str, ...],
    rule_by_rule: Apply,
    value_test: Optional[ValueTest] = None,
    unique_sources: AbstractSet[Tuple[str, str]] = frozenset(),
) -> Optional[Apply]:
    """``rules`` are mapping.Rule objects; ``rule_by_rule`` is the reference implementation they must equal.
    ``value_test``: a document whose value there fails the test goes to ``rule_by_rule``, which raises the error
    (tested inline: a wrapper around the compiled function would cost a call per event).
    ``unique_sources`` ((section, name)): sources whose value differs in every event, never remembered (a memo of
    them would only miss)."""
    paths = [_path(rule) for rule in rules]
    if not _compilable(paths):
        return None
    namespace: Dict[str, Any] = {"rule_by_rule": rule_by_rule, "REMEMBERED": REMEMBERED, "LARGEST": LARGEST_NUMBER}
    if value_test is not None:
        namespace["value_test"], namespace["trusted"] = value_test.test, value_test.trusted
    sources = _Sources(rules, absent_values, namespace, unique_sources)
    body = list(sources.lines)
    entries = []
    for index, (rule, path) in enumerate(zip(rules, paths)):
        namespace[f"convert_{index}"] = rule.convert
        namespace[f"constant_{index}"] = rule.spec.get("value")
        lines, expression, condition = _rule_value(index, rule, sources)
        body += lines
        if expression:
            entries.append(Entry(path, expression, condition))
    body += _object_lines("document", (), entries, _Names())
    if value_test is not None:
        body += [
            f"tested = document.get({value_test.target!r})",
            "if tested is not None and event.__class__ is not trusted and not value_test(tested):",
            "    return rule_by_rule(event)",
        ]
    source = "\n".join(
        ["def apply(event):", "    system = event.system", "    data = event.data", "    try:"]
        + [f"        {line}" for line in body]
        + ["    except (TypeError, ValueError):", "        return rule_by_rule(event)", "    return document"]
    )
    exec(compile(source, "<compiled mapping>", "exec"), namespace)  # the source is built only from the rules' names
    return namespace["apply"]


def _path(rule: Any) -> Path:
    """Where the rule writes, as mapping._put does: a "@timestamp.x" target is "@timestamp" itself."""
    return rule.path[:1] if rule.path[:1] == ("@timestamp",) else rule.path


def _compilable(paths: List[Path]) -> bool:
    """Objects' rules contiguous, no target inside another's value, top-level merges (target "") last."""
    merges = [index for index, path in enumerate(paths) if not path]
    if merges and merges[0] != len(paths) - len(merges):
        return False
    prefixes = {path[:depth] for path in paths for depth in range(1, len(path))}
    if prefixes & set(paths):
        return False
    for prefix in prefixes:
        inside = [index for index, path in enumerate(paths) if path[: len(prefix)] == prefix]
        if inside[-1] - inside[0] + 1 != len(inside):
            return False
    return True


def _transform(rule: Any) -> str:
    return rule.spec.get("transform", "copy")


def _remembered(rule: Any) -> bool:
    """A conversion worth a memo: of one field (a whole section is no memo key), not a copy, str() (of a text the
    text itself, cheaper than a memo of record numbers) or [value], which are written inline."""
    return _transform(rule) not in ("copy", "as_list") and rule.convert is not str and bool(rule.source[1])


def _fresh(rule: Any) -> bool:
    """A fresh list or dict: remembered, each document gets its own copy (a new container holding the items a
    computed one would hold)."""
    return TRANSFORMS[_transform(rule)].fresh


class _Sources:
    """Lines reading each source once. The results of the rules with a remembered conversion come from the source's
    memo as ``value_I``; ``source_N`` holds the value (None when absent) for the other rules."""

    def __init__(
        self,
        rules: Sequence[Any],
        absent_values: Tuple[str, ...],
        namespace: Dict[str, Any],
        unique_sources: AbstractSet[Tuple[str, str]],
    ):
        self.keys: List[Tuple[str, str]] = []
        self.lines: List[str] = []
        self.remembered: Set[int] = set()  # the rules whose value_I comes from a memo
        for rule in rules:
            if rule.source[0] != "value" and rule.source not in self.keys:
                self.keys.append(rule.source)
        for number, key in enumerate(self.keys):
            using = [index for index, rule in enumerate(rules) if rule.source == key]
            remembered = [] if key in unique_sources else [index for index in using if _remembered(rules[index])]
            if remembered:  # with them, str() is remembered too
                remembered = [index for index in using if _remembered(rules[index]) or rules[index].convert is str]
            self.remembered.update(remembered)
            section, name = key
            self.lines.append(f"raw = {READ_EXPRESSIONS[section].format(name=name)}" if name else "raw = data or None")
            absent = absent_values if name else ()  # EventData as a whole is taken as it is
            if remembered:
                self.lines.append(
                    self._memo_line(
                        number,
                        [rules[index] for index in remembered],
                        remembered,
                        len(using) > len(remembered),
                        absent,
                        namespace,
                    )
                )
            else:
                checks = " or ".join(f"raw == {value!r}" for value in absent)
                self.lines.append(f"source_{number} = " + (f"None if {checks} else raw" if checks else "raw"))

    @staticmethod
    def _memo_line(
        number: int,
        rules: List[Any],
        indexes: List[int],
        keep_source: bool,
        absent_values: Tuple[str, ...],
        namespace: Dict[str, Any],
    ) -> str:
        memo: Dict[Any, Any] = {}
        one_text_lists: Dict[str, Any] = {}
        namespace[f"memo_{number}"], namespace[f"lists_{number}"] = memo, one_text_lists
        converts = [rule.convert for rule in rules]
        namespace[f"group_{number}"] = _group(converts, memo, one_text_lists, absent_values, keep_source)
        names = [f"value_{index}" for index in indexes] + ([f"source_{number}"] if keep_source else [])
        one_text_list = "raw.__class__ is list and len(raw) == 1 and raw[0].__class__ is str"
        return (
            f"{', '.join(names)}, = (raw.__class__ in REMEMBERED and memo_{number}.get(raw))"
            + ("" if keep_source else f" or ({one_text_list} and lists_{number}.get(raw[0]))")
            + f" or group_{number}(raw)"
        )

    def local(self, rule: Any) -> str:
        return f"source_{self.keys.index(rule.source)}"


def _group(
    converts: List[Callable[[Any], Any]],
    memo: Dict[Any, tuple],
    one_text_lists: Dict[str, tuple],
    absent_values: Tuple[str, ...],
    keep_source: bool,
) -> Callable[[Any], tuple]:
    """The function computing (and remembering) one source's results: each remembered rule's value, then the
    source's own value when other rules use it; all None when the value is absent. A list of one text (Winlogbeat's
    rendered keywords) is remembered by its text in a memo of its own, unless the source itself is among the values
    (a list is never shared between documents)."""
    nothing = (None,) * (len(converts) + keep_source)

    def group(raw: Any) -> tuple:
        if raw is None or raw in absent_values:
            values = nothing
        else:
            values = tuple([convert(raw) for convert in converts]) + ((raw,) if keep_source else ())
        if raw.__class__ in REMEMBERED and len(memo) < MEMO_LIMIT:
            memo[raw] = values
        elif (
            not keep_source
            and raw.__class__ is list
            and len(raw) == 1
            and raw[0].__class__ is str
            and len(one_text_lists) < MEMO_LIMIT
        ):
            one_text_lists[raw[0]] = values
        return values

    return group


def _rule_value(index: int, rule: Any, sources: _Sources) -> Tuple[List[str], str, Optional[str]]:
    """Lines computing the rule's value, its expression, and the condition for writing it (None: always)."""
    transform = _transform(rule)
    if rule.source[0] == "value":
        constant = f"list(constant_{index})" if isinstance(rule.spec["value"], list) else f"constant_{index}"
        if transform == "copy":
            return [], ("" if rule.spec["value"] is None else constant), None
        return [f"value_{index} = convert_{index}({constant})"], f"value_{index}", f"value_{index} is not None"
    if index in sources.remembered:
        return [], f"value_{index}.copy()" if _fresh(rule) else f"value_{index}", f"value_{index} is not None"
    local = sources.local(rule)
    if transform == "copy":
        return [], local, f"{local} is not None"
    if transform == "as_list":
        return [], f"[{local}]", f"{local} is not None"
    if rule.convert is str:
        return [], f"({local} if {local}.__class__ is str else str({local}))", f"{local} is not None"
    if rule.convert is to_int:  # a whole number in range is its own value, without the call
        usual = f"{local}.__class__ is int and 0 <= {local} <= LARGEST"
        return (
            [f"value_{index} = None if {local} is None else {local} if {usual} else convert_{index}({local})"],
            f"value_{index}",
            f"value_{index} is not None",
        )
    return (
        [f"value_{index} = None if {local} is None else convert_{index}({local})"],
        f"value_{index}",
        f"value_{index} is not None",
    )


class Entry(NamedTuple):
    """A rule's target, the expression of its value and the condition for writing it (None: always)."""

    path: Path
    expression: str
    condition: Optional[str]


class _Part(NamedTuple):
    """One key of an object being built: a value (``entries`` None), a child object, or (key None) a merge."""

    key: Optional[str]
    entries: Optional[List[Entry]]
    expression: str = ""
    condition: Optional[str] = None


class _Names:
    """Unique local names for the objects being built."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"node_{self.count}"


def _object_lines(local: str, prefix: Path, entries: List[Entry], names: _Names) -> List[str]:
    """Lines building in ``local`` the object at ``prefix`` from its rules' entries (contiguous, in rule order)."""
    parts = _parts(prefix, entries)
    leading = []
    while parts and parts[0].key is not None and parts[0].entries is None and parts[0].condition is None:
        leading.append(f"{parts[0].key!r}: {parts.pop(0).expression}")
    lines = [f"{local} = {{{', '.join(leading)}}}"]
    for part in parts:
        if part.key is None:
            lines += _stored(f"{local}.update({part.expression})", part.condition)
        elif part.entries is None:
            lines += _stored(f"{local}[{part.key!r}] = {part.expression}", part.condition)
        else:
            child = names.next()
            lines += _object_lines(child, prefix + (part.key,), part.entries, names)
            condition = None if any(entry.condition is None for entry in part.entries) else child
            lines += _stored(f"{local}[{part.key!r}] = {child}", condition)
    return lines


def _parts(prefix: Path, entries: List[Entry]) -> List[_Part]:
    """The object's keys in order; a child object of one entry becomes a nested literal value."""
    depth = len(prefix)
    parts: List[_Part] = []
    for entry in entries:
        if len(entry.path) <= depth + 1:
            key = entry.path[depth] if entry.path[depth:] else None
            parts.append(_Part(key, None, entry.expression, entry.condition))
        elif parts and parts[-1].entries is not None and parts[-1].key == entry.path[depth]:
            parts[-1].entries.append(entry)
        else:
            parts.append(_Part(entry.path[depth], [entry]))
    return [
        _nested(part.key, part.entries[0], depth + 1) if part.entries is not None and len(part.entries) == 1 else part
        for part in parts
    ]


def _nested(key: Optional[str], entry: Entry, depth: int) -> _Part:
    """A child object of one entry as a value, e.g. {'thread': {'id': value_27}} under the entry's condition."""
    expression = entry.expression
    for name in reversed(entry.path[depth:]):
        expression = f"{{{name!r}: {expression}}}"
    return _Part(key, None, expression, entry.condition)


def _stored(line: str, condition: Optional[str]) -> List[str]:
    return [line] if condition is None else [f"if {condition}:", f"    {line}"]

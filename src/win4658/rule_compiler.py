"""A mapping's rules compiled into one Python function, for speed: same document as applying them one by one.

Each rule becomes a few straight lines (read the field, skip absent values, convert, store); nested targets are
built through one cached local per intermediate object. Transforms are pure, so each rule remembers what a text or
number converted to (a bounded number of them, so memory stays flat), except the ones that build a fresh list.
On any conversion error the compiled function hands the event to the rule-by-rule path, which raises the precise
MappingError.
"""
from typing import Any, Callable, Dict, List, Sequence, Tuple

from .event import Event

Apply = Callable[[Event], Dict[str, Any]]
READ_EXPRESSIONS = {"System": "system.get({name!r})", "EventData": "data.get({name!r})"}
MEMO_LIMIT = 4096  # remembered conversions per rule
MISSING = object()
# Transforms that build a new list each time: a remembered one would be shared between documents.
FRESH_LISTS = frozenset({"as_list", "lookup_list", "all_fields"})


def remember(memo: Dict[Any, Any], raw: Any, value: Any) -> Any:
    """A lookup returns the table's own value (the same object every time); others return strings or numbers."""
    if len(memo) < MEMO_LIMIT:
        memo[raw] = value
    return value


def compile_rules(rules: Sequence[Any], absent_values: Tuple[str, ...], rule_by_rule: Apply) -> Apply:
    """``rules`` are mapping.Rule objects; ``rule_by_rule`` is the reference implementation they must equal."""
    namespace: Dict[str, Any] = {"rule_by_rule": rule_by_rule, "remember": remember, "MISSING": MISSING,
                                 "ABSENT": absent_values}
    sources = sorted({rule.source for rule in rules if rule.source[0] != "value"}, key=[rule.source for rule in rules].index)
    body: List[str] = [line for number, source in enumerate(sources) for line in _read_lines(f"source_{number}", source)]
    nodes = _Nodes(rules)
    for index, rule in enumerate(rules):
        namespace[f"convert_{index}"] = rule.convert
        namespace[f"constant_{index}"] = rule.spec.get("value")
        namespace[f"memo_{index}"] = {}
        source = f"source_{sources.index(rule.source)}" if rule.source in sources else ""
        body.extend(_rule_lines(index, rule, source, nodes))
    header = ["def apply(event):", "    system = event.system", "    data = event.data", "    document = {}"]
    header.extend(f"    {local} = None" for local in nodes.locals())
    source = "\n".join(header + ["    try:"] + [f"        {line}" for line in body] + [
        "    except (TypeError, ValueError):",
        "        return rule_by_rule(event)",
        "    return document",
    ])
    exec(compile(source, "<compiled mapping>", "exec"), namespace)  # the source is built only from the rules' names
    return namespace["apply"]


def _read_lines(local: str, source: Tuple[str, str]) -> List[str]:
    """Each field is read once, absent values ("" and "-") made None, as mapping._present does."""
    section, name = source
    if not name:
        return [f"{local} = data or None"]
    return [f"{local} = {READ_EXPRESSIONS[section].format(name=name)}", f"if {local} in ABSENT:", f"    {local} = None"]


def _rule_lines(index: int, rule: Any, source: str, nodes: "_Nodes") -> List[str]:
    copy = rule.spec.get("transform", "copy") == "copy"
    if not source:
        constant = f"constant_{index}" if not isinstance(rule.spec["value"], list) else f"list(constant_{index})"
        return [f"value = {constant if copy else f'convert_{index}({constant})'}", *_store(rule.path, nodes, "    ", True)]
    lines = [f"raw = {source}", "if raw is not None:"]
    if copy:
        return lines + ["    value = raw"] + _store(rule.path, nodes, "    ", False)
    if rule.spec["transform"] == "as_list":
        return lines + ["    value = [raw]"] + _store(rule.path, nodes, "    ", False)
    if rule.spec["transform"] in FRESH_LISTS:
        return lines + [f"    value = convert_{index}(raw)", "    if value is not None:"] + _store(rule.path, nodes, "        ", False)
    return lines + [
        "    if raw.__class__ is str or raw.__class__ is int:",
        f"        value = memo_{index}.get(raw, MISSING)",
        "        if value is MISSING:",
        f"            value = remember(memo_{index}, raw, convert_{index}(raw))",
        "    else:",
        f"        value = convert_{index}(raw)",
        "    if value is not None:",
    ] + _store(rule.path, nodes, "        ", False)


def _store(path: Tuple[str, ...], nodes: "_Nodes", indent: str, may_be_none: bool) -> List[str]:
    """Lines writing ``value`` at ``path`` (``()`` merges it into the top level), as mapping._put does."""
    guard = [f"{indent[:-4]}if value is not None:"] if may_be_none else []
    if not path:
        return guard + [f"{indent}document.update(value)"] + [f"{indent}{local} = None" for local in nodes.locals()]
    if len(path) == 1 or path[0] == "@timestamp":
        key, parent = path[0], "document"
    else:
        key, parent = path[-1], None
    lines = guard
    if parent is None:
        lines += nodes.reach(path[:-1], indent)
        parent = nodes.local(path[:-1])
    lines.append(f"{indent}{parent}[{key!r}] = value")
    # a value stored where nested rules also write replaces that object: forget the cached locals below it
    lines += [f"{indent}{local} = None" for local in nodes.locals_under(path)]
    return lines


class _Nodes:
    """The intermediate objects nested targets pass through, each cached in one local variable."""

    def __init__(self, rules: Sequence[Any]):
        self.paths: List[Tuple[str, ...]] = []
        for rule in rules:
            path = rule.path
            if len(path) > 1 and path[0] != "@timestamp":
                for depth in range(1, len(path)):
                    if path[:depth] not in self.paths:
                        self.paths.append(path[:depth])

    def local(self, path: Tuple[str, ...]) -> str:
        return f"node_{self.paths.index(path)}"

    def locals(self) -> List[str]:
        return [self.local(path) for path in self.paths]

    def locals_under(self, path: Tuple[str, ...]) -> List[str]:
        return [self.local(node) for node in self.paths if node[:len(path)] == path]

    def reach(self, path: Tuple[str, ...], indent: str) -> List[str]:
        """Lines that make sure the local of ``path`` holds document[path[0]][path[1]]…, created as needed."""
        lines: List[str] = []
        for depth in range(1, len(path) + 1):
            local = self.local(path[:depth])
            parent = "document" if depth == 1 else self.local(path[:depth - 1])
            lines += [f"{indent}if {local} is None:", f"{indent}    {local} = {parent}.setdefault({path[depth - 1]!r}, {{}})"]
        return lines

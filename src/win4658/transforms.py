"""The mapping transforms, each declared once with every form it takes.

A rule of mappings/*.yml names one transform. Each has its Python conversion (mapping.py applies it and
rule_compiler.py compiles it), whether its values are fresh lists or dicts (never remembered and shared between
documents), the ingest-pipeline processors that do the same in Elasticsearch (elasticsearch/pipeline.py) and the
SPL expression of the add-on's calculated fields (splunk/spl.py; None: no SPL twin). The tests evaluate every form
against the Python one, and check mappings/mapping.schema.json's list of transform names against TRANSFORMS.
"""

import ntpath
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from .quoting import spl_string
from .windows import LARGEST_NUMBER, hex_to_int, in_long_range

# Values that count as absent: Windows writes "-" where a field has no value.
ABSENT_VALUES = ("", "-")
# conf files take backslashes literally; inside an SPL string "\\\\" is the regex \\, one literal backslash
PATH_SEPARATOR_CLASS = "[\\\\\\\\/]"

Convert = Callable[[Any], Any]
Tables = Dict[str, dict]


class MappingError(ValueError):
    """A mapping file is wrong, or an event's value cannot be transformed."""


class Transform(NamedTuple):
    """One transform: ``python(spec, tables)`` is the conversion of a rule, ``ingest(source, target, spec, tables)``
    its ingest processors (paths in Winlogbeat's document), ``spl(spec, field, tables)`` its SPL expression."""

    python: Callable[[dict, Tables], Convert]
    fresh: bool
    ingest: Callable[[str, str, dict, Tables], List[dict]]
    spl: Optional[Callable[[dict, str, Tables], str]]


def to_int(value: Any) -> int:
    number = value if value.__class__ is int else int(value)
    return number if 0 <= number <= LARGEST_NUMBER else in_long_range(number)  # (a call less for the usual number)


def basename(value: Any) -> str:
    """Last component of a Windows path (either separator), the way Elastic's pipeline and Splunk's CIM want it."""
    return ntpath.basename(str(value).rstrip("\\/"))


def _fixed(convert: Convert) -> Callable[[dict, Tables], Convert]:
    return lambda spec, tables: convert


def _table_lookup(spec: dict, tables: Tables) -> Convert:
    """Look a value up by its text; a list (Winlogbeat's rendered keywords) is looked up item by item."""
    by_text = {str(key): value for key, value in tables[spec["table"]].items()}
    keep_unmatched = spec.get("unmatched", "drop") == "keep"
    as_list = spec["transform"] == "lookup_list"

    def one(value: Any) -> Any:
        found = by_text.get(str(value))
        return value if found is None and keep_unmatched else found

    def convert(value: Any) -> Any:
        if isinstance(value, list):
            found = [item for item in map(one, value) if item is not None]
            return (found or None) if as_list else (found[0] if found else None)
        result = one(value)
        return [result] if as_list and result is not None else result

    return convert


def present_fields(data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The all_fields transform: the fields whose value is not absent, in their order (a plain copy when none is)."""
    values = data.values()
    for absent in ABSENT_VALUES:
        if absent in values:
            return {name: value for name, value in data.items() if value not in ABSENT_VALUES} or None
    return dict(data) or None


# --- ingest pipeline ---------------------------------------------------------------------------------------------

# Finds the map holding the last key of a path (a list of keys), or null; shared by the pipeline's scripts.
PAINLESS_PARENT_OF = """Map parentOf(def root, List path) {
  def node = root;
  for (int i = 0; i < path.size() - 1; i++) { node = node instanceof Map ? node.get(path.get(i)) : null; }
  return node instanceof Map ? (Map) node : null;
}
"""

# The twin of _table_lookup: by the value's text; a list (rendered keywords) item by item.
LOOKUP_SCRIPT = (
    PAINLESS_PARENT_OF
    + """Map source = parentOf(ctx, params.source);
def value = source == null ? null : source.get(params.source.get(params.source.size() - 1));
if (value == null) { return; }
List found = new ArrayList();
for (def item : (value instanceof List ? value : [value])) {
  def match = params.table.get(String.valueOf(item));
  if (match == null && params.keep) { match = item; }
  if (match != null) { found.add(match instanceof List ? new ArrayList(match) : match); }
}
String leaf = params.target.get(params.target.size() - 1);
if (found.isEmpty()) {
  Map parent = parentOf(ctx, params.target);
  if (parent != null) { parent.remove(leaf); }
  return;
}
def node = ctx;
for (int i = 0; i < params.target.size() - 1; i++) {
  String key = params.target.get(i);
  if (!(node.get(key) instanceof Map)) { node.put(key, new HashMap()); }
  node = node.get(key);
}
node.put(leaf, params.list ? found : found.get(0));
"""
)


def _ingest_string(source: str, target: str, spec: dict, tables: Tables) -> List[dict]:
    if source == target:
        return (
            [{"convert": {"tag": f"to_string_{target}", "field": target, "type": "string"}}]
            if spec.get("transform") == "to_string"
            else []
        )
    return [{"set": {"tag": f"set_{target}", "field": target, "value": f"{{{{{{{source}}}}}}}"}}]


def _ingest_long(source: str, target: str, spec: dict, tables: Tables) -> List[dict]:
    """Elasticsearch's convert reads "0x…" as hex for long, as hex_to_int does."""
    options = {"tag": f"to_long_{target}", "field": source, "type": "long"}
    return [{"convert": options if source == target else dict(options, target_field=target)}]


def _ingest_basename(source: str, target: str, spec: dict, tables: Tables) -> List[dict]:
    """Like ntpath.basename after stripping trailing separators: the last component, without a drive."""
    return [
        {
            "gsub": {
                "tag": f"trailing_separators_{target}",
                "field": source,
                "target_field": target,
                "pattern": "[\\\\/]+$",
                "replacement": "",
            }
        },
        {"gsub": {"tag": f"basename_{target}", "field": target, "pattern": "^.*[\\\\/]|^[A-Za-z]:", "replacement": ""}},
    ]


def _ingest_lowercase(source: str, target: str, spec: dict, tables: Tables) -> List[dict]:
    options = {"tag": f"lowercase_{target}", "field": source}
    return [{"lowercase": options if source == target else dict(options, target_field=target)}]


def _ingest_as_list(source: str, target: str, spec: dict, tables: Tables) -> List[dict]:
    if source == target:
        raise MappingError(f"{target}: as_list in place has no ingest-pipeline twin")
    return [{"append": {"tag": f"append_{target}", "field": target, "value": [f"{{{{{{{source}}}}}}}"]}}]


def _ingest_lookup(source: str, target: str, spec: dict, tables: Tables) -> List[dict]:
    params = {
        "source": source.split("."),
        "target": target.split("."),
        "table": {str(key): value for key, value in tables[spec["table"]].items()},
        "keep": spec.get("unmatched", "drop") == "keep",
        "list": spec["transform"] == "lookup_list",
    }
    return [{"script": {"tag": f"lookup_{target}", "lang": "painless", "source": LOOKUP_SCRIPT, "params": params}}]


def _ingest_all_fields(source: str, target: str, spec: dict, tables: Tables) -> List[dict]:
    if source != target:
        raise MappingError(f"{target or 'top level'}: all_fields is only generated in place ({source})")
    return []  # the pipeline's drop-absent script already removed the absent entries


# --- SPL ---------------------------------------------------------------------------------------------------------


def _spl_copy(spec: dict, field: str, tables: Tables) -> str:
    return field


def _spl_hex_to_int(spec: dict, field: str, tables: Tables) -> str:
    return f'if(match({field},"^0[xX]"), tonumber(substr({field},3),16), tonumber({field}))'


def _spl_basename(spec: dict, field: str, tables: Tables) -> str:
    trimmed = f'replace({field},"{PATH_SEPARATOR_CLASS}+$","")'
    return f'replace({trimmed},"^.*{PATH_SEPARATOR_CLASS}","")'


def _spl_case(spec: dict, field: str, tables: Tables) -> str:
    branches = [f"{field}=={spl_string(key)}, {spl_string(value)}" for key, value in tables[spec["table"]].items()]
    if spec.get("unmatched", "drop") == "keep":
        branches.append(f"true(), {field}")
    return f"case({', '.join(branches)})"


TRANSFORMS: Dict[str, Transform] = {
    "copy": Transform(_fixed(lambda value: value), False, _ingest_string, _spl_copy),
    "to_string": Transform(_fixed(str), False, _ingest_string, _spl_copy),
    "to_int": Transform(_fixed(to_int), False, _ingest_long, lambda spec, field, tables: f"tonumber({field})"),
    "hex_to_int": Transform(_fixed(hex_to_int), False, _ingest_long, _spl_hex_to_int),
    "basename": Transform(_fixed(basename), False, _ingest_basename, _spl_basename),
    "lowercase": Transform(
        _fixed(lambda value: str(value).lower()),
        False,
        _ingest_lowercase,
        lambda spec, field, tables: f"lower({field})",
    ),
    "as_list": Transform(_fixed(lambda value: [value]), True, _ingest_as_list, None),
    "lookup": Transform(_table_lookup, False, _ingest_lookup, _spl_case),
    "lookup_list": Transform(_table_lookup, True, _ingest_lookup, None),
    "all_fields": Transform(_fixed(present_fields), True, _ingest_all_fields, None),
}
TABLE_TRANSFORMS = frozenset({"lookup", "lookup_list"})

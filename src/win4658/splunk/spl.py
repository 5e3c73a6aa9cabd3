"""The SPL twin of each mapping transform, for the calculated fields (props.conf EVAL-*) of the add-on.

Every expression uses only the functions in SPL_FUNCTIONS; tests evaluate the generated EVALs with a small
evaluator of exactly these functions and compare the result with the Python normalizer.
"""
from typing import Dict, List

from ..mapping import ABSENT_VALUES, Rule
from ..quoting import spl_string

SPL_FUNCTIONS = frozenset({"if", "in", "isnull", "null", "case", "true", "match", "replace", "substr", "tonumber", "lower"})
# conf files take backslashes literally; inside an SPL string "\\\\" is the regex \\, one literal backslash
PATH_SEPARATOR_CLASS = "[\\\\\\\\/]"


class UnsupportedRule(ValueError):
    """A mapping rule whose transform has no SPL twin yet."""


def is_one_of(field: str, values: List[object]) -> str:
    return f"in({field},{','.join(spl_string(value) for value in values)})"


def rule_expression(rule: Rule, field: str, tables: Dict[str, dict]) -> str:
    """The SPL of one rule applied to the extracted field ``field``: null when the field is absent, empty or "-"."""
    transformed = _transform(rule.spec, field, tables)
    absent = "".join(f" OR {field}=={spl_string(value)}" for value in ABSENT_VALUES)
    return f"if(isnull({field}){absent}, null(), {transformed})"


def _transform(spec: dict, field: str, tables: Dict[str, dict]) -> str:
    transform = spec.get("transform", "copy")
    if transform in ("copy", "to_string"):
        return field
    if transform == "to_int":
        return f"tonumber({field})"
    if transform == "hex_to_int":
        return f'if(match({field},"^0[xX]"), tonumber(substr({field},3),16), tonumber({field}))'
    if transform == "basename":
        trimmed = f'replace({field},"{PATH_SEPARATOR_CLASS}+$","")'
        return f'replace({trimmed},"^.*{PATH_SEPARATOR_CLASS}","")'
    if transform == "lowercase":
        return f"lower({field})"
    if transform == "lookup":
        return _case(spec, field, tables[spec["table"]])
    raise UnsupportedRule(f"{spec['target']}: transform {transform!r} has no SPL twin")


def _case(spec: dict, field: str, table: Dict[object, object]) -> str:
    branches = [f"{field}=={spl_string(key)}, {spl_string(value)}" for key, value in table.items()]
    if spec.get("unmatched", "drop") == "keep":
        branches.append(f"true(), {field}")
    return f"case({', '.join(branches)})"

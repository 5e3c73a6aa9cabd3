"""The SPL twin of each mapping transform, for the calculated fields (props.conf EVAL-*) of the add-on.

The expressions are declared with the transforms (transforms.TRANSFORMS). Every one uses only the functions in
SPL_FUNCTIONS; tests evaluate the generated EVALs with a small evaluator of exactly these functions and compare the
result with the Python normalizer.
"""

from typing import Dict, Sequence

from ..mapping import ABSENT_VALUES, Rule
from ..quoting import spl_string
from ..transforms import TRANSFORMS

SPL_FUNCTIONS = frozenset(
    {"if", "in", "isnull", "null", "case", "true", "match", "replace", "substr", "tonumber", "lower"}
)


class UnsupportedRule(ValueError):
    """A mapping rule whose transform has no SPL twin yet."""


def is_one_of(field: str, values: Sequence[object]) -> str:
    return f"in({field},{','.join(spl_string(value) for value in values)})"


def rule_expression(rule: Rule, field: str, tables: Dict[str, dict]) -> str:
    """The SPL of one rule applied to the extracted field ``field``: null when the field is absent, empty or "-"."""
    transformed = _transform(rule.spec, field, tables)
    absent = "".join(f" OR {field}=={spl_string(value)}" for value in ABSENT_VALUES)
    return f"if(isnull({field}){absent}, null(), {transformed})"


def _transform(spec: dict, field: str, tables: Dict[str, dict]) -> str:
    transform = spec.get("transform", "copy")
    spl = TRANSFORMS[transform].spl if transform in TRANSFORMS else None
    if spl is None:
        raise UnsupportedRule(f"{spec['target']}: transform {transform!r} has no SPL twin")
    return spl(spec, field, tables)

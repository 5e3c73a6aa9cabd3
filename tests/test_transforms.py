"""transforms.TRANSFORMS is the one list of mapping transforms: the mapping schema names exactly these."""

import json
import os

from win4658.mapping import MAPPINGS_DIR
from win4658.transforms import TABLE_TRANSFORMS, TRANSFORMS


def _rule_schema() -> dict:
    with open(os.path.join(MAPPINGS_DIR, "mapping.schema.json"), encoding="utf-8") as stream:
        return json.load(stream)["$defs"]["rule"]


def test_the_schema_names_exactly_the_registered_transforms_in_their_order():
    assert _rule_schema()["properties"]["transform"]["enum"] == list(TRANSFORMS)


def test_the_schema_asks_a_table_of_exactly_the_table_transforms():
    table_rule = _rule_schema()["allOf"][0]
    assert table_rule["then"] == {"required": ["table"]}
    assert set(table_rule["if"]["properties"]["transform"]["enum"]) == TABLE_TRANSFORMS

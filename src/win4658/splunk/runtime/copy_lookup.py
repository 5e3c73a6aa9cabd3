"""External lookup win4658_copy: each row's ``value`` column copied into its ``copy`` column.

Splunk runs lookups after every calculated field (EVAL), and a LOOKUP with OUTPUT overwrites its output fields
on each event that has the match field (events without it are left alone). So ``EVAL-win4658_<field>`` computes
our value for our event codes only, and ``LOOKUP-win4658_<field> = win4658_copy value AS win4658_<field> OUTPUT
copy AS <field>`` puts it in place of what another add-on's EVAL of the same field gave, without touching any
other event. The protocol is Splunk's for external lookups: a CSV with a header of the ``fields_list`` columns on
stdin, the same CSV with the output columns filled on stdout. Standard library only: it runs in Splunk's Python.
"""

import csv
from typing import TextIO

INPUT_COLUMN = "value"
OUTPUT_COLUMN = "copy"


def copy_rows(rows_in: TextIO, rows_out: TextIO) -> int:
    """Copy every row's input column into its output column; returns the number of rows written."""
    reader = csv.DictReader(rows_in)
    columns = list(reader.fieldnames or [INPUT_COLUMN])
    if OUTPUT_COLUMN not in columns:
        columns.append(OUTPUT_COLUMN)
    writer = csv.DictWriter(rows_out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    written = 0
    for row in reader:
        row[OUTPUT_COLUMN] = row.get(INPUT_COLUMN) or ""
        writer.writerow(row)
        written += 1
    return written

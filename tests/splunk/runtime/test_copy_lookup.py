"""The external lookup win4658_copy, run from the package the way splunkd runs it, under Splunk's Pythons."""

import csv
import io
import os
import subprocess

from tests.support.splunkd import packaged_conf

ROWS = [
    ("3824", ""),
    ("C:\\Windows\\explorer.exe", ""),
    ('a "quoted", comma', ""),
    ("Zürich – ∑", "stale"),
    ("line\nbreak", ""),
    ("", ""),
]


def _csv(rows, header=("value", "copy")):
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return output.getvalue()


def _run(python, app_dir, stdin):
    script = os.path.join(app_dir, "bin", "win4658_copy.py")
    result = subprocess.run(
        [python, script], input=stdin.encode("utf-8"), capture_output=True, cwd=os.path.join(app_dir, "bin"), timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    return list(csv.reader(io.StringIO(result.stdout.decode("utf-8"))))


def test_each_row_comes_back_with_its_value_copied(python, app_dir):
    rows = _run(python, app_dir, _csv(ROWS))
    assert rows == [["value", "copy"]] + [[value, value] for value, _old in ROWS]


def test_columns_keep_the_order_splunk_sent(python, app_dir):
    rows = _run(python, app_dir, _csv([("", "0xef0")], header=("copy", "value")))
    assert rows == [["copy", "value"], ["0xef0", "0xef0"]]


def test_no_rows_gives_just_the_header(python, app_dir):
    assert _run(python, app_dir, "value,copy\n") == [["value", "copy"]]


def test_lookup_definition_points_at_the_packaged_script(package):
    transforms = packaged_conf(package, "default/transforms.conf")
    assert transforms.get("win4658_copy", "external_cmd") == "win4658_copy.py"
    assert transforms.get("win4658_copy", "fields_list") == "value, copy"
    assert transforms.get("win4658_copy", "python.version") == "python3"
    assert transforms.get("win4658_copy", "python.required") == "3.9, 3.13"
    props = packaged_conf(package, "default/props.conf")
    lookups = [
        value for attribute, value in props.items("source::*WinEventLog:Security") if value.startswith("win4658_copy ")
    ]
    assert len(lookups) == 8

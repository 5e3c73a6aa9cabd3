"""hunt's whole output pinned on the corpus (tests/snapshots/) and on sampled JSON-lines, so a speed change cannot
change a finding; and the fast time conversions hunt uses equal the general ones."""

import json
import os
import sys
from calendar import timegm
from time import gmtime

import pytest

from tests.support.paths import CORPUS_DIR, ROOT, corpus_inputs, corpus_path
from win4658.cli import main
from win4658.times import _any_time_ns, format_ns, time_ns

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import datagen  # noqa: E402

# The handle trace (detection 5) is a drill-down, counted apart from the findings.
CORPUS_RUNS = [
    (
        [],
        "hunt_corpus_default.ndjson.gz",
        {
            "win4658_unexpected_process": 1171,
            "win4658_process_outside_standard_folders": 217,
            "win4658_process_in_restricted_folder": 8,
            "win4658_restricted_substring": 3,
        },
        {"win4658_handle_trace": 2116},
        {
            "late_events": 0,
            "closes": 5419,
            "paired": 2491,
            "unmatched_closes": 2928,
            "opens": 2514,
            "opens_not_counted": 9,
            "opens_discarded_by_reuse": 0,
            "opens_forgotten_over_limit": 0,
            "still_open": 23,
            "accesses": 2134,
        },
    ),
    (
        ["--long-handle", "1", "--reorder-window", "50", "--max-open-handles", "100"],
        "hunt_corpus_long_handle.ndjson.gz",
        {
            "win4658_unexpected_process": 1171,
            "win4658_process_outside_standard_folders": 217,
            "win4658_process_in_restricted_folder": 8,
            "win4658_restricted_substring": 3,
            "win4658_handle_lifetime": 10,
        },
        {"win4658_handle_trace": 2110},
        {
            "late_events": 9407,
            "closes": 5419,
            "paired": 2486,
            "unmatched_closes": 2933,
            "opens": 2514,
            "opens_not_counted": 9,
            "opens_discarded_by_reuse": 0,
            "opens_forgotten_over_limit": 0,
            "still_open": 28,
            "accesses": 2128,
        },
    ),
]


def _hunt_json(capsys, *argv):
    main(["hunt", "--format", "json", *argv])
    return capsys.readouterr().out


def _summary_counts(out):
    summary = json.loads(out.splitlines()[-1])["summary"]
    lifetime = {name: value for name, value in summary["lifetime"].items() if name != "by_process"}
    return summary["findings"], dict(lifetime, late_events=summary["late_events"])


@pytest.mark.parametrize("options, snapshot_name, findings, drilldowns, lifetime", CORPUS_RUNS)
def test_hunt_output_on_the_corpus_is_pinned(
    capsys, tmp_path, snapshot, options, snapshot_name, findings, drilldowns, lifetime
):
    corpus = CORPUS_DIR
    out = _hunt_json(capsys, *options, *corpus_inputs(tmp_path))
    assert _summary_counts(out) == (findings, lifetime)
    summary = json.loads(out.splitlines()[-1])["summary"]
    assert summary["drilldowns"] == drilldowns
    assert (
        sum(summary["severities"].values())
        == sum(findings.values())
        == len(out.splitlines()) - 1 - sum(drilldowns.values())
    )
    # every byte of every finding and of the summary (with the corpus's own place made neutral)
    snapshot(snapshot_name, out.replace(json.dumps(corpus)[1:-1], "/work/shared/corpus"))


def test_hunt_on_sampled_json_lines_is_pinned(capsys, tmp_path):
    target = str(tmp_path / "sampled.ndjson")
    datagen.write_jsonlines(datagen.sampled_events(datagen.corpus_pool(corpus_path()), 3000), target)
    findings, lifetime = _summary_counts(_hunt_json(capsys, target))
    assert findings == {
        "win4658_unexpected_process": 975,
        "win4658_process_outside_standard_folders": 207,
        "win4658_process_in_restricted_folder": 24,
        "win4658_restricted_substring": 31,
    }
    assert (lifetime["closes"], lifetime["unmatched_closes"], lifetime["opens"]) == (1339, 1339, 586)


ISO_TIMES = [
    "2026-11-02T01:01:00.000001Z",
    "2020-09-17T03:40:04Z",
    "2020-09-17T03:40:04.1234567Z",
    "2020-09-17 03:40:04.5Z",
    "2020-09-17T03:40:04,25Z",
    "2020-09-17T03:40:04.1234567891234Z",
    "1969-12-31T23:59:59.999Z",
    "2020-02-30T00:00:00Z",
    "2020-09-17T25:61:99Z",
    "2020-09-17T03:40:04+02:00",
    "2020-09-17T03:40:04",
    "2020-09-17T03:40:04.Z",
    " 2020-09-17T03:40:04Z",
    "2020-09-17T03:40:04Z ",
    "2020-09-17T03:40:04 Z",
    "２020-09-17T03:40:04Z",
    "2020-13-17T03:40:04Z",
    "2020-09-17T03:4",
    "",
    None,
    20200917,
]


@pytest.mark.parametrize("text", ISO_TIMES)
def test_fast_time_ns_equals_the_general_reading(text):
    for _ in range(2):  # the second time through, the minute comes from the memo
        assert _outcome(time_ns, text) == _outcome(_any_time_ns, text)


def _outcome(function, argument):
    try:
        return "result", function(argument)
    except Exception as error:  # noqa: BLE001 - the very exception is what is compared
        return "error", type(error).__name__, str(error)


@pytest.mark.parametrize(
    "nanoseconds",
    [
        0,
        1,
        999_999_999,
        1_600_000_000_123_456_789,
        -1,
        -1_000_000_001,
        timegm((2020, 2, 29, 23, 59, 59)) * 10**9 + 999_999_000,
        253402300799 * 10**9,
    ],
)
def test_format_ns_equals_formatting_the_whole_time(nanoseconds):
    seconds, remainder = divmod(nanoseconds, 1_000_000_000)
    expected = "%04d-%02d-%02dT%02d:%02d:%02d" % gmtime(seconds)[:6] + f".{remainder // 1000:06d}Z"
    assert format_ns(nanoseconds) == format_ns(nanoseconds) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2020-13-17T03:40:04Z",
        "2020-00-17T03:40:04Z",
        "2020-02-30T00:00:00Z",
        "2020-09-17T24:00:00Z",
        "2020-09-17T03:60:00Z",
        "2020-09-17T03:40:61Z",
        "0000-01-01T00:00:00Z",
        "2020-13-17T03:40:04+02:00",
    ],
)
def test_a_time_that_does_not_exist_is_unreadable_not_an_error(text):
    assert time_ns(text) is None and _any_time_ns(text) is None


def test_leap_second_and_leap_day_are_read():
    assert time_ns("2016-12-31T23:59:60Z") == time_ns("2017-01-01T00:00:00Z")
    assert time_ns("2020-02-29T12:00:00Z") == timegm((2020, 2, 29, 12, 0, 0)) * 10**9

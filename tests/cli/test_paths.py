"""One rule for a path that does not exist, in every command that reads event files, and one for an output that the
run would read back or overwrite, in every command that writes files: a usage error (exit 2) naming the path and
why, before anything is read, written or sent."""

import os
import shutil

import pytest

from tests.support.paths import SAMPLE_XML
from win4658.cli import common, main
from win4658.cli.common import refused_outputs
from win4658.readers import input_files


@pytest.mark.parametrize(
    "command",
    [
        ["convert"],
        ["hunt"],
        ["baseline"],
        ["es", "ship", "--url", "http://127.0.0.1:9"],
        ["es", "simulate", "--url", "http://127.0.0.1:9"],
    ],
)
def test_a_missing_path_is_a_usage_error_named_before_anything_is_read(capsys, tmp_path, command):
    missing = tmp_path / "missing.evtx"
    status = main([*command, SAMPLE_XML, str(missing)])
    captured = capsys.readouterr()
    assert (status, captured.out) == (2, "")
    assert captured.err == f"win4658: {missing}: no such file or directory\n"


OUTPUTS = {  # what writes a file: its options (OUT is the file), what the error calls it
    "convert -o": (["convert", "-o", "OUT"], "the output (-o)"),
    "hunt -o": (["hunt", "-o", "OUT"], "the output (-o)"),
    "hunt --html": (["hunt", "--html", "OUT"], "the HTML report (--html)"),
    "hunt --sessions-out": (["hunt", "--sessions-out", "OUT"], "the sessions file"),
    "baseline -o": (["baseline", "-o", "OUT"], "the output (-o)"),
}
READ_BACK = "an input directory: the run (or a later one) would read it back"


def _events_directory(tmp_path):
    events = tmp_path / "events"
    events.mkdir()
    shutil.copy(SAMPLE_XML, events / "sample.xml")
    return events


def _main(capsys, argv, out):
    status = main([str(out) if word == "OUT" else word for word in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_an_output_inside_an_input_directory_is_refused_before_anything_is_read(capsys, tmp_path, output):
    argv, what = OUTPUTS[output]
    events = _events_directory(tmp_path)
    out = events / "nested" / "out.txt"
    (events / "nested").mkdir()
    status, stdout, err = _main(capsys, [*argv, str(events)], out)
    assert (status, stdout) == (2, "") and not out.exists()
    assert err == f"win4658: {out}: {what} lies inside {events}, {READ_BACK}\n"
    # the same directory reached through a link, and the output over an input file
    link = tmp_path / "link"
    link.symlink_to(events, target_is_directory=True)
    status, _stdout, err = _main(capsys, [*argv, str(link)], out)
    assert status == 2 and err == f"win4658: {out}: {what} lies inside {link}, {READ_BACK}\n"
    original = (events / "sample.xml").read_bytes()
    status, _stdout, err = _main(capsys, [*argv, str(events / "sample.xml")], events / "sample.xml")
    assert status == 2 and err == f"win4658: {events / 'sample.xml'}: {what} would overwrite an input\n"
    assert (events / "sample.xml").read_bytes() == original


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_an_output_beside_an_input_directory_or_a_device_is_written(capsys, tmp_path, output):
    argv, _what = OUTPUTS[output]
    events = _events_directory(tmp_path)
    beside = tmp_path / "events.out"  # the directory's name as a prefix: not inside it
    status, _stdout, _err = _main(capsys, [*argv, str(events)], beside)
    assert status == 0 and beside.stat().st_size > 0
    status, _stdout, _err = _main(capsys, [*argv, str(events)], os.devnull)
    assert status == 0


def test_hunt_names_every_output_it_refuses(capsys, tmp_path):
    events = _events_directory(tmp_path)
    timeline = events / "timeline.csv"
    status, stdout, err = _main(capsys, ["hunt", "--format", "csv", "--sessions", "-o", "OUT", str(events)], timeline)
    assert (status, stdout) == (2, "") and os.listdir(events) == ["sample.xml"]
    assert err == (
        f"win4658: {events / 'timeline.sessions.csv'}: the sessions file lies inside {events}, {READ_BACK}\n"
        f"win4658: {timeline}: the output (-o) lies inside {events}, {READ_BACK}\n"
    )


def test_streams_and_devices_are_never_refused_but_standard_output_is_one_output(capsys, tmp_path):
    events = _events_directory(tmp_path)
    fifo = events / "pipe"  # inside the input directory: the walk skips what is no regular file
    os.mkfifo(fifo)
    streams = [("-", "a"), ("/dev/stdout", "b"), (os.devnull, "c"), (os.devnull, "d"), (str(fifo), "e"), (None, "f")]
    assert refused_outputs(streams, [str(events)]) == [] and capsys.readouterr().err == ""
    assert refused_outputs([("-", "the output (-o)"), ("-", "the sessions file")], [str(events)]) == [
        "-: the output (-o) cannot also be the sessions file"
    ]


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_an_output_an_input_directory_links_to_is_refused(capsys, tmp_path, output):
    """The walk lists a link to a file as a file: the output, reached through a link inside an input directory,
    would be read back; so would a hard link to it, inside the directory or given as an input."""
    argv, what = OUTPUTS[output]
    events = _events_directory(tmp_path)
    out = tmp_path / "elsewhere" / "out.txt"
    out.parent.mkdir()
    link = events / "deeper" / "link.txt"
    link.parent.mkdir()
    link.symlink_to(out)  # dangling: the run would write the file it points at
    status, stdout, err = _main(capsys, [*argv, str(events)], out)
    assert (status, stdout) == (2, "") and not out.exists()
    assert err == f"win4658: {out}: {what} is also {link}, inside {events}, {READ_BACK}\n"
    out.write_text("kept")
    status, _stdout, err = _main(capsys, [*argv, str(events)], out)
    assert status == 2 and err == f"win4658: {out}: {what} is also {link}, inside {events}, {READ_BACK}\n"
    link.unlink()
    hard_link = events / "hard.txt"
    os.link(out, hard_link)
    status, _stdout, err = _main(capsys, [*argv, str(events)], out)
    assert status == 2 and err == f"win4658: {out}: {what} is also {hard_link}, inside {events}, {READ_BACK}\n"
    status, _stdout, err = _main(capsys, [*argv, str(events / "sample.xml"), str(hard_link)], out)
    assert status == 2 and err == f"win4658: {out}: {what} would overwrite an input\n"
    assert out.read_text() == "kept"


def test_a_link_inside_an_input_directory_to_another_file_does_not_refuse_the_output(capsys, tmp_path):
    events = _events_directory(tmp_path)
    (events / "link.xml").symlink_to(SAMPLE_XML)
    out = tmp_path / "out.ndjson"
    status, _stdout, _err = _main(capsys, ["convert", "-o", "OUT", str(events)], out)
    assert status == 0 and out.stat().st_size > 0


def test_every_output_is_checked_in_one_walk_of_each_input_directory(capsys, tmp_path, monkeypatch):
    walks = []
    monkeypatch.setattr(common, "input_files", lambda paths: walks.append(paths) or input_files(paths))
    events = _events_directory(tmp_path)
    outputs = [(str(tmp_path / name), f"output {name}") for name in ("a.json", "b.html", "c.csv")]
    for path, _what in outputs[:2]:
        (events / f"link-to-{os.path.basename(path)}").symlink_to(path)
    other = tmp_path / "other"
    other.mkdir()
    assert refused_outputs(outputs, [str(events), str(other)]) == [
        f"{path}: {what} is also {events / f'link-to-{os.path.basename(path)}'}, inside {events}, {READ_BACK}"
        for path, what in outputs[:2]
    ]
    assert walks == [[str(events)], [str(other)]]

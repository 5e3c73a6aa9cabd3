"""One rule for a path that does not exist, in every command that reads event files: a usage error (exit 2) naming
the path, before anything is read, written or sent."""

import pytest

from tests.support.paths import SAMPLE_XML
from win4658.cli import main


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

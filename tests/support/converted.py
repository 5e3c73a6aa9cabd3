"""What `win4658 convert` writes, run in-process, for tests that compare another output with it."""

import json

from win4658.cli import main


def converted_sessions(tmp_path, *paths):
    """The ECS documents of `win4658 convert --to sessions`, and its output's bytes."""
    output = tmp_path / "converted.ndjson"
    assert main(["convert", "--to", "sessions", "-o", str(output), *paths]) in (0, 1)
    data = output.read_bytes()
    return [json.loads(line) for line in data.splitlines()], data

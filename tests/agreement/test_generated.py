"""Every committed generated file equals what its source generates now; generated.txt lists exactly them, and no
file an artifact's pattern covers is left over from an earlier generation."""

import os
import shutil
from fnmatch import fnmatchcase

import pytest

from tests.support.paths import ROOT
from win4658 import generate
from win4658.artifacts import ARTIFACTS, Artifact
from win4658.generate import MANIFEST, GenerationError, changes, committed_manifest, generated_files
from win4658.sources import READS, Sources

GENERATED = generated_files(ROOT)
PATTERNS = [artifact.path for artifact in ARTIFACTS if "*" in artifact.path]


def _committed(relative: str) -> str:
    path = os.path.join(ROOT, relative)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", newline="") as stream:
        return stream.read()


def _files_matching(root: str, pattern: str):
    folder = os.path.dirname(pattern.split("*")[0])
    for parent, _folders, names in os.walk(os.path.join(root, folder)):
        for name in names:
            relative = os.path.relpath(os.path.join(parent, name), root).replace(os.sep, "/")
            if fnmatchcase(relative, pattern):
                yield relative


@pytest.mark.parametrize("relative", sorted(GENERATED))
def test_committed_file_matches_its_source(relative):
    assert _committed(relative) == GENERATED[relative], f"{relative} drifted: run `win4658 generate`"


def test_the_manifest_lists_every_generated_file_and_only_them():
    assert committed_manifest(ROOT) == sorted(set(GENERATED) - {MANIFEST})
    assert changes(ROOT).leftovers == []


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_file_of_a_pattern_is_generated(pattern):
    committed = list(_files_matching(ROOT, pattern))
    assert committed and [relative for relative in committed if relative not in GENERATED] == []


def test_a_file_no_longer_generated_is_reported_then_removed(tmp_path):
    for relative in READS:  # generation needs only these sources beside the installed package
        source, copy = os.path.join(ROOT, relative), tmp_path / relative
        if os.path.isdir(source):
            shutil.copytree(source, copy)
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, copy)
    generate.write_all(str(tmp_path))
    assert generated_files(str(tmp_path)) == GENERATED and changes(str(tmp_path)) == ({}, [])
    gone = "detections/generated/sigma/win4658_gone.yml"
    (tmp_path / gone).write_text("title: a rule whose detection was deleted\n")
    with open(tmp_path / MANIFEST, "a", encoding="utf-8") as manifest:
        manifest.write(f"{gone}\n")
    assert changes(str(tmp_path)) == ({MANIFEST: GENERATED[MANIFEST]}, [gone])
    assert generate.write_all(str(tmp_path)).leftovers == [gone]
    assert not (tmp_path / gone).exists() and changes(str(tmp_path)) == ({}, [])


def test_a_file_outside_its_artifacts_pattern_is_refused():
    stray = Artifact("detections/generated/sigma/*.yml", lambda _sources: {"detections/generated/stray.yml": ""})
    with pytest.raises(
        GenerationError,
        match="^detections/generated/stray.yml: rendered by the artifact "
        "detections/generated/sigma/\\*.yml, outside its pattern$",
    ):
        generate.rendered(stray, Sources(ROOT))


def test_a_file_rendered_by_two_artifacts_is_refused(monkeypatch):
    second_owner = Artifact("addon/default/*.conf", lambda _sources: {"addon/default/tags.conf": ""})
    monkeypatch.setattr(generate, "ARTIFACTS", ARTIFACTS + [second_owner])
    with pytest.raises(
        GenerationError,
        match="^addon/default/tags.conf: rendered by two artifacts \\(the second: addon/default/\\*.conf\\)$",
    ):
        generated_files(ROOT)

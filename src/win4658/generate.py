"""Generated files: every artifact of win4658.artifacts, rendered from the checkout's Sources.

Besides the artifacts, generation writes MANIFEST, the list of every generated path: a file that stops being
generated is then known, reported by `win4658 generate --check` and removed by `win4658 generate`, and
tests/agreement/test_generated.py fails on any drift.
"""

import os
from fnmatch import fnmatchcase
from typing import Dict, List, NamedTuple, Optional

from .artifacts import ARTIFACTS, Artifact
from .sources import Sources

MANIFEST = "generated.txt"


class GenerationError(RuntimeError):
    """The artifact list is wrong: a file rendered outside its artifact's pattern, or by two artifacts."""


def rendered(artifact: Artifact, sources: Sources) -> Dict[str, str]:
    """The files of one artifact by path, each checked against the artifact's path or pattern."""
    output = artifact.render(sources)
    files = {artifact.path: output} if isinstance(output, str) else output
    for relative in files:
        if not fnmatchcase(relative, artifact.path):
            raise GenerationError(f"{relative}: rendered by the artifact {artifact.path}, outside its pattern")
    return files


def generated_files(root: str) -> Dict[str, str]:
    """Every generated file of the checkout at root, by its path relative to root, the manifest included."""
    sources = Sources(root)
    files: Dict[str, str] = {}
    for artifact in ARTIFACTS:
        for relative, text in rendered(artifact, sources).items():
            if relative in files:
                raise GenerationError(f"{relative}: rendered by two artifacts (the second: {artifact.path})")
            files[relative] = text
    files[MANIFEST] = "".join(f"{relative}\n" for relative in sorted(files))
    return files


def committed_manifest(root: str) -> List[str]:
    """The paths the checkout's MANIFEST lists: what the last generation wrote."""
    try:
        with open(os.path.join(root, MANIFEST), encoding="utf-8") as stream:
            return stream.read().splitlines()
    except FileNotFoundError:
        return []


class Changes(NamedTuple):
    stale: Dict[str, str]  # generated files whose committed copy differs from what the sources give now, new text
    leftovers: List[str]  # files the committed MANIFEST lists that are no longer generated but still exist


def changes(root: str) -> Changes:
    """What `win4658 generate` would change under root."""
    generated = generated_files(root)
    stale = {relative: text for relative, text in sorted(generated.items()) if _committed(root, relative) != text}
    leftovers = [
        relative
        for relative in committed_manifest(root)
        if relative not in generated and os.path.exists(os.path.join(root, relative))
    ]
    return Changes(stale, leftovers)


def _committed(root: str, relative: str) -> Optional[str]:
    path = os.path.join(root, relative)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", newline="") as stream:
        return stream.read()


def write_all(root: str) -> Changes:
    """Write every stale generated file under root and remove the leftovers; return what changed."""
    pending = changes(root)
    for relative in pending.leftovers:
        os.remove(os.path.join(root, relative))
    for relative, text in pending.stale.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
    return pending

"""Build TA-win4658-<version>.tgz: addon/ plus the Python it needs, vendored under lib/.

Vendored: the win4658 modules of SHIPPED_MODULES (what addon/bin/*.py import, and what those import in turn: the
CLI and the build-time modules stay out), win4658's mapping files, splunklib, and PyYAML's pure-Python package.
orjson is left out (the readers fall back to json). evtx is compiled: only the wheels passed as ``evtx_wheels`` go in
(evtx 0.8.9's cp37-abi3 wheels load on Python 3.9 and 3.13; the Linux .so and the Windows .pyd sit side by side
in lib/evtx/). Without them, the input logs each EVTX file as unreadable and XML / JSON-lines keep working.
"""

import gzip
import io
import os
import tarfile
import zipfile
from importlib import resources
from typing import Any, Dict, Iterator, List, Sequence, Tuple

from .. import __version__
from .app import APP_ID

ADDON_DIR = str(resources.files("win4658") / "addon")  # a checkout's addon/, installed as package data
# What runs inside Splunk: the modules addon/bin/*.py import (win4658.splunk.runtime) and every win4658 module they
# import in turn, packages with their __init__ (tests/splunk/runtime/test_shipped_modules.py pins it: it is exactly
# their import set).
SHIPPED_MODULES = (
    "win4658",
    "win4658.event",
    "win4658.times",
    "win4658.windows",
    "win4658.readers",
    "win4658.readers.classic",
    "win4658.readers.evtx",
    "win4658.readers.evtx_file",
    "win4658.readers.jsonlines",
    "win4658.readers.jsonlines_fast",
    "win4658.readers.scan",
    "win4658.readers.xml",
    "win4658.readers.xml_plain",
    "win4658.splunk",
    "win4658.splunk.runtime",
    "win4658.splunk.runtime.checkpoint",
    "win4658.splunk.runtime.copy_lookup",
    "win4658.splunk.runtime.modinput",
    "win4658.splunk.runtime.original",
    "win4658.splunk.runtime.parameters",
    "win4658.splunk.runtime.render",
)
WHOLE_PACKAGES = ("splunklib", "yaml")
PACKAGE_DATA = ("mappings",)
ARCHIVE_MTIME = 1700000000
EXCLUDED_DIRS = frozenset({"local", "lib", "__pycache__"})


NO_EVTX_WARNING = (
    "WARNING: no evtx wheel vendored: this package CANNOT READ EVTX FILES.\n"
    "Its input will log every .evtx file as unreadable at ERROR (XML and JSON-lines files are read).\n"
    "Vendor evtx 0.8.9 for each platform you run with --evtx-wheel (README.md, 'Build the package')."
)


class PackageError(RuntimeError):
    """The add-on cannot be packaged (no addon/ folder, a vendored library is missing)."""


def package_name() -> str:
    return f"{APP_ID}-{__version__}.tgz"


def build_package(output_dir: str, addon_dir: str = ADDON_DIR, evtx_wheels: Sequence[str] = ()) -> str:
    """Write the package into output_dir and return its path."""
    if not os.path.isdir(os.path.join(addon_dir, "default")):
        raise PackageError(
            f"{addon_dir}: no add-on here (it needs default/): pass the addon folder of a win4658 checkout"
        )
    contents: Dict[str, bytes] = {}
    for relative, path in [*addon_files(addon_dir), *vendored_files().items()]:
        with open(path, "rb") as stream:
            contents[relative] = stream.read()
    for wheel in evtx_wheels:
        contents.update(evtx_from_wheel(wheel))
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, package_name())
    # gzip's header holds a time and a file name: both fixed, so that two builds of one tree are byte-identical
    with open(path, "wb") as output, gzip.GzipFile(filename="", mode="wb", fileobj=output, mtime=ARCHIVE_MTIME) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for directory in _directories(contents):
                archive.addfile(_info(directory, tarfile.DIRTYPE, 0o755, 0))
            for relative in sorted(contents):
                data = contents[relative]
                archive.addfile(_info(relative, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return path


def evtx_from_wheel(wheel: str) -> Dict[str, bytes]:
    """lib/evtx/* from an evtx wheel (pip download evtx==0.8.9 --no-deps --only-binary :all: --platform …)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            files = {
                f"lib/{name}": archive.read(name)
                for name in archive.namelist()
                if name.startswith("evtx/") and not name.endswith("/")
            }
    except (OSError, zipfile.BadZipFile) as error:
        raise PackageError(f"{wheel}: not a readable wheel: {error}") from None
    if not any(name.endswith((".so", ".pyd")) for name in files):
        raise PackageError(f"{wheel}: no compiled evtx module inside: is it an evtx wheel?")
    return files


def extract_package(package: str, destination: str) -> str:
    """Unpack a package (as `splunk install app` does) and return the app folder."""
    with tarfile.open(package, "r:gz") as archive:
        for member in archive.getmembers():
            if member.name.startswith(("/", "..")) or ".." in member.name.split("/"):
                raise PackageError(f"{package}: unsafe member {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
        else:
            archive.extractall(destination)  # members checked above
    return os.path.join(destination, APP_ID)


def addon_files(addon_dir: str) -> Iterator[Tuple[str, str]]:
    """(path in the app, path on disk) of addon/, without local/, dotfiles and compiled Python."""
    for root, folders, names in os.walk(addon_dir):
        folders[:] = sorted(name for name in folders if name not in EXCLUDED_DIRS and not name.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(root, name)
            yield os.path.relpath(path, addon_dir).replace(os.sep, "/"), path


def vendored_files() -> Dict[str, str]:
    """lib/<module path> → source file for SHIPPED_MODULES, their package data and the WHOLE_PACKAGES."""
    files = {_lib_path(name, source): source for name, source in _shipped_sources()}
    for top in WHOLE_PACKAGES:
        files.update(_package_tree(top))
    files.update(_win4658_data())
    return files


def _shipped_sources() -> Iterator[Tuple[str, str]]:
    import win4658

    source_root = os.path.dirname(os.path.dirname(win4658.__file__))
    for name in SHIPPED_MODULES:
        path = os.path.join(source_root, *name.split("."))
        yield name, os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"


def _lib_path(name: str, source: str) -> str:
    parts = name.split(".")
    if os.path.basename(source) == "__init__.py":
        parts.append("__init__")
    return "lib/" + "/".join(parts) + ".py"


def _package_tree(top: str) -> Dict[str, str]:
    try:
        module: Any = __import__(top)
    except ImportError:
        raise PackageError(f"cannot vendor {top}: pip install 'win4658[splunk]'") from None
    package_dir = os.path.dirname(module.__file__)
    files = {}
    for root, folders, names in os.walk(package_dir):
        folders[:] = [name for name in folders if name != "__pycache__"]
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                files[f"lib/{top}/" + os.path.relpath(path, package_dir).replace(os.sep, "/")] = path
    return files


def _win4658_data() -> Dict[str, str]:
    files = {}
    for folder in PACKAGE_DATA:
        for entry in sorted(resources.files("win4658").joinpath(folder).iterdir(), key=lambda entry: entry.name):
            if not entry.name.startswith(".") and not entry.name.endswith(".py"):
                files[f"lib/win4658/{folder}/{entry.name}"] = str(entry)
    return files


def _directories(members: Dict[str, bytes]) -> List[str]:
    """Every folder of the app, "" being the app folder itself."""
    directories = {""}
    for relative in members:
        parts = relative.split("/")[:-1]
        directories.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return sorted(directories)


def _info(relative: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(f"{APP_ID}/{relative}" if relative else APP_ID)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, ARCHIVE_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info

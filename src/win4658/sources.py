"""The sources of a win4658 checkout that `win4658 generate` reads, each loaded and validated once, when first asked.

Every artifact of win4658.artifacts renders from one Sources; READS names what it reads, so that a copy of the
checkout made for generation (tests/agreement/test_one_yaml_edit.py) cannot leave a source behind.
"""

import glob
import os
from functools import cached_property
from typing import Any, Dict, List

from .detections.definitions import Detection, load_sources
from .detections.fields import FieldNames
from .kibana.dashboards import SOURCE as DASHBOARDS_SOURCE
from .kibana.dashboards import load_source as load_dashboards
from .kibana.dashboards import with_field_names
from .mapping import Mapping, load_mapping
from .sessions.access import ACCESS_RIGHTS_FILE, AccessRights, read_access_rights
from .sessions.fields import SESSION_FIELDS_FILE, ecs_names, read_session_spec, resolved
from .volume import LIST_PATH as NOISY_PROCESSES
from .volume import NoisyProcess, load_list

MAPPINGS_DIR = "mappings"
DETECTIONS_DIR = "detections"
GOLDEN_DIR = "ingest_pipelines/tests"
LICENSE_FILE = "LICENSE"
READS = (MAPPINGS_DIR, DETECTIONS_DIR, DASHBOARDS_SOURCE, NOISY_PROCESSES, GOLDEN_DIR, LICENSE_FILE)


class Sources:
    """The checkout at root, as generation reads it."""

    def __init__(self, root: str):
        self.root = root

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    @cached_property
    def ecs(self) -> Mapping:
        return load_mapping(self.path(f"{MAPPINGS_DIR}/ecs.yml"))

    @cached_property
    def cim(self) -> Mapping:
        return load_mapping(self.path(f"{MAPPINGS_DIR}/cim.yml"))

    @cached_property
    def ecs_names(self) -> FieldNames:
        """The ECS name of each field of the Windows event (Kibana rules, Elastic artifacts)."""
        return FieldNames(self.ecs)

    @cached_property
    def cim_names(self) -> FieldNames:
        """The CIM name of each field of the Windows event (Splunk searches and dashboards)."""
        return FieldNames(self.cim)

    @cached_property
    def session_spec(self) -> Dict[str, Any]:
        """mappings/session.yml: the handle session's fields and their ECS and CIM names, those of the fields that
        carry an event field resolved through the checkout's mappings."""
        return resolved(
            read_session_spec(self.path(f"{MAPPINGS_DIR}/{SESSION_FIELDS_FILE}")),
            {"ecs": self.ecs_names, "cim": self.cim_names},
        )

    @cached_property
    def access_rights(self) -> AccessRights:
        """mappings/access_rights.yml: the names of an AccessMask's bits, by object type."""
        return read_access_rights(self.path(f"{MAPPINGS_DIR}/{ACCESS_RIGHTS_FILE}"))

    @cached_property
    def detection_specs(self) -> List[dict]:
        """detections/*.yml, validated against their schema, in detection-number order."""
        return load_sources(self.path(DETECTIONS_DIR))

    @cached_property
    def detections(self) -> List[Detection]:
        return [Detection(spec) for spec in self.detection_specs]

    @cached_property
    def dashboards(self) -> Dict[str, Any]:
        """dashboards/win4658.yml: the Kibana data views, searches, visualizations and dashboards; the session panels'
        fields under their ECS names in session.yml."""
        spec = self.session_spec
        return with_field_names(load_dashboards(self.root, self.ecs_names), {spec["schema"]: ecs_names(spec)})

    @cached_property
    def noisy_processes(self) -> List[NoisyProcess]:
        return load_list(self.path(NOISY_PROCESSES))

    @cached_property
    def goldens(self) -> Dict[str, str]:
        """The golden pipeline cases (inputs and expected documents) by file name."""
        texts = {}
        for path in sorted(glob.glob(os.path.join(self.path(GOLDEN_DIR), "test-*.json"))):
            with open(path, encoding="utf-8") as stream:
                texts[os.path.basename(path)] = stream.read()
        return texts

    @cached_property
    def license(self) -> str:
        """The checkout's licence text (the Elastic package ships it as LICENSE.txt)."""
        with open(self.path(LICENSE_FILE), encoding="utf-8") as stream:
            return stream.read()

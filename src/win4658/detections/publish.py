"""The generator of everything that follows from `detections/*.yml` (registered in win4658.generate).

- `src/win4658/detections/bundle.json`: the definitions an installed `win4658 hunt` runs;
- `addon/lookups/<list>.csv`: the lists users edit (allow-list, folders, substrings);
- `addon/default/savedsearches.conf`, the lookup definitions and the threshold macros (Splunk);
- `detections/generated/kibana_rules.ndjson` (Elastic) and `detections/generated/sigma/*.yml` (Sigma).
"""
import os
from typing import Dict, List

from . import kibana, sigma, splunk
from .definitions import Detection, bundle_text, load_sources

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SOURCES_DIR = os.path.join(REPOSITORY_ROOT, "detections")
BUNDLE = "src/win4658/detections/bundle.json"
LOOKUPS_DIR = "addon/lookups"
KIBANA_RULES = "detections/generated/kibana_rules.ndjson"
SIGMA_DIR = "detections/generated/sigma"


def _detections() -> List[Detection]:
    return [Detection(spec) for spec in load_sources(SOURCES_DIR)]


def generated_files() -> Dict[str, str]:
    specs = load_sources(SOURCES_DIR)
    detections = [Detection(spec) for spec in specs]
    files = {BUNDLE: bundle_text(specs), KIBANA_RULES: kibana.rules_ndjson(detections)}
    files[splunk.SAVEDSEARCHES_CONF] = splunk.savedsearches_conf(detections)
    for detection in detections:
        if detection.list is not None:
            files[f"{LOOKUPS_DIR}/{detection.list.file_name}"] = detection.list.to_csv()
        if "sigma" in detection.spec:
            files[f"{SIGMA_DIR}/{detection.id}.yml"] = sigma.rule_yaml(detection)
    return files


def splunk_macros() -> List[str]:
    return splunk.macros(_detections())


def splunk_transforms() -> List[str]:
    return splunk.lookup_definitions(_detections())

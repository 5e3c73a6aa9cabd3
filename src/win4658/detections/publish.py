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

READS_CHECKOUT = True  # detections/*.yml are read from the checkout being generated (win4658.generate)
SOURCES_DIR = "detections"
BUNDLE = "src/win4658/detections/bundle.json"
LOOKUPS_DIR = "addon/lookups"
KIBANA_RULES = "detections/generated/kibana_rules.ndjson"
SIGMA_DIR = "detections/generated/sigma"


def _specs(root: str) -> List[dict]:
    return load_sources(os.path.join(root, SOURCES_DIR))


def checkout_detections(root: str) -> List[Detection]:
    return [Detection(spec) for spec in _specs(root)]


def generated_files(root: str) -> Dict[str, str]:
    specs = _specs(root)
    detections = [Detection(spec) for spec in specs]
    files = {BUNDLE: bundle_text(specs), KIBANA_RULES: kibana.rules_ndjson(detections)}
    files[splunk.SAVEDSEARCHES_CONF] = splunk.savedsearches_conf(detections)
    for detection in detections:
        if detection.list is not None:
            files[f"{LOOKUPS_DIR}/{detection.list.file_name}"] = detection.list.to_csv()
        if "sigma" in detection.spec:
            files[f"{SIGMA_DIR}/{detection.id}.yml"] = sigma.rule_yaml(detection)
    return files


def splunk_macros(root: str) -> List[str]:
    return splunk.macros(checkout_detections(root))


def splunk_transforms(root: str) -> List[str]:
    return splunk.lookup_definitions(checkout_detections(root))

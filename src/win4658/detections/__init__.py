"""Detections: Microsoft's monitoring recommendations for 4658, defined once in `detections/*.yml`.

`definitions` loads them, `paths` compares Windows paths, `engine` (per event), `lifetime` (handle pairing)
and `hunt` run them locally, `baseline` learns an allow-list, and `splunk`, `kibana`, `sigma` render
each console's version (win4658.artifacts lists the files).
"""

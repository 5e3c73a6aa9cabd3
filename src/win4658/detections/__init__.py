"""Detections: Microsoft's monitoring recommendations for 4658, defined once in `detections/*.yml`.

`definitions` loads them, `paths` compares Windows paths, `engine` (per event), `lifetime` (handle pairing)
and `hunt` run them locally, `baseline` learns an allow-list, and `splunk`, `kibana`, `sigma` generate
each console's version (`publish` is the generator registered in win4658.generate).
"""

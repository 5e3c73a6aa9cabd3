"""Handle sessions: one record per handle, from its 4656 (open) to its 4658 (close), with the 4663 accesses
between, paired by the same HandleTracker as hunt's lifetime detection (detections/lifetime.py).

- ``access``: access masks decoded into Microsoft's names by object type (mappings/access_rights.yml);
- ``record``: a Lifetime as the canonical session record (the field names of mappings/session.yml);
- ``fields``: that record under its ECS or CIM names (mappings/session.yml);
- ``stream``: the sessions of event files, streaming, memory bounded by the open handles.
"""

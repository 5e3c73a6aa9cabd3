"""Helpers the tests share: paths and the corpus (paths), an Elasticsearch wire server (es_wire), an SPL event
selection replayer (spl_search), a call's result or exception (outcome)."""

"""Elasticsearch: the generated ingest pipeline and index template, and the client side of `win4658 es`."""

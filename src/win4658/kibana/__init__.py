"""Kibana: import the generated detection rules and dashboards through Kibana's HTTP API."""

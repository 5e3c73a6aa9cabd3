"""The Splunk side of win4658: search-time knowledge, the modular input, packaging and the REST client."""

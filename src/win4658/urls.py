"""What every server URL setting (Elasticsearch, Kibana, Splunk) is checked for before any connection."""


def check_printable(url: str) -> None:
    """ValueError at the first white-space or control character inside a URL (a pasted line break, a space before
    the port), which the HTTP libraries would otherwise reject deep inside a request, or send."""
    bad = next((character for character in url if character.isspace() or not character.isprintable()), None)
    if bad is not None:
        raise ValueError(f"it holds {bad!r} at position {url.index(bad)}")

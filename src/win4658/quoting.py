"""String literals of the query languages the detections and the add-on are written in."""


def double_quoted(text: object) -> str:
    """A double-quoted string literal with backslashes and double quotes escaped: the same in SPL, EQL and KQL."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


spl_string = double_quoted
eql_string = double_quoted

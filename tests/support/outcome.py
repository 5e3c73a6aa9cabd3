"""What a call gives, for comparing a fast path with its reference: its result serialized, or its very exception."""

import orjson


def outcome(apply, event):
    try:
        return "result", orjson.dumps(apply(event))
    except Exception as error:  # noqa: BLE001 - the very exception is what is compared
        return "error", type(error).__name__, str(error)

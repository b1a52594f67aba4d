"""The JSON request bodies of the API: parsed once, refused by name when unusable.

Two things Python's json module accepts would otherwise reach the views: a
document nested so deeply that parsing (or walking) it overflows the stack
(RecursionError, a 500), and a lone UTF-16 surrogate such as "\\ud800", which
no UTF-8 text can hold (PostgreSQL refuses it with a UnicodeEncodeError, a 500).
Both are the client's input: a 400 that names where it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Every body the API documents nests at most 4 levels (an object of objects of
# lists); 32 leaves room and stays far below Python's recursion limit.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON string, a bracket or a colon: enough to follow the nesting of a document.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:]')


class BodyRefused(ValueError):
    """A JSON body that cannot be used; `field` is where (a path such as `variants[1]`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def load(raw: bytes) -> Any:
    """The JSON document in `raw`; BodyRefused when too deep or holding a lone surrogate.

    json.JSONDecodeError and UnicodeDecodeError pass through, for the parser's
    own "Invalid JSON body." answer.
    """
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BodyRefused(_deep_field(raw), f"Nested more than {MAX_DEPTH} levels deep.") from None
    check(data)
    return data


def _deep_field(raw: bytes) -> str:
    # The parser gave up without saying where: find the top-level key under
    # which the nesting passes MAX_DEPTH, reading strings and brackets only.
    depth, key, last_string = 0, "body", None
    for token in _TOKENS.finditer(raw):
        text = token[0]
        if text.startswith(b'"'):
            last_string = text
        elif text == b":":
            if depth == 1 and last_string is not None:
                key = _key(last_string)
        else:
            depth += 1 if text in b"[{" else -1
            if depth > MAX_DEPTH:
                return key
        if text != b":" and not text.startswith(b'"'):
            last_string = None
    return key


def _key(token: bytes) -> str:
    try:
        name = json.loads(token)
    except ValueError:
        return "body"
    return "body" if _SURROGATE.search(name) else name


def check(data: Any) -> None:
    """Walk `data` without recursion; BodyRefused at the first unusable place."""
    pending: list[tuple[Any, str, int]] = [(data, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BodyRefused(_top(path), f"Nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, str):
            _refuse_surrogate(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _refuse_surrogate(key, path)  # a key's path would hold the surrogate itself
                child = f"{path}.{key}" if path else key
                pending.append((item, child, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def _refuse_surrogate(text: str, path: str) -> None:
    if _SURROGATE.search(text):
        raise BodyRefused(
            path or "body",
            "Contains a lone UTF-16 surrogate (e.g. \\ud800), which is not a character.",
        )


def _top(path: str) -> str:
    # The field a client sent, for a path that may be hundreds of levels long.
    return re.split(r"[.\[]", path, maxsplit=1)[0] or "body"

"""JSON objects with duplicate keys are errors in spec and ticks files, not silent overwrites."""

from __future__ import annotations

from typing import Any

__all__ = ["DuplicateKeyInFileError", "unique_pairs"]


class DuplicateKeyInFileError(ValueError):
    """A JSON object names one key twice (the caller adds the file and line)."""

    def __init__(self, key: object) -> None:
        self.key = key
        super().__init__(f"duplicate key {key!r}")


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads` that rejects duplicate keys.

    >>> import json
    >>> json.loads('{"a": 1, "a": 2}', object_pairs_hook=unique_pairs)
    Traceback (most recent call last):
    ...
    fluvius.graph._json.DuplicateKeyInFileError: duplicate key 'a'
    """
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyInFileError(key)
            seen.add(key)
    return result

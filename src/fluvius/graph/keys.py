"""Node keys: stable, human-readable, hierarchical names such as ``iv/AAPL/2026-12-18/C/150``.

Every key is built by :func:`make_key` (never by scattered f-strings) and checked by
:func:`check_key`. A key is a ``/``-separated path of non-empty parts without surrounding
white space.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SEPARATOR", "check_key", "key_maker", "make_key"]

SEPARATOR = "/"


def _part(part: object) -> str:
    if isinstance(part, str):
        text = part
    elif isinstance(part, bool):
        raise TypeError(f"a key part must be a str, int, float or date, got {part=}")
    elif isinstance(part, int | float | _dt.date):
        text = part.isoformat() if isinstance(part, _dt.date) else repr(part)
    else:
        raise TypeError(f"a key part must be a str, int, float or date, got {part=}")
    if not text or text.strip() != text:
        raise ValueError(f"a key part must be non-empty without surrounding spaces, got {text!r}")
    return text


def make_key(*parts: object) -> str:
    """Join parts into a node key.

    Parts may themselves be keys (they are joined, not escaped); dates use ISO format.

    >>> import datetime
    >>> make_key("iv", "AAPL", datetime.date(2026, 12, 18), "C", 150)
    'iv/AAPL/2026-12-18/C/150'
    >>> make_key("AAPL", "mid/fast")
    'AAPL/mid/fast'
    """
    if not parts:
        raise ValueError("make_key needs at least one part")
    if len(parts) == 1 and parts[0].__class__ is str:
        return check_key(parts[0])  # what _part checks of a str, check_key checks too
    return check_key(SEPARATOR.join(_part(p) for p in parts))


def key_maker(*prefixes: object) -> Callable[..., tuple[str, ...]]:
    """A function that makes ``make_key(prefix, *parts)`` for every prefix in one step.

    The prefixes are checked once, here; each call checks its parts once, whatever the
    number of prefixes (a feed's three source keys of a new symbol: one check, not three).

    >>> source_keys = key_maker("quote", "mid", "trade")
    >>> source_keys("BRK.B")
    ('quote/BRK.B', 'mid/BRK.B', 'trade/BRK.B')
    >>> source_keys(" AB")
    Traceback (most recent call last):
    ...
    ValueError: invalid key ' AB': surrounding white space
    """
    heads = tuple(make_key(prefix) + SEPARATOR for prefix in prefixes)

    def keys(*parts: object) -> tuple[str, ...]:
        tail = make_key(*parts)  # a valid key joined to a valid key is a valid key
        return tuple([head + tail for head in heads])

    return keys


def check_key(key: object) -> str:
    """Return ``key`` when it is a valid node key, else raise ValueError naming the problem.

    >>> check_key("spot/AAPL")
    'spot/AAPL'
    >>> check_key("spot//AAPL")
    Traceback (most recent call last):
    ...
    ValueError: invalid key 'spot//AAPL': empty part between '/' separators
    """
    if (  # the common case in one expression: graphs check tens of thousands of keys
        key.__class__ is str
        and key
        and key[0] != SEPARATOR
        and key[-1] != SEPARATOR
        and not key[0].isspace()
        and not key[-1].isspace()
        and "//" not in key
        and key.isprintable()
    ):
        return key
    if not isinstance(key, str):
        raise ValueError(f"a key must be a str, got {key!r} ({type(key).__name__})")
    if not key:
        raise ValueError("a key must be a non-empty str")
    if key.strip() != key:
        raise ValueError(f"invalid key {key!r}: surrounding white space")
    if not key.isprintable():
        raise ValueError(f"invalid key {key!r}: control characters")
    if "//" in key or key.startswith(SEPARATOR) or key.endswith(SEPARATOR):
        raise ValueError(f"invalid key {key!r}: empty part between '/' separators")
    return key

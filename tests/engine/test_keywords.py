"""Keyword-input calls: positional slots from the signature, or the general keyword form."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fluvius.engine._keywords import _KeywordCall, _SlotCall, keyword_call


def f(spot: float, strike: float, years: float = 1.0, rate: float = 0.0, *, q: float = 0.0):
    return (spot, strike, years, rate, q)


def g(a: float, **rest: Any) -> tuple[float, dict[str, Any]]:
    return (a, rest)


def kwonly(a: float, *, b: float) -> tuple[float, float]:
    return (a, b)


@pytest.mark.parametrize(
    ("fn", "names", "positional", "params", "values", "kind"),
    [
        (f, ("spot",), 0, {"strike": 100.0}, (90.0,), _SlotCall),
        (f, ("rate",), 1, {"strike": 100.0}, (90.0, 0.05), _SlotCall),  # years: its default
        (f, ("strike", "spot"), 0, {"q": 0.5}, (100.0, 90.0), _SlotCall),  # any order
        (f, ("spot", "strike"), 0, {"years": 2.0, "q": 0.1}, (1.0, 2.0), _SlotCall),
        (g, ("x",), 1, {"y": 2}, (1.0, 3.0), _KeywordCall),  # **kwargs: keywords
        (kwonly, ("b",), 1, {}, (1.0, 2.0), _KeywordCall),  # a keyword-only input
        (math.hypot, ("x",), 0, {}, None, _KeywordCall),  # no readable signature
    ],
)
def test_each_call_form_gives_what_a_keyword_call_gives(
    fn: Any,
    names: tuple[str, ...],
    positional: int,
    params: dict[str, Any],
    values: tuple[Any, ...] | None,
    kind: type,
) -> None:
    call = keyword_call(fn, names, positional, params)
    assert type(call) is kind
    if values is None:
        return
    by_name = dict(zip(names, values[positional:], strict=True))
    assert call(*values) == fn(*values[:positional], **by_name, **params)
    assert call(*values) == call(*values)  # the template is copied, never changed


def test_closures_of_one_function_share_a_layout_but_keep_their_defaults() -> None:
    def make(default: float) -> Any:
        def h(a: float, b: float = default, c: float = 0.0) -> tuple[float, float, float]:
            return (a, b, c)

        return h

    first, second = make(1.0), make(2.0)
    # c by name after a positional a: the b slot between takes each closure's own default
    assert keyword_call(first, ("c",), 1, {})(5.0, 9.0) == (5.0, 1.0, 9.0)
    assert keyword_call(second, ("c",), 1, {})(5.0, 9.0) == (5.0, 2.0, 9.0)

"""The fast live decoder equals the reference decoder: events, report, and strict errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iex_strategies import damaged

from fluvius.errors import DecodeError
from fluvius.feeds.iex import SegmentDecoder
from fluvius.feeds.iex.encode import encode_segments
from fluvius.feeds.iex.fastlive import FastSegmentDecoder


def _run(decoder: Any, datagrams: list[tuple[bytes, bool]]) -> tuple[list[Any], str]:
    events: list[Any] = []
    try:
        for data, cut in datagrams:
            events += decoder.decode(data, 7, truncated=cut)
    except DecodeError as exc:
        return events, str(exc)
    return events, ""


@pytest.mark.slow
@settings(max_examples=150)
@given(datagrams=damaged(), strict=st.booleans())
def test_fast_equals_reference(datagrams: list[tuple[bytes, bool]], strict: bool) -> None:
    ref, fast = SegmentDecoder(strict=strict), FastSegmentDecoder(strict=strict)
    assert _run(fast, datagrams) == _run(ref, datagrams)
    assert fast.report.as_dict() == ref.report.as_dict()


def test_clean_segments_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from fluvius.feeds.events import Trade

    events = [Trade("IEX", "AB", i, 0, i + 1, 10**9, 100, i, 0) for i in range(6)]
    fast = FastSegmentDecoder()

    def forbidden(*args: object, **kwargs: object) -> list[object]:
        raise AssertionError("the reference decoder was used")

    monkeypatch.setattr(fast.reference, "decode", forbidden)
    out = [e for _, seg in encode_segments(events, max_per_segment=4) for e in fast.decode(seg, 0)]
    assert out == events
    assert fast.report.messages == 6


def test_fast_events_are_the_public_frozen_classes() -> None:
    import dataclasses
    import pickle

    from fluvius.feeds.events import Quote, Trade

    events = [
        Trade("IEX", "AB", 1, 0, 1, 10**9, 100, 5, 0),
        Quote("IEX", "AB", 2, 0, 2, 10**9, 100, 2 * 10**9, 200, 0),
    ]
    (seg,) = [seg for _, seg in encode_segments(events, max_per_segment=4)]
    out = FastSegmentDecoder().decode(seg, 0)
    assert [type(e) for e in out] == [Trade, Quote]
    assert pickle.loads(pickle.dumps(out)) == out == events
    assert hash(out[1]) == hash(events[1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        out[1].bid_px = 1  # type: ignore[attr-defined]

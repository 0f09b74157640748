"""Shared test configuration: a reproducible Hypothesis profile.

The "ci" profile derandomizes Hypothesis (examples are derived from each test's source, so
every run draws the same ones), turns off the per-example deadline (CI machines are noisy)
and the example database (no state carried between runs). Tests that need a different
number of examples set it with ``@settings(max_examples=...)``; the profile still applies.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.load_profile("ci")

"""A real headless browser for tests, benchmarks and screenshots of the live dashboard.

:func:`headless_page` starts Debian's ``chromium`` (``/usr/bin/chromium``; install it with
``apt-get install chromium``) through playwright's Python package, whose bundled driver
works offline: no browser is downloaded. Chromium runs with a fresh profile in a temporary
directory and with its background traffic off (``--disable-background-networking``,
``--disable-component-update``, ``--disable-sync``, ``--no-first-run``), and every request
the browser makes is recorded, so a test can check that none leaves the machine.

playwright is a development dependency (``pip install -e .[dev]``): this module imports it
only when a page is opened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from playwright.async_api import Page

__all__ = ["CHROMIUM_FLAGS", "BrowserPage", "find_chromium", "headless_page"]

CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
"""Chromium's flags besides ``--headless`` (which playwright adds)."""


def find_chromium() -> str | None:
    """The chromium to use: ``$FLUVIUS_CHROMIUM``, ``/usr/bin/chromium``, or ``chromium``
    on the ``PATH``; None when there is none."""
    for candidate in (os.environ.get("FLUVIUS_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


@dataclass
class BrowserPage:
    """An open page and the URL of every request its browser context made, in order."""

    page: Page
    requests: list[str] = field(default_factory=list)


@asynccontextmanager
async def headless_page(
    executable: str | None = None, *, width: int = 1400, height: int = 1000
) -> AsyncIterator[BrowserPage]:
    """A page of a headless chromium with a fresh profile, closed (and deleted) on exit."""
    chromium = executable or find_chromium()
    if chromium is None:
        raise FileNotFoundError(
            "no chromium found (looked at $FLUVIUS_CHROMIUM, /usr/bin/chromium and the PATH); "
            "on Debian: apt-get install chromium"
        )
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="fluvius-chromium-") as profile:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=list(CHROMIUM_FLAGS),
                viewport={"width": width, "height": height},
            )
            try:
                page = context.pages[0] if context.pages else await context.new_page()
                opened = BrowserPage(page)
                context.on("request", lambda request: opened.requests.append(request.url))
                yield opened
            finally:
                await context.close()

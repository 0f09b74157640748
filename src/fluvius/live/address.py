"""``--http HOST:PORT``: where the live dashboard listens (loopback unless named).

Kept apart from :mod:`fluvius.live.http` so that the command line checks the option without
importing the server (aiohttp).

>>> parse_http_address("8050"), parse_http_address("0.0.0.0:8050"), parse_http_address("[::1]:0")
(('127.0.0.1', 8050), ('0.0.0.0', 8050), ('::1', 0))
"""

from __future__ import annotations

__all__ = ["parse_http_address"]


def parse_http_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``:PORT`` or ``PORT`` → ``(host, port)``.

    The host is 127.0.0.1 (loopback) unless one is named; port 0 picks a free port.
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "", text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"--http {text!r}: write an IPv6 address in brackets, e.g. [::1]:8050")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f"--http {text!r}: expected HOST:PORT or PORT (e.g. 127.0.0.1:8050), "
            f"got port {port_text!r}"
        ) from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--http {text!r}: port must be in 0..65535 (0: any free port)")
    return host or "127.0.0.1", port

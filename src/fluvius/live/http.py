"""The live run's HTTP side: the dashboard page, ``/metrics`` and a JSON API (aiohttp).

Design note
-----------
:class:`DashboardServer` runs on the runner's asyncio loop, in the same thread, and reads
only :class:`~fluvius.live.state.LiveState` (the runner never waits for it). Routes:

================================  ==========================================================
``GET /``                         the dashboard (``static/index.html``, ``app.js``,
                                  ``app.css``: plain HTML, CSS and JavaScript shipped in the
                                  package, no other asset, nothing fetched from elsewhere)
``GET /metrics``                  Prometheus text format (:mod:`fluvius.live.metrics`)
``GET /api/values?keys=GLOB``     ``{key: value}`` of every matching key (``fnmatch`` glob,
                                  case-sensitive, default ``*``; optional ``scope=S``); NaN
                                  and infinities as ``null``, arrays as lists, other objects
                                  as their ``repr``
``GET /api/status``               cycle, latency p50/p99, feed health, worker load, alerts
``GET /api/graph[?scope=S]``      the graph collapsed per scope (the 600 largest scopes,
                                  ``limit=N`` for more; ``total_scopes`` counts them all),
                                  or one scope's nodes (:mod:`fluvius.live.graphview`)
``GET /api/stream?keys=&scope=``  Server-Sent Events: ``grid`` once (the keys shown and their
                                  values) and ``status``, then ``values`` (only the shown
                                  keys that changed since the last push) at most every
                                  ``interval_s`` (0.25 s: four updates a second), with
                                  ``status`` at most every ``status_interval_s`` (1 s) while
                                  cycles run, and in the next push after an alert, a node
                                  failing or recovering, or the run's end
================================  ==========================================================

**Cost on the run.** Nothing is computed per cycle: each open stream wakes every
``interval_s``, and compares the versions of the keys it shows (at most ``grid_limit``,
1000) with the cycle it last pushed, so its cost per wake is bounded by the grid, not by the
graph. At that tick it takes a snapshot of the changed values (references, no copy), then
encodes it :data:`ENCODE_CHUNK` values at a time, letting the event loop run between
chunks: a datagram that arrives meanwhile gets its cycle after one chunk (a fraction of a
millisecond), not after the whole push (milliseconds for a grid of 1,000 quotes). The
status (sorting the last 4096 cycle latencies) is computed once per interval for all
streams, and pushed once a second: its figures change on every cycle, and a page that
draws them with every push redraws its header as well as its grid four times a second
(the browser then recomposites the whole page between them; docs/benchmarks.md, "Issue 13
(dashboard, chromium per push)"). A push (values and status) is one write, so it wakes the
browser's network stack once; the page applies it in one animation frame, and asks for
none when nothing in view changed (``static/app.js``). The graph
pictures are computed once per graph and scope, on first request, in a worker thread (the
graph is immutable), so the loop keeps running cycles; concurrent requests share one
building, and the answer's JSON is kept (a second request costs one write). A scope's view
reads the keys the overview found in it, not the whole graph. (Building them on the loop a
step at a time, between cycles, was measured and not kept: it raised the run's p99 more
than the thread does; docs/benchmarks.md, "Issue 13 (dashboard, night)".)

**No surprise exposure.** ``host`` defaults to 127.0.0.1; :func:`parse_http_address`
(:mod:`fluvius.live.address`) gives loopback when the user names only a port. The page is
served with a Content-Security-Policy that lets it load and connect only to its own origin.

"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import deque
from fnmatch import translate
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from fluvius._jsonable import jsonable
from fluvius.live.address import parse_http_address
from fluvius.live.graphview import collapse_members, scope_function, scope_view
from fluvius.live.metrics import LiveCollector

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from fluvius.live.state import LiveState

__all__ = ["DashboardServer", "parse_http_address"]

_STATIC = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
}
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_RECENT_ALERTS = 50
ENCODE_CHUNK = 100
"""Values encoded between two event-loop steps when a push is written (see the module doc)."""
_OVERVIEW_LIMIT = 600  # scope boxes the overview draws (the largest); the rest by search


class _Sample(NamedTuple):
    t: float
    cycles: int
    messages: dict[str, int]
    busy: dict[str, float]


class _Filter(NamedTuple):
    glob: str
    scope: str


class DashboardServer:
    """Serves the dashboard, ``/metrics`` and the JSON API of one :class:`LiveState`.

    Use it as an async context manager, or call :meth:`start` and :meth:`aclose`::

        async with DashboardServer(state, port=8050) as server:
            print(server.url)
            ...  # run the graph; the server reads ``state`` meanwhile

    Parameters
    ----------
    state
        What the runner writes; only read here.
    host, port
        Where to listen (loopback by default; port 0: a free port, see :attr:`url`).
    interval_s
        Least time between two pushes to a page.
    status_interval_s
        Least time between two pushes of the status (cycle, latency, feeds, workers) while
        cycles run; an alert, a node failing or recovering and the run's end are pushed with
        the next push whatever this is (0: the status with every push).
    grid_limit
        Most keys a page's grid shows (the first of the matching keys, sorted).
    scope_of
        Key → scope; by default :func:`fluvius.live.graphview.scope_function`'s rule.
    """

    def __init__(
        self,
        state: LiveState,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        interval_s: float = 0.25,
        grid_limit: int = 1000,
        scope_of: Callable[[str], str] | None = None,
        status_interval_s: float = 1.0,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"DashboardServer: interval_s must be > 0, got {interval_s=}")
        if not status_interval_s >= 0:
            raise ValueError(
                f"DashboardServer: status_interval_s must be >= 0, got {status_interval_s=}"
            )
        if grid_limit < 1:
            raise ValueError(f"DashboardServer: grid_limit must be >= 1, got {grid_limit=}")
        self.state = state
        self.host = host
        self.port = port
        self.interval_s = interval_s
        self.status_interval_s = status_interval_s
        # a push is due after interval_s, give or take the loop's delay: the status goes
        # with the push that comes about status_interval_s after the last one
        self._status_every = max(0.0, status_interval_s - interval_s / 2)
        self.grid_limit = grid_limit
        self._user_scope_of = scope_of
        self._runner: web.AppRunner | None = None
        self._stop = asyncio.Event()
        self._registry = CollectorRegistry()
        self._registry.register(LiveCollector(state))
        self._static = {
            name: (resources.files("fluvius.live") / "static" / name).read_bytes()
            for name in _STATIC
        }
        self._keys_for: object = None  # the graph (or key count) the caches below are for
        self._sorted_keys: list[str] = []
        self._scope_of: Callable[[str], str] = str
        self._pictures: dict[str, dict[str, Any]] = {}
        self._members: dict[str, list[int]] = {}  # scope -> its keys' ranks (the overview's)
        self._building: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._encoded: dict[tuple[str, int], bytes] = {}  # /api/graph's answers
        self._status: dict[str, Any] = {}
        self._status_at = -math.inf
        self._samples: deque[_Sample] = deque()
        self.streams = 0  # pages connected now

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen; :attr:`url` is valid afterwards."""
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/api/values", self._values)
        app.router.add_get("/api/status", self._status_route)
        app.router.add_get("/api/graph", self._graph)
        app.router.add_get("/api/stream", self._stream)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        """``http://host:port/`` of the dashboard."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def aclose(self) -> None:
        """Stop listening and end every open stream."""
        self._stop.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- what the routes read -----------------------------------------------------------------
    def _refresh_keys(self) -> None:
        graph = self.state.graph
        ident: object = graph if graph is not None else len(self.state.values)
        if ident is self._keys_for or ident == self._keys_for:
            return
        keys = list(graph.keys) if graph is not None else list(self.state.values)
        self._keys_for = ident
        self._sorted_keys = sorted(keys)
        self._scope_of = self._user_scope_of or scope_function(keys)
        self._pictures = {}
        self._members = {}
        self._building = {}
        self._encoded = {}

    def select(self, glob: str = "*", scope: str = "") -> list[str]:
        """Every key matching ``glob`` (and in ``scope`` when given), sorted."""
        self._refresh_keys()
        match = re.compile(translate(glob or "*")).match
        scope_of = self._scope_of
        return [k for k in self._sorted_keys if match(k) and (not scope or scope_of(k) == scope)]

    def status(self) -> dict[str, Any]:
        """The dashboard's figures now (computed at most once per half interval)."""
        now = time.monotonic()
        if now - self._status_at < self.interval_s / 2:
            return self._status
        s = self.state
        sample = _Sample(
            now,
            s.cycles_total,
            {name: f.messages for name, f in s.feeds.items()},
            dict(s.worker_busy_seconds),
        )
        samples = self._samples
        samples.append(sample)
        while len(samples) > 2 and samples[1].t <= now - 1.0:
            samples.popleft()
        base = samples[0]
        dt = now - base.t

        def rate(new: float, old: float) -> float | None:
            return (new - old) / dt if dt > 0 else None

        latencies = sorted(s.cycle_seconds)
        graph = s.graph
        self._status = {
            "cycle": s.cycle,
            "cycles_total": s.cycles_total,
            "cycles_per_s": rate(sample.cycles, base.cycles),
            "recomputed_total": s.recomputed_total,
            "nodes": len(graph.keys) if graph is not None else len(s.values),
            "scheduler": s.scheduler,
            "workers": s.workers,
            "ended": s.ended,
            "uptime_s": (time.time_ns() - s.started_ns) / 1e9 if s.started_ns else None,
            "latency_ms": {
                "p50": _quantile(latencies, 0.50) * 1e3 if latencies else None,
                "p99": _quantile(latencies, 0.99) * 1e3 if latencies else None,
                "window": len(latencies),
            },
            "feeds": [
                {
                    "name": name,
                    "messages": f.messages,
                    "messages_per_s": rate(f.messages, base.messages.get(name, 0)),
                    "gaps": f.gaps,
                    "gap_messages": f.gap_messages,
                    "drops": f.drops,
                    "lag_ms": f.lag_ns_last / 1e6,
                    "lag_max_ms": f.lag_ns_max / 1e6,
                    "ended": f.ended,
                }
                for name, f in sorted(s.feeds.items())
            ],
            "worker_load": [
                {
                    "name": name,
                    "busy_s": busy,
                    "load": rate(busy, base.busy.get(name, 0.0)),
                }
                for name, busy in sorted(sample.busy.items())
            ],
            "alerts_total": s.alerts_total,
            "alerts": [self._alert(a) for a in list(s.alerts)[-_RECENT_ALERTS:][::-1]],
            "failed_total": len(s.errors),
            "failed": [
                {"key": k, "created_at": e.created_at, "message": str(e)}
                for k, e in sorted(s.errors.items())[:_RECENT_ALERTS]
            ],
        }
        self._status_at = now
        return self._status

    def _alert(self, alert: Any) -> dict[str, Any]:
        graph = self.state.graph
        created_at = ""
        if graph is not None and alert.key in graph.index:
            created_at = graph.items[graph.index[alert.key]].created_at
        return {
            "cycle": alert.cycle,
            "key": alert.key,
            "kind": alert.kind,
            "message": alert.message,
            "ts_ns": alert.ts_ns,
            "created_at": created_at,
        }

    def picture(self, scope: str = "") -> dict[str, Any]:
        """The collapsed graph, or one scope's nodes (cached); KeyError for an unknown scope."""
        self._refresh_keys()
        cached = self._pictures.get(scope)
        if cached is not None:
            return cached
        graph = self.state.graph
        if graph is None:
            raise LookupError("the live run has no graph yet")
        if scope:
            members = self._members.get(scope)
            if self._members and members is None:
                raise KeyError(scope)
            picture = scope_view(graph, scope, self._scope_of, members=members)
            if not picture["total"]:
                raise KeyError(scope)
        else:
            picture, self._members = collapse_members(graph, self._scope_of)
        self._pictures[scope] = picture
        return picture

    async def build_picture(self, scope: str = "") -> dict[str, Any]:
        """:meth:`picture`, built in a worker thread (the loop goes on running cycles);
        concurrent requests for one picture share its building."""
        self._refresh_keys()  # on the loop: the thread then only reads
        cached = self._pictures.get(scope)
        if cached is not None:
            return cached
        building = self._building.get(scope)
        if building is None:
            building = asyncio.ensure_future(self._build(scope))
            self._building[scope] = building
            building.add_done_callback(lambda _: self._building.pop(scope, None))
        return await asyncio.shield(building)

    async def _build(self, scope: str) -> dict[str, Any]:
        if scope and not self._members:
            await self.build_picture()  # the overview finds every scope's keys
        return await asyncio.to_thread(self.picture, scope)

    # -- routes -------------------------------------------------------------------------------
    async def _page(self, request: web.Request) -> web.Response:
        return self._static_response("index.html")

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC or name == "index.html":
            raise web.HTTPNotFound(text=f"no dashboard asset {name!r}")
        return self._static_response(name)

    def _static_response(self, name: str) -> web.Response:
        return web.Response(
            body=self._static[name],
            content_type=_STATIC[name],
            charset="utf-8",
            headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"},
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _values(self, request: web.Request) -> web.Response:
        q = request.query
        values = self.state.values
        keys = self.select(q.get("keys", "*"), q.get("scope", ""))
        return _json_response({k: values[k] for k in keys if k in values})

    async def _status_route(self, request: web.Request) -> web.Response:
        return _json_response(self.status())

    async def _graph(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope", "")
        limit = 0 if scope else _int(request.query.get("limit"), _OVERVIEW_LIMIT)
        self._refresh_keys()
        body = self._encoded.get((scope, limit))
        if body is None:
            try:
                picture = await self.build_picture(scope)
            except KeyError:
                raise web.HTTPNotFound(
                    text=json.dumps({"error": f"no scope {scope!r} in this graph"}),
                    content_type="application/json",
                ) from None
            except LookupError as exc:
                raise web.HTTPServiceUnavailable(
                    text=json.dumps({"error": str(exc)}), content_type="application/json"
                ) from None
            if not scope:
                picture = _biggest_scopes(picture, limit)
            body = _dumps(picture).encode()
            if limit in (0, _OVERVIEW_LIMIT):  # what the page asks for (a user's limit: not kept)
                self._encoded[scope, limit] = body
        return web.Response(body=body, content_type="application/json")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        view = _Filter(q.get("keys", "*") or "*", q.get("scope", ""))
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        self.streams += 1
        try:
            await self._push(response, view)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the page went away, or the server is closing
        finally:
            self.streams -= 1
        return response

    async def _push(self, response: web.StreamResponse, view: _Filter) -> None:
        state = self.state
        keys = self.select(view.glob, view.scope)
        shown = keys[: self.grid_limit]
        values, versions = state.values, state.versions
        seen = state.cycle
        grid = {
            "keys": shown,
            "total": len(keys),
            "cycle": seen,
            "versions": {k: versions.get(k, -1) for k in shown},
        }
        snapshot = {k: values.get(k) for k in shown}
        first = await _event_with("grid", grid, "values", snapshot)
        await response.write((first + _event("status", self.status())).encode())
        news = _news(state)
        status_at, status_cycle = time.monotonic(), seen
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
                break
            except TimeoutError:
                pass
            cycle = state.cycle
            push = ""
            if cycle != seen:
                changed = {k: values[k] for k in shown if versions.get(k, -1) > seen}
                seen = cycle
                if changed:
                    push = await _event_with("values", {"cycle": cycle}, "values", changed)
            # the status when something a desk must see at once came (an alert, a node
            # failing or recovering, the end), else at most every status_interval_s while
            # cycles run: its figures change on every cycle, and drawing them redraws the
            # page's header (see the module doc)
            now = time.monotonic()
            if _news(state) != news or (
                cycle != status_cycle and now - status_at >= self._status_every
            ):
                push += _event("status", self.status())
                news, status_at, status_cycle = _news(state), now, cycle
            if push:  # one write per push: one wake-up of the page's network stack
                await response.write(push.encode())


def _news(state: LiveState) -> tuple[int, int, bool]:
    """What makes a stream push the status at once: alerts raised, nodes failed, the end."""
    return state.alerts_total, len(state.errors), state.ended


def _int(text: str | None, default: int) -> int:
    try:
        return max(1, int(text)) if text else default
    except ValueError:
        return default


def _biggest_scopes(picture: dict[str, Any], limit: int) -> dict[str, Any]:
    """The overview cut to its ``limit`` largest scopes (most nodes, then by name)."""
    scopes = picture["scopes"]
    if len(scopes) <= limit:
        return {**picture, "total_scopes": len(scopes)}
    keep = sorted(range(len(scopes)), key=lambda i: (-scopes[i]["nodes"], scopes[i]["id"]))
    new = {i: n for n, i in enumerate(sorted(keep[:limit]))}
    return {
        "nodes": picture["nodes"],
        "total_scopes": len(scopes),
        "scopes": [scopes[i] for i in sorted(new)],
        "edges": [[new[a], new[b], c] for a, b, c in picture["edges"] if a in new and b in new],
    }


def _quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted data (nearest rank)."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _dumps(document: Any) -> str:
    return json.dumps(jsonable(document), allow_nan=False, separators=(",", ":"))


def _json_response(document: Any) -> web.Response:
    return web.Response(text=_dumps(document), content_type="application/json")


def _event(event: str, document: Any) -> str:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {_dumps(document)}\n\n"


async def _event_with(event: str, document: dict[str, Any], name: str, values: Any) -> str:
    """The event of ``document`` with ``values`` (a dict snapshot) as its field ``name``,
    encoded :data:`ENCODE_CHUNK` values at a time with an event-loop step between chunks."""
    head = _dumps(document)[:-1]  # the document's object, left open
    encoded = await _encode_values(values)
    sep = "," if len(head) > 1 else ""
    return f"event: {event}\ndata: {head}{sep}{json.dumps(name)}:{encoded}}}\n\n"


async def _encode_values(values: dict[str, Any]) -> str:
    """The JSON object of ``values``, a chunk at a time (see :func:`_event_with`).

    >>> many = {f"k{i}": float(i) for i in range(2 * ENCODE_CHUNK + 1)} | {"n": float("nan")}
    >>> text = asyncio.run(_encode_values(many))
    >>> json.loads(text) == {**many, "n": None}, asyncio.run(_encode_values({}))
    (True, '{}')
    """
    items = list(values.items())
    parts: list[str] = []
    for lo in range(0, len(items), ENCODE_CHUNK):
        if lo:
            await asyncio.sleep(0)  # a cycle waiting for the loop runs now
        chunk = dict(items[lo : lo + ENCODE_CHUNK])
        parts.append(_dumps(chunk)[1:-1])
    return "{" + ",".join(p for p in parts if p) + "}"

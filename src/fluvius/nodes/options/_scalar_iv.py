"""The scalar implied-volatility solver's parts: one option in plain ``math``.

The same algorithm as the vectorised solver in :mod:`fluvius.nodes.options.implied`, step
for step (so the two agree to rounding), without numpy's per-call overhead: a graph node
computing one option per tick pays under two microseconds, not tens. The hot path (checks,
parity, the tabled start and its one step) is written out in
:func:`~fluvius.nodes.options.implied_vol` itself, to spare a call layer; this module holds
the start table, the starts and :func:`refine` (further steps and the fallback).

The start (:func:`guess_one`) and the step are described in the vectorised module's notes:
near the money Corrado-Miller corrected by a tabulated ratio (:data:`START_TABLE`, within
about 1e-4, so one Householder step of order 3 reaches full precision), Mills-ratio
asymptotics in the wings, then Householder steps of order 3 (quartic convergence),
safeguarded by a bracket.
"""

from __future__ import annotations

import os
import sys
from array import array
from math import erfc, exp, floor, inf, log, pi, sqrt
from operator import sub

__all__ = [
    "MILLS_ROUNDS",
    "START_CELLS",
    "START_TABLE",
    "TABLE_CELLS",
    "TABLE_COLS",
    "TABLE_U",
    "TABLE_FILE",
    "TABLE_W",
    "WING",
    "compute_start_table",
    "guess_one",
    "load_start_table",
    "refine",
    "step_tol",
    "write_start_table",
]

_INV_SQRT_2PI = 1.0 / sqrt(2.0 * pi)
_INV_SQRT2 = 1.0 / sqrt(2.0)
_SQRT_2PI = sqrt(2.0 * pi)
_LOG_SQRT_2PI = log(_SQRT_2PI)
_INV_PI = 1.0 / pi
_NAN = float("nan")

WING = 1.5
"""Corrado-Miller is the start while ``|ln(F/K)| <= WING x`` its estimate of ``sigma√T``
(beyond, in the wings, it is off by tens of per cent and the Mills asymptotics take over)."""

MILLS_ROUNDS = 3
"""Fixed-point rounds of the wing start (each costs two logs, not an erfc)."""

TABLE_U = 1.35
"""The ratio table covers ``u = |ln(F/K)| / v_cm < TABLE_U`` (``v_cm`` Corrado-Miller's
estimate); near ``u = sqrt(2)`` Corrado-Miller drops its square root, and the ratio has a
kink that bilinear interpolation would smear."""

TABLE_W = 2.0
"""... and ``v_cm < TABLE_W``; above, Corrado-Miller alone is the start."""

TABLE_CELLS = 40.0
"""Grid cells per unit of ``u`` and of ``v_cm`` (a step of 1/40, exact in binary)."""

TABLE_COLS = int(TABLE_U * TABLE_CELLS) + 2
"""Grid points per row (``u = i / TABLE_CELLS``); rows are ``v_cm = j / TABLE_CELLS``."""

_ROWS = int(TABLE_W * TABLE_CELLS) + 1


def step_tol(tol: float) -> float:
    """Stop after a step below ``step_tol(tol) * max(v, 1e-3)``: the error left after a step
    of order 3 is about the step to the 4th power, ``tol``."""
    return float(tol**0.25)


_DEFAULT_STEP_TOL = step_tol(1e-12)


def guess_one(p: float, f: float, k: float, s: float, x: float) -> float:
    """Starting total volatility ``v = sigma√T`` for the out-of-the-money target ``p``.

    ``f`` forward, ``k`` strike, ``s`` +1 call / -1 put (out of the money), ``x = ln(f/k)``.
    """
    a = abs(x)
    fk = f - k
    m = p - 0.5 * s * fk  # the call's time value minus half the forward moneyness: > 0
    disc = m * m - fk * fk * _INV_PI
    cm = _SQRT_2PI / (f + k) * (m + sqrt(disc) if disc > 0.0 else m)
    if cm < TABLE_W and a < TABLE_U * cm:
        return cm * _table_ratio(a / cm * TABLE_CELLS, cm * TABLE_CELLS)
    if a <= WING * cm:
        return cm
    return _wing(p, f, k, a)


def _table_ratio(iu: float, iw: float) -> float:
    """:data:`START_TABLE` interpolated bilinearly at grid coordinates ``(iu, iw)``."""
    i, j = floor(iu), floor(iw)
    b0, b1, b2, b3 = START_CELLS[j][i]
    fu = iu - i
    return b0 + b1 * fu + (b2 + b3 * fu) * (iw - j)


def _wing(p: float, f: float, k: float, a: float) -> float:
    """The wing start: p / sqrt(f k) ~ exp(-a^2/(2 v^2) - v^2/8) v^3 / (sqrt(2 pi) (a^2 - v^4/4))
    solved for ``v`` by fixed-point rounds; the inflection point ``sqrt(2 a)`` if they fail."""
    lam = -log(p / sqrt(f * k)) - _LOG_SQRT_2PI - 2.0 * log(a)
    vc = sqrt(2.0 * a)  # the inflection point: the fallback start
    if not lam > 0.0:
        return vc
    v = a / sqrt(2.0 * lam)
    for _ in range(MILLS_ROUNDS):
        q = 1.0 - v * v * v * v / (4.0 * a * a)
        if not q > 0.0:
            return vc
        den = lam + 3.0 * log(v) - 0.125 * v * v - log(q)
        if not den > 0.0:
            return vc
        v = a / sqrt(2.0 * den)
    return v


def refine(
    p: float,
    f: float,
    k: float,
    s: float,
    x: float,
    v: float,
    lower: bool,
    years: float,
    tol: float = 1e-12,
    max_iter: int = 30,
) -> float:
    """The volatility ``sigma`` from the start ``v = sigma√T``: safeguarded order-3 steps
    (on ``ln P`` if ``lower``, else on ``P``), then the bracketing fallback; NaN if neither
    converges. ``p`` is the undiscounted out-of-the-money price (``s`` its kind), ``f`` the
    forward, ``k`` the strike, ``x = ln(f/k)``. :func:`~fluvius.nodes.options.implied_vol`
    takes the first step from a tabled start itself and calls this only when that step was
    not the last, or for a start off the table."""
    log_p = log(p) if lower else 0.0
    ms = -s * _INV_SQRT2
    fh, kh, fn = 0.5 * f, 0.5 * k, f * _INV_SQRT_2PI
    stop = _DEFAULT_STEP_TOL if tol == 1e-12 else step_tol(tol)
    lo, hi = 0.0, inf
    for _ in range(max_iter):
        xv = x / v
        d1 = xv + 0.5 * v
        model = s * (fh * erfc(ms * d1) - kh * erfc(ms * (d1 - v)))
        vega = fn * exp(-0.5 * d1 * d1)
        if model < p:
            if v > lo:
                lo = v
        elif v < hi:
            hi = v
        xv3 = xv * xv / v  # x^2 / v^3
        c = xv3 - 0.25 * v  # vega' / vega
        c3 = c * c - 3.0 * xv3 / v - 0.25  # vega'' / vega
        try:
            if lower:
                g1 = vega / model
                n = (log(model) - log_p) / g1
                c -= g1
                c3 += g1 * (2.0 * g1 - 3.0 * (c + g1))
            else:
                n = (model - p) / vega
            nc = n * c
            step = n * (1.0 - 0.5 * nc) / (1.0 - nc + n * n * c3 / 6.0)
        except (ZeroDivisionError, ValueError, OverflowError):
            step = _NAN
        new = v - step
        if abs(step) <= stop * (v if v > 1e-3 else 1e-3):
            return new / sqrt(years)
        if not lo < new < hi:
            new = 0.5 * (lo + hi) if hi < inf else 2.0 * (v if v > lo else lo)
        v = new
    from fluvius.nodes.options.implied import _brent  # the rare fallback: import lazily

    root, ok = _brent(p, f, k, s, lo, hi)
    return root / sqrt(years) if ok else _NAN


def compute_start_table() -> list[float]:
    """``v / v_cm`` on the grid, row-major: the exact total volatility over Corrado-Miller's.

    The price is a function of ``u`` and ``v_cm`` alone (in units of ``sqrt(FK)``): each
    grid point is turned back into the out-of-the-money call price for which Corrado-Miller
    gives that ``v_cm`` (the formula inverts in closed form), and that price is solved by
    :func:`refine` from ``v_cm`` (in ``math``, no scipy; ~20 ms, which is why the table is
    stored in :data:`TABLE_FILE` rather than computed at import). The ``v_cm = 0`` row holds
    the limit, computed at ``v_cm = 1e-3``. Grid points whose price would be at or above
    its upper bound ``f`` (large ``u`` and ``v_cm``: no input has it) copy their left
    neighbour.
    """
    ratios: list[float] = []
    for j in range(_ROWS):
        w = max(j / TABLE_CELLS, 1e-3)
        c = w * _INV_SQRT_2PI
        for i in range(TABLE_COLS):
            a = i / TABLE_CELLS * w
            f, k = exp(-0.5 * a), exp(0.5 * a)  # the out-of-the-money call of |x| = a
            d2 = (f - k) * (f - k) * _INV_PI
            ck = c * (f + k)  # v_cm = (m + sqrt(m^2 - d2)) sqrt(2 pi) / (f + k)
            m = (ck * ck + d2) / (2.0 * ck) if ck * ck > d2 else ck
            p = m + 0.5 * (f - k)
            v = refine(p, f, k, 1.0, -a, w, w * w < 2.0 * a, 1.0) if p < f else _NAN
            ratios.append(v / w if v == v else ratios[-1])  # v == v: not NaN
    return ratios


TABLE_FILE = "_start_table.f64"
"""The stored :func:`compute_start_table`, next to this module: ``_ROWS x TABLE_COLS``
little-endian float64 (36 KiB). Every process reads it at import (~0.2 ms) instead of
solving 4,536 grid points (~20 ms per worker spawn). Stored once, in the package, every
machine starts from the very same bits (a cluster's workers too, whatever their libm).
``tests/nodes/test_options_scalar.py`` checks it against a fresh computation; after a
change of the grid or the solver, rewrite it with :func:`write_start_table`."""


_TABLE_PATH = os.path.join(os.path.dirname(__file__), TABLE_FILE)


def _table_bytes(table: list[float]) -> bytes:
    data = array("d", table)
    if sys.byteorder == "big":  # the file is little-endian
        data.byteswap()
    return data.tobytes()


def write_start_table(path: str | None = None) -> str:
    """Compute the table and store it at ``path`` (default: :data:`TABLE_FILE` in this
    package's directory); return the path written."""
    target = path or _TABLE_PATH
    with open(target, "wb") as out:
        out.write(_table_bytes(compute_start_table()))
    return target


def load_start_table() -> list[float]:
    """The stored table (:data:`TABLE_FILE`), checked for its size."""
    data = array("d")
    with open(_TABLE_PATH, "rb") as stored:
        data.frombytes(stored.read())
    if sys.byteorder == "big":
        data.byteswap()
    expected = _ROWS * TABLE_COLS
    if len(data) != expected:
        raise RuntimeError(
            f"{TABLE_FILE}: holds {len(data)} floats, expected {expected} "
            f"({_ROWS} rows x {TABLE_COLS}); rewrite it with write_start_table()"
        )
    return data.tolist()


START_TABLE = load_start_table()
"""``v / v_cm`` at ``(u, v_cm) = (i, j) / TABLE_CELLS``, flat at ``j * TABLE_COLS + i``."""


def _corner(a: float, b: float, c: float, d: float) -> float:
    return a - b - c + d


def _cells(t: list[float]) -> list[list[tuple[float, float, float, float]]]:
    """Per grid cell ``[j][i]`` the bilinear coefficients ``(a, b, c, d)`` of
    ``r = a + b fu + (c + d fu) fw`` (``fu``, ``fw`` the position inside the cell): ``b =
    t[n+1] - t[n]``, ``c = t[n+cols] - t[n]``, ``d = t[n+cols+1] - t[n+cols] - t[n+1] +
    t[n]``, row by row with ``map`` (~1 ms, where a loop over the cells takes several)."""
    cols = TABLE_COLS
    out = []
    for j in range(_ROWS - 1):
        row, up = t[j * cols : (j + 1) * cols], t[(j + 1) * cols : (j + 2) * cols]
        left, right, up_left, up_right = row[:-1], row[1:], up[:-1], up[1:]
        out.append(
            list(
                zip(
                    left,
                    map(sub, right, left),
                    map(sub, up_left, left),
                    map(_corner, up_right, up_left, right, left),
                    strict=True,
                )
            )
        )
    return out


START_CELLS = _cells(START_TABLE)
"""The bilinear interpolation of :data:`START_TABLE`, one coefficient tuple per cell."""

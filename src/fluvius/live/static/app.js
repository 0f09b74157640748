// fluvius live dashboard: plain JavaScript, no dependencies, talks only to its own origin.
// Data: /api/stream (Server-Sent Events: grid, values, status) and /api/graph.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const BOX_W = 150, BOX_H = 30, GAP_X = 50, GAP_Y = 8, PAD = 12, MAX_ROWS = 40;
const $ = (id) => document.getElementById(id);

const view = { glob: "*", scope: "" };
let source = null;          // the EventSource
let nodeValues = new Map(); // key -> svg <text> of a drawn node's value
let failed = new Set();
let alertsShown = -1;
let drilled = "";           // the scope drawn, "" for the overview

// -- formatting ------------------------------------------------------------------------------
function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return (a !== 0 && (a < 1e-3 || a >= 1e7)) ? v.toExponential(4) : String(+v.toPrecision(7));
  }
  if (typeof v === "string") return v.length > 120 ? v.slice(0, 117) + "…" : v;
  const s = JSON.stringify(v);
  return s.length > 120 ? s.slice(0, 117) + "…" : s;
}
const num = (v, digits = 1) => (v === null || v === undefined) ? "–" : v.toFixed(digits);
const int = (v) => (v === null || v === undefined) ? "–" : Math.round(v).toLocaleString("en-US");
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

// -- the stream ------------------------------------------------------------------------------
// A push is applied in one animation frame: the messages only update the model (`cells`,
// `status`) and ask for a frame only when something on screen changes (a row of the grid in
// view, a drawn node's value, the status); the frame writes just that. A frame costs the
// browser dozens of thread wake-ups in all its processes whatever it draws, so a push that
// changes nothing in view costs none. The server sends the status at most once a second
// (at once for an alert, a failed node or the end). A page that is hidden draws nothing,
// and after HIDDEN_CLOSE_MS hidden it closes its stream (the server then pushes nothing to
// it); it reconnects, with a fresh grid, when it is shown again.
const HIDDEN_CLOSE_MS = 2000;
let hiddenTimer = 0;
function connect() {
  if (source) source.close();
  const q = new URLSearchParams({ keys: view.glob || "*", scope: view.scope });
  source = new EventSource("api/stream?" + q.toString());
  source.addEventListener("grid", (e) => setGrid(JSON.parse(e.data)));
  source.addEventListener("values", (e) => setValues(JSON.parse(e.data)));
  source.addEventListener("status", (e) => { status = JSON.parse(e.data); schedule(); });
  source.onopen = () => setConn("live", "live");
  source.onerror = () => setConn("lost", "reconnecting");
}
function setConn(cls, text) {
  const c = $("conn");
  if (c.classList.contains("ended")) return;
  c.className = "conn " + cls;
  c.textContent = text;
}
document.addEventListener("visibilitychange", () => {
  clearTimeout(hiddenTimer);
  if (document.hidden) {
    hiddenTimer = setTimeout(() => {
      if (source && !$("conn").classList.contains("ended")) {
        source.close();
        source = null;
        setConn("paused", "paused while hidden");
      }
    }, HIDDEN_CLOSE_MS);
  } else {
    if (!source && !$("conn").classList.contains("ended")) connect();
    schedule();
  }
});

let frameAsked = false;
let status = null;          // the newest status pushed, drawn by the next frame
const stats = { pushes: 0, frames: 0, rowWrites: 0 }; // read by the tests and benchmark
window.fluviusDashboard = stats;
function schedule() {
  if (frameAsked || document.hidden) return;
  frameAsked = true;
  requestAnimationFrame(frame);
}
function frame() {
  frameAsked = false;
  stats.frames++;
  if (gridDirty && onScreen.grid) drawGrid();
  if (dirtyNodes.size && onScreen.graph) {
    for (const key of dirtyNodes) setNodeValue(key);
    dirtyNodes.clear();
  }
  if (status) {
    drawStatus(status);
    status = null;
  }
}
// Whether the grid's and the graph's boxes are in the window at all (an IntersectionObserver
// tells): values pushed to a box scrolled out of the window are kept and drawn when it
// comes back.
const onScreen = { grid: true, graph: true };
function watchOnScreen() {
  const boxes = new Map([[$("grid-box"), "grid"], [$("graph-box"), "graph"]]);
  const observer = new IntersectionObserver((entries) => {
    let back = false;
    for (const e of entries) {
      const name = boxes.get(e.target);
      back ||= e.isIntersecting && !onScreen[name];
      onScreen[name] = e.isIntersecting;
    }
    if (back) schedule();
  });
  for (const box of boxes.keys()) observer.observe(box);
}

// -- the grid --------------------------------------------------------------------------------
// Virtualized: the model holds every key of the grid (up to 1,000) with its newest value;
// the table holds only the rows in view (plus OVERSCAN above and below), the rows out of
// view are margins of ROW_H pixels each (the CSS gives each row that height). A push asks
// for a frame only when one of its keys is in a row on screen (in the box's view and in
// the window, not in the rows drawn above or below it), and
// the frame writes only cells whose text changed, so a push costs the cells on screen that
// changed, not the grid. The other rows take their values when they are scrolled into view.
const ROW_H = 24, VIEW_H = 420, OVERSCAN = 8;
let gridKeys = [];
let gridRank = new Map();   // key -> its row's index in the grid
let gridTop = 0;            // the grid box's scrollTop, as the last scroll event left it
let cells = new Map();      // key -> {v, cycle, seq}: the newest value and the push it came in
let pushSeq = 0;
let gridDirty = false;
let dirtyNodes = new Set(); // keys whose graph box shows a value that changed
let pool = [];              // the table's rows: {tr, key, name, value, cycle, hot, failed}

function setGrid(grid) {
  gridKeys = grid.keys;
  gridRank = new Map(grid.keys.map((key, i) => [key, i]));
  gridTop = 0;
  cells = new Map();
  for (const key of grid.keys) {
    const version = grid.versions[key];
    cells.set(key, { v: grid.values[key], cycle: version === undefined || version < 0 ? "–" : String(version), seq: -1 });
    if (nodeValues.has(key)) dirtyNodes.add(key);
  }
  const shown = grid.keys.length;
  $("grid-count").textContent = shown === grid.total
    ? `${int(grid.total)} keys` : `first ${int(shown)} of ${int(grid.total)} keys`;
  $("grid-box").scrollTop = 0;
  gridDirty = true;
  schedule();
}
// The rows of the grid on screen: in the box's view and in the window (a grid box half
// below the window's bottom edge shows half its rows); [1, 0] when none. Read when a push
// comes, after the last frame's layout: no layout is forced.
function rowsOnScreen() {
  const box = $("grid-box").getBoundingClientRect();
  const from = Math.max(box.top, 0), to = Math.min(box.bottom, window.innerHeight);
  if (to <= from) return [1, 0];
  // the table's head is about one row tall: row i spans ROW_H * (i + 1) … ROW_H * (i + 2)
  return [Math.floor((gridTop + from - box.top) / ROW_H) - 1,
    Math.ceil((gridTop + to - box.top) / ROW_H)];
}
function setValues(msg) {
  stats.pushes++;
  pushSeq++;
  const cycle = String(msg.cycle);
  // the other rows are drawn by the scroll (of the box or the window) that brings them in
  const [top, bottom] = rowsOnScreen();
  let seen = false;
  for (const key in msg.values) {
    const cell = cells.get(key);
    if (cell === undefined) continue;
    cell.v = msg.values[key];
    cell.cycle = cycle;
    cell.seq = pushSeq;
    const rank = gridRank.get(key);
    if (rank >= top && rank <= bottom) gridDirty = seen = true;
    if (nodeValues.has(key)) {
      dirtyNodes.add(key);
      seen = true;
    }
  }
  if (seen) schedule();
}
function newRow() {
  const tr = el("tr");
  const name = el("td"), value = el("td"), cycle = el("td");
  tr.append(name, value, cycle);
  return { tr, key: null, name, value, cycle, hot: false, failed: false };
}
function drawGrid() {
  gridDirty = false;
  const box = $("grid-box"), table = $("grid");
  const n = gridKeys.length;
  const first = Math.max(0, Math.min(Math.floor(box.scrollTop / ROW_H) - OVERSCAN, n - 1));
  const count = Math.max(0, Math.min(n - first, Math.ceil(VIEW_H / ROW_H) + 2 * OVERSCAN));
  const body = table.tBodies[0];
  while (pool.length < count) {
    const row = newRow();
    pool.push(row);
    body.append(row.tr);
  }
  while (pool.length > count) pool.pop().tr.remove();
  setStyle(table, "marginTop", first * ROW_H + "px");
  setStyle(table, "marginBottom", (n - first - count) * ROW_H + "px");
  for (let i = 0; i < count; i++) {
    const row = pool[i], key = gridKeys[first + i], cell = cells.get(key);
    if (row.key !== key) {
      row.key = key;
      row.tr.dataset.key = key;
      row.name.textContent = key;
    }
    if (setText(row.value, fmt(cell.v))) stats.rowWrites++;
    setText(row.cycle, cell.cycle);
    const hot = cell.seq === pushSeq;
    if (hot !== row.hot) row.value.classList.toggle("hot", (row.hot = hot));
    const bad = failed.has(key);
    if (bad !== row.failed) row.tr.classList.toggle("failed", (row.failed = bad));
  }
}
function setNodeValue(key) {
  const t = nodeValues.get(key), cell = cells.get(key);
  if (t && cell) setText(t, clip(fmt(cell.v), 24));
}
// a feed URL's scheme, file name and query: iex+pcap://…/sample.pcap.gz?speed=0
function feedLabel(name) {
  const m = /^([\w+.-]+:\/\/)(.*\/)?([^/]*)$/.exec(name);
  return m ? m[1] + (m[2] ? "…/" : "") + m[3] : name;
}

// The status comes with every push and is drawn by the push's frame: only text that changed
// is written (an unchanged textContent write still invalidates layout), and the tables are
// rebuilt only when their rows change (a feed or a worker appears).
function setText(node, text) {
  if (node.textContent === text) return false;
  node.textContent = text;
  return true;
}
function setStyle(node, name, value) {
  if (node.style[name] !== value) node.style[name] = value;
}
function drawStatus(s) {
  setText($("st-cycle"), int(s.cycle));
  setText($("st-rate"), num(s.cycles_per_s, 0));
  setText($("st-p50"), s.latency_ms.p50 === null ? "–" : num(s.latency_ms.p50, 3) + " ms");
  setText($("st-p99"), s.latency_ms.p99 === null ? "–" : num(s.latency_ms.p99, 3) + " ms");
  setText($("st-nodes"), int(s.nodes));
  setText($("st-failed"), int(s.failed_total));
  setText($("st-sched"), `${s.scheduler} × ${s.workers}`);
  if (s.ended && !$("conn").classList.contains("ended")) {
    const c = $("conn");
    c.className = "conn ended";
    c.textContent = "run ended";
  }
  drawFeeds(s.feeds);
  drawWorkers(s.worker_load);
  const nowFailed = s.failed.map((f) => f.key);
  if (nowFailed.length !== failed.size || nowFailed.some((k) => !failed.has(k))) {
    failed = new Set(nowFailed);
    drawGrid();
  }
  if (s.alerts_total !== alertsShown) drawAlerts(s);
}
function drawFeeds(feeds) {
  const body = $("feeds").tBodies[0];
  if (body.rows.length !== feeds.length || feeds.some((f, i) => body.rows[i].dataset.feed !== f.name)) {
    const fresh = document.createDocumentFragment();
    for (const f of feeds) {
      const tr = el("tr");
      tr.dataset.feed = f.name;
      tr.title = f.name;
      for (let i = 0; i < 8; i++) tr.append(el("td"));
      fresh.append(tr);
    }
    body.replaceChildren(fresh);
  }
  feeds.forEach((f, i) => {
    const texts = [feedLabel(f.name) + (f.ended ? " (ended)" : ""), int(f.messages),
      int(f.messages_per_s), int(f.gaps), int(f.gap_messages), int(f.drops),
      num(f.lag_ms, 3), num(f.lag_max_ms, 3)];
    texts.forEach((text, j) => setText(body.rows[i].cells[j], text));
  });
}
function drawWorkers(load) {
  const box = $("workers");
  if (box.children.length !== load.length
      || load.some((w, i) => box.children[i].dataset.worker !== w.name)) {
    const fresh = document.createDocumentFragment();
    for (const w of load) {
      const bar = el("div", "bar");
      bar.dataset.worker = w.name;
      const meter = el("div", "meter");
      meter.append(el("span"));
      bar.append(el("span", "", w.name), meter, el("span"));
      fresh.append(bar);
    }
    box.replaceChildren(fresh);
  }
  load.forEach((w, i) => {
    const bar = box.children[i];
    const share = Math.max(0, Math.min(1, w.load || 0));
    const width = (100 * share).toFixed(1) + "%";
    const fill = bar.children[1].firstChild;
    if (fill.style.width !== width) fill.style.width = width;
    setText(bar.children[2], (100 * share).toFixed(0) + " % busy");
  });
}

function drawAlerts(s) {
  alertsShown = s.alerts_total;
  $("alerts-count").textContent = `${int(s.alerts_total)} raised, ${int(s.failed_total)} nodes failed now`;
  const list = document.createDocumentFragment();
  for (const a of s.alerts) {
    const li = el("li");
    li.dataset.key = a.key;
    li.append(el("span", "kind " + a.kind, a.kind), " ", el("strong", "", a.key),
      ` cycle ${a.cycle} `, el("span", "where", a.created_at ? "(" + a.created_at + ")" : ""),
      el("div", "msg", a.message.split("\n")[0]));
    list.append(li);
  }
  if (!s.alerts.length) list.append(el("li", "none", "none"));
  $("alerts").replaceChildren(list);
}

// -- the graph picture -----------------------------------------------------------------------
// Boxes in columns by layer; a layer taller than MAX_ROWS wraps into several columns.
function layout(items) {
  const byLayer = new Map();
  items.forEach((it, i) => {
    if (!byLayer.has(it.layer)) byLayer.set(it.layer, []);
    byLayer.get(it.layer).push(i);
  });
  const pos = new Array(items.length);
  let x = PAD, height = 0;
  for (const layer of [...byLayer.keys()].sort((a, b) => a - b)) {
    const members = byLayer.get(layer);
    const perColumn = Math.min(members.length, Math.max(MAX_ROWS, Math.ceil(Math.sqrt(members.length * 3))));
    members.forEach((i, n) => {
      const col = Math.floor(n / perColumn), row = n % perColumn;
      pos[i] = { x: x + col * (BOX_W + GAP_X / 2), y: PAD + row * (BOX_H + GAP_Y) };
    });
    x += Math.ceil(members.length / perColumn) * (BOX_W + GAP_X / 2) + GAP_X / 2;
    height = Math.max(height, PAD * 2 + perColumn * (BOX_H + GAP_Y));
  }
  return { pos, width: x + PAD, height };
}

function edgePath(edges, pos) {
  const parts = [];
  for (const [a, b] of edges) {
    const p = pos[a], q = pos[b];
    if (!p || !q) continue;
    const x1 = p.x + BOX_W, y1 = p.y + BOX_H / 2, x2 = q.x, y2 = q.y + BOX_H / 2;
    const mx = (x1 + x2) / 2;
    parts.push(`M${x1} ${y1}C${mx} ${y1} ${mx} ${y2} ${x2} ${y2}`);
  }
  return parts.join("");
}

function drawBoxes(items, edges, label, detail, onClick) {
  const started = performance.now();
  const g = $("graph");
  const { pos, width, height } = layout(items);
  g.setAttribute("width", width);
  g.setAttribute("height", height);
  g.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const frag = document.createDocumentFragment();
  const lines = svg("path", { class: "edges", d: edgePath(edges, pos) });
  const hot = svg("path", { class: "edges hot", d: "" });
  frag.append(lines, hot);
  nodeValues = new Map();
  items.forEach((it, i) => {
    const box = svg("g", { class: "box " + (it.cls || ""), transform: `translate(${pos[i].x},${pos[i].y})` });
    Object.entries(it.data || {}).forEach(([k, v]) => box.setAttribute("data-" + k, v));
    const title = svg("title", {});
    title.textContent = detail(it);
    const text = svg("text", { x: 6, y: 12 });
    text.textContent = label(it);
    box.append(title, svg("rect", { width: BOX_W, height: BOX_H }), text);
    if (it.valueKey !== undefined || it.sub !== undefined) {
      const v = svg("text", { x: 6, y: 25, class: "value" });
      v.textContent = it.sub || "";
      box.append(v);
      if (it.valueKey !== undefined) nodeValues.set(it.valueKey, v);
    }
    box.addEventListener("click", () => onClick(it));
    box.addEventListener("mouseenter", () => {
      hot.setAttribute("d", edgePath(edges.filter(([a, b]) => a === i || b === i), pos));
    });
    frag.append(box);
  });
  g.replaceChildren(frag);
  for (const key of nodeValues.keys()) setNodeValue(key);
  g.dataset.drawMs = (performance.now() - started).toFixed(1); // the script's share of it
}

const clip = (s, n = 22) => s.length > n ? s.slice(0, n - 1) + "…" : s;

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function showOverview() {
  $("crumb").textContent = "collapsed per scope";
  $("back").hidden = true;
  let data;
  try { data = await getJSON("api/graph"); } catch (e) { $("graph-note").textContent = String(e); return; }
  const shown = data.scopes.length, total = data.total_scopes;
  $("graph-note").textContent = `${int(data.nodes)} nodes in ${int(total)} scopes` +
    (shown < total ? `; the ${int(shown)} largest drawn (type any scope in the scope box)` : "") +
    "; click a scope to see its nodes.";
  drilled = "";
  const items = data.scopes.map((s) => ({
    ...s, cls: s.sources === s.nodes ? "source" : "", data: { scope: s.id },
    sub: `${int(s.sources)} sources`,
  }));
  drawBoxes(items, data.edges, (s) => `${clip(s.id, 16)} · ${int(s.nodes)}`,
    (s) => `${s.id}: ${s.nodes} nodes (${s.sources} sources), layer ${s.layer}`,
    (s) => drill(s.id));
}

async function drill(scope) {
  let data;
  try { data = await getJSON("api/graph?scope=" + encodeURIComponent(scope)); }
  catch (e) {
    $("graph-note").textContent = String(e).includes("404") ? `no scope ${scope}` : String(e);
    return;
  }
  $("crumb").textContent = "scope " + scope;
  $("back").hidden = false;
  $("graph-note").textContent = `${int(data.total)} nodes` +
    (data.truncated ? ` (the first ${int(data.nodes.length)} drawn)` : "") +
    "; dashed boxes are other scopes (click to go there).";
  const items = data.nodes.map((n) => ({
    ...n, cls: (n.source ? "source" : "") + (failed.has(n.key) ? " failed" : ""),
    data: { key: n.key }, valueKey: n.key,
  })).concat(data.external.map((x) => ({
    ...x, cls: "external", data: { external: x.scope },
  })));
  drawBoxes(items, data.edges,
    (it) => it.key !== undefined ? clip(it.key) : (it.dir === "in" ? "← " : "→ ") + clip(it.scope, 18),
    (it) => it.key !== undefined
      ? `${it.key}\n${it.source ? "source" : "op " + (it.op || "function")}\ncreated at ${it.created_at || "?"}`
      : `scope ${it.scope} (${it.dir === "in" ? "feeds this scope" : "reads this scope"})`,
    (it) => { if (it.key === undefined) drill(it.scope); });
  $("scope").value = scope;
  view.scope = scope;
  drilled = scope;
  connect();
}

// -- wiring ----------------------------------------------------------------------------------
let filterTimer = 0;
function onFilter() {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    view.glob = $("glob").value.trim() || "*";
    view.scope = $("scope").value.trim();
    connect();
    if (view.scope && view.scope !== drilled) drill(view.scope);
  }, 250);
}

document.addEventListener("DOMContentLoaded", () => {
  $("glob").addEventListener("input", onFilter);
  $("scope").addEventListener("input", onFilter);
  $("filter").addEventListener("submit", (e) => { e.preventDefault(); onFilter(); });
  $("grid-box").addEventListener("scroll", (e) => {
    gridTop = e.target.scrollTop;
    gridDirty = true;
    schedule();
  }, { passive: true });
  watchOnScreen();
  const scrolled = () => { gridDirty = true; schedule(); };
  window.addEventListener("scroll", scrolled, { passive: true });
  window.addEventListener("resize", scrolled, { passive: true });
  $("back").addEventListener("click", () => {
    $("scope").value = "";
    view.scope = "";
    connect();
    showOverview();
  });
  connect();
  showOverview();
});

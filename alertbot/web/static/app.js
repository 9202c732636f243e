// alertbot dashboard: renders what the server pushes over /ws. It never polls: the server
// sends a full snapshot on connect (and after a slow page lost its queue), updates after that.
"use strict";

const CSRF = document.querySelector('meta[name="csrf"]').content;
const MAX_POINTS = 4000; // equity points kept per chart in the page
let equity = {};   // account key -> [[t...], [v...]]
let charts = {};   // account key -> uPlot
let lastNow = 0;   // the server's clock at the last message
let retryMs = 250;

// --- DOM helpers: every value goes in as text, never as HTML ---------------------------------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) el.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined)
    el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
const pill = (text, cls) => h("span", { class: "pill " + (cls || text) }, text);
function fill(id, rows) { const body = document.querySelector(`#${id} tbody`); body.replaceChildren(...rows); }
const money = (v) => v === null || v === undefined ? "–" :
  v.toLocaleString(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const pct = (v) => v === null || v === undefined ? "–" : (v * 100).toFixed(1) + " %";
const times = (v) => v === null || v === undefined ? "–" : v.toFixed(2) + "×";
const num = (v, d = 4) => v === null || v === undefined ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: d });
function ago(t) {
  if (!t) return "–";
  const s = Math.max(0, lastNow - t);
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m ago";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
}
const clock = (t) => new Date(t * 1000).toLocaleTimeString();
const labels = (obj) => h("span", { class: "labels" }, Object.entries(obj || {}).map(([k, v]) => h("code", {}, `${k}=${v}`)));

// --- actions -----------------------------------------------------------------------------------
async function act(action, body, what) {
  const out = document.getElementById("action-result");
  out.textContent = what + "…";
  const reply = await fetch("/api/" + action, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
    body: JSON.stringify(body),
  });
  if (reply.status === 401) { location.reload(); return; }
  const answer = await reply.json().catch(() => ({}));
  out.textContent = reply.ok ? what + ": done" : what + " failed: " + (answer.error || reply.status);
}
const silenceFor = () => Number(document.getElementById("silence-for").value);

// --- rendering ---------------------------------------------------------------------------------
function renderAlerts(alerts) {
  const active = alerts.active.slice().sort((a, b) => (a.state === "firing" ? 0 : 1) - (b.state === "firing" ? 0 : 1) || a.since - b.since);
  fill("alerts-active", active.map((a) => h("tr", { "data-fp": a.fingerprint, "data-rule": a.rule, "data-state": a.state },
    h("td", {}, pill(a.state), a.acked ? pill("acked") : null, a.silenced_by ? pill("silenced") : null),
    h("td", {}, a.rule), h("td", {}, pill(a.severity)), h("td", {}, labels(a.labels)), h("td", {}, ago(a.since)),
    h("td", {},
      a.silenced_by ? null : h("button", { class: "silence", onclick: () => act("silence", { fingerprint: a.fingerprint, seconds: silenceFor() }, "silence " + a.rule) }, "Silence"),
      a.state === "firing" && !a.acked ? h("button", { class: "ack", onclick: () => act("ack", { fingerprint: a.fingerprint }, "acknowledge " + a.rule) }, "Ack") : null))));
  document.getElementById("alerts-none").hidden = active.length > 0;
  const firing = active.filter((a) => a.state === "firing").length;
  document.getElementById("alert-counts").textContent = `${firing} firing, ${active.length - firing} pending`;
  fill("history", alerts.history.map((c) => h("tr", { "data-rule": c.rule, "data-state": c.state },
    h("td", {}, clock(c.at)), h("td", {}, c.rule), h("td", {}, pill(c.state)), h("td", {}, labels(c.labels)))));
  fill("silences", alerts.silences.map((s) => h("tr", { "data-id": s.id, "data-rule": s.rule },
    h("td", {}, s.id), h("td", {}, s.rule), h("td", {}, labels(s.labels)),
    h("td", {}, s.active ? clock(s.ends_at) : "ended"), h("td", {}, s.created_by || "–"),
    h("td", {}, s.active ? h("button", { class: "expire", onclick: () => act("expire", { id: s.id }, "expire silence " + s.id) }, "Expire") : null))));
}

function renderConnections(conns) {
  fill("connections", conns.map((c) => h("tr", { "data-conn": c.conn },
    h("td", {}, "#" + c.conn), h("td", {}, pill(c.state)), h("td", {}, ago(c.last_message_age === null ? null : lastNow - c.last_message_age)),
    h("td", { class: "num" }, num(c.rate, 1) + "/s"), h("td", { class: "num" }, c.reconnects), h("td", { class: "num" }, c.gaps))));
  const up = conns.filter((c) => c.state === "connected").length;
  document.getElementById("summary").textContent = `${up}/${conns.length} connections up`;
}

function renderDelivery(d) {
  document.getElementById("outbox-depth").textContent = `${d.depth} queued`;
  fill("notifiers", Object.entries(d.notifiers).map(([name, n]) => h("tr", { "data-notifier": name },
    h("td", {}, name), h("td", { class: "num" }, n.pending), h("td", { class: "num" }, n.sent),
    h("td", { class: "num" }, n.failed), h("td", { class: "num" }, n.dead))));
  fill("dead", d.dead.map((r) => h("tr", { "data-id": r.id },
    h("td", {}, r.id), h("td", {}, r.notifier), h("td", {}, r.title), h("td", {}, r.error),
    h("td", {}, h("button", { class: "retry", onclick: () => act("retry", { id: r.id }, "retry #" + r.id) }, "Retry")))));
}

function accountCard(a) {
  let card = document.querySelector(`.account[data-account="${CSS.escape(a.key)}"]`);
  if (card) return card;
  const short = a.address.slice(0, 10) + "…" + a.address.slice(-4);
  card = h("section", { class: "account", "data-account": a.key },
    h("h2", {}, "Account ", h("span", { title: a.address }, short), " / " + a.subaccount),
    h("div", { class: "metrics" },
      ["equity", "free_collateral", "margin_usage", "leverage"].map((k) => h("div", { class: "metric" },
        h("div", { class: "label" }, k.replace("_", " ")), h("div", { class: "value " + k.replace("_", "-"), "data-field": k }, "–")))),
    h("div", { class: "chart" }),
    h("div", { class: "columns" },
      h("div", {}, h("h3", {}, "Positions"), h("table", { class: "positions" }, h("thead", {}, h("tr", {}, ["market", "side", "size", "entry", "oracle", "uPnL"].map((t) => h("th", {}, t)))), h("tbody"))),
      h("div", {}, h("h3", {}, "Open orders"), h("table", { class: "orders" }, h("thead", {}, h("tr", {}, ["market", "side", "type", "size", "price", "status"].map((t) => h("th", {}, t)))), h("tbody")))),
    h("h3", {}, "Recent fills"), h("table", { class: "fills" }, h("thead", {}, h("tr", {}, ["when", "market", "side", "size", "price", "fee", "type"].map((t) => h("th", {}, t)))), h("tbody")));
  document.getElementById("accounts").append(card);
  return card;
}

function renderAccount(a) {
  const card = accountCard(a);
  card.querySelector('[data-field="equity"]').textContent = money(a.equity);
  card.querySelector('[data-field="free_collateral"]').textContent = money(a.free_collateral);
  card.querySelector('[data-field="margin_usage"]').textContent = pct(a.margin_usage);
  card.querySelector('[data-field="leverage"]').textContent = times(a.leverage);
  card.querySelector(".positions tbody").replaceChildren(...(a.positions.length ? a.positions.map((p) => h("tr", {},
    h("td", {}, p.ticker), h("td", {}, p.side), h("td", { class: "num" }, num(p.size)), h("td", { class: "num" }, num(p.entry_price, 2)),
    h("td", { class: "num" }, num(p.oracle_price, 2)), h("td", { class: "num" }, money(p.unrealized_pnl)))) : [h("tr", {}, h("td", { colspan: 6, class: "empty" }, "no open positions"))]));
  card.querySelector(".orders tbody").replaceChildren(...(a.orders.length ? a.orders.map((o) => h("tr", {},
    h("td", {}, o.ticker), h("td", {}, o.side), h("td", {}, o.type), h("td", { class: "num" }, num(o.size)),
    h("td", { class: "num" }, num(o.price ?? o.trigger_price, 2)), h("td", {}, o.status))) : [h("tr", {}, h("td", { colspan: 6, class: "empty" }, "no open orders"))]));
  card.querySelector(".fills tbody").replaceChildren(...(a.fills.length ? a.fills.map((f) => h("tr", {},
    h("td", {}, clock(f.at)), h("td", {}, f.ticker), h("td", {}, f.side), h("td", { class: "num" }, num(f.size)),
    h("td", { class: "num" }, num(f.price, 2)), h("td", { class: "num" }, money(f.fee)), h("td", {}, f.type))) : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "no fills yet"))]));
  chartPoint(a.key, lastNow, a.equity, card);
}

function chartPoint(key, t, v, card) {
  const data = equity[key] || (equity[key] = [[], []]);
  if (v !== null && v !== undefined && (!data[0].length || t > data[0][data[0].length - 1])) {
    data[0].push(t); data[1].push(v);
    if (data[0].length > MAX_POINTS) { data[0].shift(); data[1].shift(); }
  }
  if (typeof uPlot === "undefined") return;
  const box = card.querySelector(".chart");
  if (!charts[key]) {
    charts[key] = new uPlot({ width: Math.max(300, box.clientWidth), height: 180,
      series: [{}, { label: "equity", stroke: "#1f5fbf", width: 2, fill: "rgba(31,95,191,0.08)", value: (u, x) => money(x) }],
      axes: [{}, { size: 80, values: (u, vals) => vals.map((x) => money(x)) }],
      scales: { x: { time: true } }, legend: { show: true } }, data, box);
  } else {
    charts[key].setData(data);
  }
}

function apply(m) {
  lastNow = m.now;
  if (m.type === "full") {  // resync: drop what the page had and take the server's history
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
    equity = {};
    for (const [key, pts] of Object.entries(m.equity || {})) equity[key] = [pts.map((p) => p[0]), pts.map((p) => p[1])];
    for (const key of Object.keys(charts)) { charts[key].destroy(); delete charts[key]; }
    document.getElementById("accounts").replaceChildren();
  }
  renderAlerts(m.alerts);
  renderConnections(m.connections);
  renderDelivery(m.delivery);
  m.accounts.forEach(renderAccount);
  document.body.dataset.version = m.version;
  document.body.dataset.updated = String(m.now);
}

function setLive(on, text) {
  const live = document.getElementById("live");
  live.className = "pill " + (on ? "on" : "off");
  live.textContent = text || (on ? "live" : "reconnecting");
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => { retryMs = 250; setLive(true); };
  ws.onmessage = (e) => apply(JSON.parse(e.data));
  ws.onclose = (e) => {
    if (e.code === 1008) { setLive(false, "logged out"); location.reload(); return; }
    setLive(false);
    setTimeout(connect, retryMs);  // the push channel came down: reconnect, then resync
    retryMs = Math.min(retryMs * 2, 4000);
  };
  window.alertbotSocket = ws;  // tests close it to prove the page resynchronises
}

connect();

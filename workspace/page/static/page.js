// The live workspace page: state and log lines streamed by the launcher (Server-Sent
// Events), buttons POSTing with the token from the address (#key=...) or typed in.
"use strict";
const LINES_SHOWN = 40;
const $ = (sel) => document.querySelector(sel);
const logs = {};  // app -> array of lines

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function token() {
  const match = location.hash.match(/key=([^&]+)/);
  return match ? decodeURIComponent(match[1]) : $("#token").value.trim();
}

async function post(path) {
  const key = token();
  if (!key) { $("#token-box").hidden = false; $("#action").textContent = "a token is needed"; return; }
  const resp = await fetch(path, { method: "POST", headers: { "X-Workspace-Token": key } });
  const body = await resp.json().catch(() => ({}));
  $("#action").textContent = resp.ok ? `${body.accepted} ${body.argument || ""}: asked` : `${resp.status}: ${body.error}`;
}

function renderState(s) {
  const launcher = $("#launcher");
  launcher.dataset.connected = "true";
  launcher.textContent = `launcher pid ${s.launcher.pid ?? "?"}, ${s.launcher.project ?? ""}`;
  $("#deps tbody").replaceChildren(...s.dependencies.map((d) =>
    el("tr", { "data-dep": d.name, "data-state": d.state }, el("td", {}, d.name),
       el("td", {}, d.backend), el("td", { class: "ok" }, d.state), el("td", {}, d.address))));

  const rows = s.migrations.rows || [];
  const table = $("#migrations");
  table.dataset.rows = rows.length;
  table.dataset.pending = rows.filter((r) => r.state === "pending").length;
  $("#migration-counts").textContent = s.migrations.error ? s.migrations.error :
    `${rows.filter((r) => r.state === "applied").length} applied, ${table.dataset.pending} pending`;
  table.tBodies[0].replaceChildren(...rows.map((r) =>
    el("tr", { "data-version": r.version, "data-state": r.state }, el("td", {}, r.name),
       el("td", { class: r.state === "applied" ? "ok" : "bad" }, r.state),
       el("td", { class: "muted" }, r.applied_at ? String(r.applied_at).slice(0, 19) : ""))));
  const lm = s.live_migration, box = $("#live-migration");
  box.hidden = !lm;
  if (lm) {
    box.dataset.ok = lm.ok;
    box.className = lm.ok ? "ok" : "bad";
    box.replaceChildren(lm.ok ? `applied live: ${lm.applied.join(", ") || "nothing"}` :
      el("pre", {}, `not applied (the apps keep the last good schema):\n${lm.error}`));
  }

  const v = s.validation, vbox = $("#validation");
  vbox.dataset.valid = v ? String(v.valid) : "unknown";
  vbox.className = v && v.valid ? "ok" : "bad";
  vbox.textContent = !v ? "not checked yet" : v.error ? `could not check: ${v.error}` :
    v.valid ? `Schema valid (checked ${new Date(v.at * 1000).toLocaleTimeString()})` :
    `Schema INVALID: ${v.errors.length} problem(s)`;
  $("#drift").replaceChildren(...(v ? v.errors : []).map((t) => el("li", { "data-drift": "" }, t)));
  $("#warnings").replaceChildren(...(v ? v.warnings : []).map((t) => el("li", {}, t)));
  if (s.action) {
    $("#action").textContent = s.action.running ? `${s.action.job}…` :
      `${s.action.job} done at ${new Date(s.action.at * 1000).toLocaleTimeString()}`;
  }

  $("#apps tbody").replaceChildren(...s.apps.map((a) =>
    el("tr", { "data-app": a.name, "data-state": a.state, "data-health": a.health, "data-pid": a.pid ?? "" },
       el("td", {}, a.name), el("td", { class: a.state === "ready" ? "ok" : "bad" }, a.state),
       el("td", {}, a.health), el("td", {}, a.pid ?? ""), el("td", {}, a.restarts),
       el("td", {}, a.url ?? (a.port ? `port ${a.port}` : "")),
       el("td", {}, el("button", { type: "button", "data-restart": a.name }, "Restart")))));
  for (const a of s.apps) logBox(a.name);
}

function logBox(name) {
  let box = document.querySelector(`[data-log="${CSS.escape(name)}"]`);
  if (!box) {
    box = el("div", { "data-log": name }, el("strong", {}, name), el("pre", { "data-lines": 0 }));
    $("#logs").append(box);
  }
  return box.querySelector("pre");
}

function addLines(lines) {
  const touched = new Set();
  for (const line of lines) {
    (logs[line.app] = logs[line.app] || []).push(
      `${new Date(line.time * 1000).toLocaleTimeString()} ${line.text}`);
    if (logs[line.app].length > LINES_SHOWN) logs[line.app].splice(0, logs[line.app].length - LINES_SHOWN);
    touched.add(line.app);
  }
  for (const app of touched) {
    const pre = logBox(app);
    pre.textContent = logs[app].join("\n");
    pre.dataset.lines = logs[app].length;
    pre.scrollTop = pre.scrollHeight;
  }
}

document.addEventListener("click", (event) => {
  const target = event.target;
  if (!(target instanceof HTMLButtonElement)) return;
  if (target.dataset.restart) post(`/api/restart/${encodeURIComponent(target.dataset.restart)}`);
  else if (target.id === "validate") post("/api/validate");
  else if (target.id === "fix") post("/api/fix");
});

$("#token-box").hidden = Boolean(token());
const stream = new EventSource("/api/events");
stream.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
stream.addEventListener("lines", (e) => addLines(JSON.parse(e.data)));
stream.onerror = () => { $("#launcher").dataset.connected = "false"; $("#launcher").textContent = "launcher not answering (stopped?)"; };

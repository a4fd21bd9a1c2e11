// The admin page: reads /api/workspace and /api/documents (proxied by app.py to the API
// server) every REFRESH_MS and renders them. Text goes in through textContent only.
"use strict";

const REFRESH_MS = 2000;
const byId = (id) => document.getElementById(id);

async function getJson(path) {
  let resp;
  try {
    resp = await fetch(path, { cache: "no-store" });
  } catch (err) {
    throw new Error(`GET ${path}: the admin server does not answer (${err.message})`);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // not JSON: reported below with the status
  }
  if (!resp.ok) {
    const reason = body && body.error ? body.error : resp.statusText;
    throw new Error(`GET ${path}: HTTP ${resp.status}: ${reason}`);
  }
  return body;
}

function formatUptime(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.floor(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${s}s`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined || text === "" ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

// Replace a table's rows; `build(item)` returns a <tr>, `empty` is shown for no items.
function fillTable(tableId, items, build, empty) {
  const table = byId(tableId);
  const body = table.tBodies[0];
  const columns = table.tHead.rows[0].cells.length;
  if (items.length === 0) {
    const td = document.createElement("td");
    td.colSpan = columns;
    td.className = "empty";
    td.textContent = empty;
    const tr = document.createElement("tr");
    tr.append(td);
    body.replaceChildren(tr);
  } else {
    body.replaceChildren(...items.map(build));
  }
  table.dataset.rows = String(items.length);
}

function renderLauncher(status) {
  const el = byId("launcher");
  el.dataset.running = String(status.running);
  el.textContent = status.running
    ? `Workspace running (${status.mode}, ${status.phase}), pid ${status.pid}, ` +
      `up ${formatUptime(status.uptime_s)}; ${status.migrations_applied_by_start} ` +
      `migration(s) applied by this start. Project: ${status.project_dir}`
    : `Workspace not running (no \`workspace start\` for ${status.project_dir}).`;
}

function renderDependencies(deps) {
  fillTable("deps", deps, (dep) => {
    const tr = document.createElement("tr");
    tr.dataset.dep = dep.name;
    tr.dataset.state = dep.state;
    tr.append(cell(dep.name), cell(dep.backend), cell(dep.state, "state"), cell(dep.address));
    return tr;
  }, "No dependencies reported.");
}

function renderValidation(validation) {
  const el = byId("validation");
  if (validation === null || validation === undefined) {
    el.dataset.valid = "unknown";
    el.textContent = "Schema not validated: validation runs at `workspace start`.";
    return;
  }
  el.dataset.valid = String(validation.valid);
  const warnings = validation.warnings || [];
  const headline = document.createElement("p");
  headline.textContent = validation.valid
    ? (warnings.length ? `Schema valid, with ${warnings.length} warning(s):` : "Schema valid")
    : "Schema INVALID:";
  const list = document.createElement("ul");
  list.append(...warnings.map((w) => {
    const li = document.createElement("li");
    li.textContent = w;
    return li;
  }));
  el.replaceChildren(headline, ...(warnings.length ? [list] : []));
}

function renderMigrations(migrations) {
  byId("migrations-count").textContent = String(migrations.length);
  fillTable("migrations", migrations, (m) => {
    const tr = document.createElement("tr");
    tr.dataset.version = String(m.version);
    tr.append(cell(m.version), cell(m.name), cell(new Date(m.applied_at).toLocaleString()),
              cell(`${Math.round(m.execution_ms)} ms`));
    return tr;
  }, "No migrations applied.");
}

function renderApps(apps) {
  fillTable("apps", apps, (app) => {
    const tr = document.createElement("tr");
    tr.dataset.app = app.name;
    tr.dataset.state = app.state;
    tr.dataset.health = app.health.startsWith("failing") ? "failing" : app.health;
    tr.append(cell(app.name), cell(app.state, "state"), cell(app.health, "health"),
              cell(app.pid), cell(app.url || app.port), cell(formatUptime(app.uptime_s)),
              cell(app.restarts));
    return tr;
  }, "No apps configured.");
}

function renderDocuments(listing) {
  const el = byId("documents-count");
  el.dataset.count = String(listing.total);
  el.textContent = String(listing.total);
}

function showErrors(messages) {
  const box = byId("error");
  box.hidden = messages.length === 0;
  box.textContent = messages.length
    ? `The API failed; the data below may be stale.\n${messages.join("\n")}`
    : "";
}

async function refresh() {
  const [workspace, documents] = await Promise.allSettled([
    getJson("/api/workspace"),
    getJson("/api/documents?limit=1"),
  ]);
  const errors = [];
  if (workspace.status === "fulfilled") {
    const { status, migrations, migrations_error: migrationsError } = workspace.value;
    renderLauncher(status);
    renderDependencies(status.dependencies);
    renderValidation(status.validation);
    if (migrations === null) {  // the database does not answer: the status says why
      errors.push(`Migrations unavailable: ${migrationsError}`);
    } else {
      renderMigrations(migrations);
    }
    renderApps(status.apps);
  } else {
    errors.push(workspace.reason.message);
  }
  if (documents.status === "fulfilled") {
    renderDocuments(documents.value);
  } else {
    errors.push(documents.reason.message);
  }
  showErrors(errors);
  byId("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

async function loop() {
  try {
    await refresh();
  } catch (err) {
    showErrors([`The page failed to render: ${err.message}`]);
  } finally {
    setTimeout(loop, REFRESH_MS);
  }
}

loop();

"use strict";
// The review page. Every piece of record text becomes a text node (el() below): nothing
// from the data is ever parsed as markup.

const TOKEN = document.querySelector('meta[name="review-token"]').content;
const TYPES = ["direct_execution", "reasoning_chain", "negative", "code_correction"];
const FACET_TITLES = {
  split: "Split", source: "Source", example_type: "Example type", rating: "Rating",
  tag: "Tag", dropped: "Dropped", moderation: "Moderation", refused: "Refused by a format",
  hand_label: "Hand label",
};
const FACET_LIMIT = 40;
const app = document.getElementById("app");
const search = document.getElementById("search");
const statusLine = document.getElementById("status");
let view = { kind: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function route() {
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  return { path, params: new URLSearchParams(query || "") };
}

function go(path, params) {
  const query = params.toString();
  location.hash = path + (query ? "?" + query : "");
}

function listParams(params) {
  const kept = new URLSearchParams(params);
  kept.delete("format");
  return kept;
}

async function api(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function render() {
  const { path, params } = route();
  search.value = params.get("q") || "";
  try {
    const record = path.match(/^\/r\/(\d+)$/);
    if (record) await renderRecord(Number(record[1]), params);
    else await renderList(params);
    statusLine.textContent = "";
  } catch (error) {
    statusLine.textContent = error.message;
  }
}

// The list

async function renderList(params) {
  const started = performance.now();
  const data = await api("/api/records?" + listParams(params));
  const selected = view.kind === "list" ? Math.min(view.selected, data.rows.length - 1) : 0;
  view = { kind: "list", rows: data.rows, selected: Math.max(selected, 0), params, data };
  app.replaceChildren(el("div", { class: "layout" }, facets(data.facets, params), listPanel(data, params)));
  markSelected();
  app.dataset.ms = String(Math.round(performance.now() - started));
}

function facets(counts, params) {
  const panel = el("nav", { id: "facets" });
  for (const [facet, values] of Object.entries(counts)) {
    const chosen = params.getAll(facet);
    const entries = Object.entries(values)
      .filter(([value, count]) => count > 0 || chosen.includes(value))
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, FACET_LIMIT);
    if (!entries.length) continue;
    const box = el("fieldset", { "data-facet": facet }, el("legend", {}, FACET_TITLES[facet] || facet));
    for (const [value, count] of entries) {
      const input = el("input", {
        type: "checkbox", checked: chosen.includes(value), value,
        onchange: () => toggleFilter(params, facet, value),
      });
      box.append(el("label", { class: count ? "" : "empty" }, input, el("span", {}, value),
        el("span", { class: "count" }, count)));
    }
    panel.append(box);
  }
  return panel;
}

function toggleFilter(params, facet, value) {
  const next = listParams(params);
  const values = next.getAll(facet);
  next.delete(facet);
  for (const v of values) if (v !== value) next.append(facet, v);
  if (!values.includes(value)) next.append(facet, value);
  next.delete("page");
  go("/", next);
}

function listPanel(data, params) {
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  const page = (delta) => () => {
    const next = listParams(params);
    next.set("page", String(data.page + delta));
    go("/", next);
  };
  const rows = data.rows.map((row, i) => el("tr", {
    "data-n": row.n,
    onclick: () => { view.selected = i; openSelected(); },
  },
    el("td", {}, row.hand ? "✎" : ""),
    el("td", {}, el("code", {}, row.id)),
    el("td", {}, row.split, row.dropped ? el("div", { class: "badge warn" }, row.dropped) : null),
    el("td", {}, row.source),
    el("td", {}, row.example_type || ""),
    el("td", {}, row.rating ?? ""),
    el("td", {}, row.quality ?? ""),
    el("td", {}, el("div", { class: "clip", title: row.title }, row.title)),
  ));
  return el("section", { id: "list" },
    el("div", { class: "bar" },
      el("strong", { id: "total" }, `${data.total} of ${data.records} records`),
      el("button", { type: "button", disabled: data.page <= 0, onclick: page(-1) }, "← page"),
      el("span", {}, `page ${data.page + 1} of ${pages}`),
      el("button", { type: "button", disabled: data.page + 1 >= pages, onclick: page(1) }, "page →")),
    el("table", {},
      el("thead", {}, el("tr", {}, ["", "id", "split", "source", "example type", "rating", "quality", "opening"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
}

function markSelected(scroll) {
  document.querySelectorAll("#list tbody tr").forEach((tr, i) => {
    tr.classList.toggle("selected", i === view.selected);
    if (scroll && i === view.selected) tr.scrollIntoView({ block: "nearest", inline: "nearest" });
  });
}

function openSelected() {
  const row = view.rows[view.selected];
  if (row) go(`/r/${row.n}`, listParams(view.params));
}

// The record

async function renderRecord(n, params) {
  const data = await api(`/api/records/${n}?` + params);
  view = { kind: "record", n, params, data, version: data.version };
  app.replaceChildren(el("div", {},
    recordBar(data, params),
    el("div", { class: "record" },
      el("section", { id: "conversation" }, recordBody(data)),
      el("aside", {}, editForm(data), pendingBox(data.pending)))));
}

function recordBar(data, params) {
  const step = (to) => to === null ? null : () => go(`/r/${to}`, params);
  const format = el("select", {
    id: "format", "aria-label": "Export format",
    onchange: (event) => { const next = new URLSearchParams(params); next.set("format", event.target.value); go(`/r/${data.n}`, next); },
  }, data.formats.map((name) => el("option", { value: name, selected: name === data.format }, name)));
  return el("div", { class: "bar" },
    el("button", { type: "button", onclick: () => go("/", listParams(params)) }, "← list"),
    el("button", { type: "button", id: "previous", disabled: data.neighbours.previous === null, onclick: step(data.neighbours.previous) }, "previous (k)"),
    el("button", { type: "button", id: "next", disabled: data.neighbours.next === null, onclick: step(data.neighbours.next) }, "next (j)"),
    el("code", { id: "record-id" }, data.id),
    el("span", { class: "badge" }, data.split),
    el("span", { class: "badge" }, data.source),
    el("label", {}, "as trained in ", format));
}

function recordBody(data) {
  const parts = [];
  if (data.dropped) parts.push(el("div", { class: "notice warn" }, `Dropped by ${data.dropped}`));
  if (data.moderation.length) parts.push(el("div", { class: "notice warn" }, `Flagged by moderation: ${data.moderation.join(", ")}`));
  if (data.refused.length) parts.push(el("div", { class: "notice" }, `Left out by: ${data.refused.join("; ")}`));
  if (!data.trainer) {
    parts.push(el("div", { class: "box" }, el("p", {}, "Only the opening of this record is kept:"), el("pre", {}, data.excerpt)));
    return parts;
  }
  const trainer = data.trainer;
  parts.push(el("h2", {}, `As the ${data.format} trainer sees it`));
  parts.push(el("div", { class: "bar", id: "tokens" },
    el("span", { class: "badge loss" }, `${trainer.loss_tokens} tokens carry loss`),
    el("span", { class: "badge" }, `${trainer.total_tokens} tokens in all`)));
  if (trainer.refused) parts.push(el("div", { class: "notice warn", id: "refused" }, `Not trained in ${data.format}: ${trainer.refused}`));
  parts.push(el("div", { id: "turns" }, trainer.turns.map(turnBox)));
  if (trainer.pair) {
    parts.push(el("h3", {}, "Preference pair"),
      el("details", {}, el("summary", {}, `prompt (${trainer.pair.prompt.length} messages)`), trainer.pair.prompt.map(turnBox)),
      turnBox(trainer.pair.chosen), turnBox(trainer.pair.rejected));
  }
  if (data.tools.length) {
    parts.push(el("details", { class: "box" }, el("summary", {}, `Tools offered (${data.tools.length})`),
      data.tools.map((tool) => el("div", { class: "call" }, el("strong", {}, tool.name), el("p", {}, tool.description || ""), el("pre", {}, tool.parameters)))));
  }
  const exported = data.exported;
  if (exported) {
    parts.push(el("details", { class: "box", id: "exported" },
      el("summary", {}, exported.line ? `Line ${exported.line} of ${exported.file}` : `Not in ${exported.file}`),
      exported.text ? el("pre", {}, exported.text) : null));
  }
  const meta = Object.entries(data.meta).map(([key, value]) => [key, typeof value === "object" ? JSON.stringify(value) : String(value)]);
  parts.push(el("div", { class: "box", id: "provenance" }, el("h3", {}, "Provenance"),
    el("dl", {}, [["id", data.id], ["annotated as", data.key], ["source", data.source], ...meta].map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))));
  return parts;
}

function turnBox(turn) {
  const head = el("div", { class: "head" },
    el("strong", {}, turn.role),
    turn.name ? el("span", {}, turn.name) : null,
    turn.tool_call_id ? el("span", {}, `result of ${turn.tool_call_id}`) : null,
    turn.role === "assistant" ? el("span", { class: turn.loss ? "badge loss" : "badge noloss" }, turn.loss ? "trains" : "no loss") : null,
    turn.note ? el("span", { class: "badge warn" }, turn.note) : null,
    el("span", {}, `${turn.tokens} tokens`));
  return el("div", { class: `turn role-${turn.role}${turn.loss ? " loss" : ""}` },
    head,
    turn.content !== null ? el("pre", { class: "text" }, turn.content) : null,
    turn.tool_calls.map((call) => el("div", { class: "call" }, el("span", {}, "calls "), el("strong", {}, call.name),
      el("span", {}, ` (${call.id})`), el("pre", {}, call.arguments))));
}

// Editing

function effective(data, field) {
  const annotation = data.annotation || {};
  if (field in annotation) return annotation[field];
  return data.labels ? data.labels[field] : null;
}

function correctionParts(value) {
  if (value === null || value === undefined) return ["", ""];
  if (typeof value === "string") return [value, ""];
  return [value.content || "", value.tool_calls ? JSON.stringify(value.tool_calls, null, 2) : ""];
}

function editForm(data) {
  const field = (label, input) => [el("label", { htmlFor: input.id }, label), input];
  const text = (name, rows) => el("textarea", { id: name, name, rows: rows || 3, value: effective(data, name) || "" });
  const type = el("select", { id: "example_type", name: "example_type" },
    el("option", { value: "" }, "(none)"),
    TYPES.map((t, i) => el("option", { value: t, selected: effective(data, "example_type") === t }, `${i + 1} ${t}`)));
  const [reply, calls] = correctionParts(effective(data, "correction"));
  const correction = el("div", { id: "correction-fields" },
    field("Correction: the reply it should have made", el("textarea", { id: "correction_content", rows: 3, value: reply })),
    field("…or the calls (JSON list of {name, arguments})", el("textarea", { id: "correction_calls", rows: 3, value: calls })));
  const showCorrection = () => { correction.hidden = type.value !== "negative" && !reply && !calls; };
  type.addEventListener("change", showCorrection);
  const annotation = data.annotation || {};
  const form = el("form", { id: "edit", class: "box", onsubmit: (event) => { event.preventDefault(); save(); } },
    el("h3", {}, "Labels"),
    field("Example type", type),
    field("Quality score (0–1)", el("input", { id: "quality_score", type: "number", min: 0, max: 1, step: 0.05, value: effective(data, "quality_score") ?? "" })),
    field("Rating (1–5)", el("input", { id: "rating", type: "number", min: 1, max: 5, step: 1, value: effective(data, "rating") ?? "" })),
    field("Problem", text("problem")),
    field("Root cause", text("root_cause")),
    field("Reasoning", text("reasoning")),
    field("Tags (comma-separated)", el("input", { id: "tags", value: (effective(data, "tags") || []).join(", ") })),
    correction,
    el("label", { class: "inline" }, el("input", { id: "exclude", type: "checkbox", checked: Boolean(annotation.exclude) }), "Exclude from the dataset"),
    field("Note (why; not a label)", el("textarea", { id: "note", rows: 2, value: annotation.note || "" })),
    el("button", { type: "submit", id: "save" }, "Save (s)"),
    el("div", { id: "message", role: "alert" }));
  showCorrection();
  return form;
}

function number(id, parse) {
  const raw = document.getElementById(id).value.trim();
  return raw === "" ? null : parse(raw);
}

function formBody() {
  const value = (id) => document.getElementById(id).value;
  const content = value("correction_content").trim();
  const callsText = value("correction_calls").trim();
  let calls = null;
  if (callsText) {
    calls = JSON.parse(callsText);
    if (!Array.isArray(calls)) throw new Error("the correction's calls must be a JSON list");
  }
  return {
    version: view.version,
    example_type: value("example_type") || null,
    quality_score: number("quality_score", Number),
    rating: number("rating", (raw) => Number.parseInt(raw, 10)),
    tags: value("tags").split(",").map((t) => t.trim()).filter(Boolean),
    problem: value("problem"),
    root_cause: value("root_cause"),
    reasoning: value("reasoning"),
    correction: content || calls ? { content: content || null, tool_calls: calls } : null,
    exclude: document.getElementById("exclude").checked,
    note: value("note"),
  };
}

function say(text, kind) {
  const box = document.getElementById("message");
  box.className = kind;
  box.textContent = text;
}

async function save() {
  if (view.kind !== "record") return;
  let body;
  try {
    body = formBody();
  } catch (error) {
    say(`Not saved: ${error.message}`, "error");
    return;
  }
  try {
    const saved = await api(`/api/annotations/${view.n}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Review-Token": TOKEN },
      body: JSON.stringify(body),
    });
    view.version = saved.version;
    view.data.annotation = saved.annotation;
    document.getElementById("pending").replaceWith(pendingBox(saved.pending));
    say("Saved to the annotations file; the next dvc repro carries it into every export.", "ok");
  } catch (error) {
    say(error.message, "error");
  }
}

function pendingBox(pending) {
  const show = (value) => value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value);
  return el("div", { class: "box", id: "pending" },
    el("h3", {}, "Changed since the last build"),
    pending.length
      ? el("ul", {}, pending.map((change) => el("li", {}, el("strong", {}, change.field), `: ${show(change.built)} → ${show(change.annotated)}`)))
      : el("p", {}, "Nothing: the built dataset has these labels."));
}

// Keys

function onKey(event) {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName);
  if ((event.ctrlKey || event.metaKey) && event.key === "s") {
    event.preventDefault();
    save();
    return;
  }
  if (typing) {
    if (event.key === "Escape") event.target.blur();
    if (event.target === search && event.key === "Enter") {
      const next = listParams(route().params);
      if (search.value) next.set("q", search.value); else next.delete("q");
      next.delete("page");
      go("/", next);
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "/") { event.preventDefault(); search.focus(); return; }
  if (view.kind === "list") listKey(event);
  else if (view.kind === "record") recordKey(event);
}

function listKey(event) {
  const moves = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 };
  if (event.key in moves) {
    event.preventDefault();
    view.selected = Math.max(0, Math.min(view.rows.length - 1, view.selected + moves[event.key]));
    markSelected(true);
  } else if (event.key === "Enter") {
    openSelected();
  }
}

function recordKey(event) {
  const { neighbours } = view.data;
  const to = { j: neighbours.next, ArrowRight: neighbours.next, k: neighbours.previous, ArrowLeft: neighbours.previous }[event.key];
  if (to !== undefined) {
    if (to !== null) go(`/r/${to}`, view.params);
  } else if (/^[1-4]$/.test(event.key)) {
    const select = document.getElementById("example_type");
    select.value = TYPES[Number(event.key) - 1];
    select.dispatchEvent(new Event("change"));
  } else if (event.key === "s") {
    save();
  } else if (event.key === "Escape") {
    go("/", listParams(view.params));
  }
}

document.addEventListener("keydown", onKey);
window.addEventListener("hashchange", render);
render();

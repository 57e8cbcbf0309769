// The drop page: files in, one upload per dump (with every host file dropped beside it),
// progress while it uploads, then the report (render.js) and the buckets.
"use strict";

const $ = (id) => document.getElementById(id);
const MAGICS = ["PAGEDUMP", "PAGEDU64", "PK\u0003\u0004", "MSCF", "KDUMP   ", "\u007fELF", "MDMP"];
const DUMP_NAME = /\.(dmp|zip|cab)$|^vmcore|^memory\.dmp$/i;
const TEXT_DUMP = /(analyze|windbg|kd|cdb).*\.(txt|log)$/i;

function token() {
  return sessionStorage.getItem("dumptriage-token") || "";
}

function authHeaders() {
  return token() ? { Authorization: `Bearer ${token()}` } : {};
}

async function api(path) {
  const answer = await fetch(path, { headers: authHeaders() });
  if (answer.status === 401) askToken();
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
  return body;
}

function askToken() {
  $("token-box").hidden = false;
  $("token").focus();
}

async function head(file) {
  const bytes = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  return String.fromCharCode(...bytes);
}

// Which dropped files are dumps: a dump's or archive's magic, else a dump's name, else a
// saved debugger text's name; the rest are host files. With none, the largest file.
async function classify(files) {
  const dumps = [];
  const context = [];
  for (const file of files) {
    const magic = await head(file);
    const isDump = MAGICS.some((m) => magic.startsWith(m)) || DUMP_NAME.test(file.name);
    (isDump ? dumps : context).push(file);
  }
  if (!dumps.length) {
    const text = context.findIndex((f) => TEXT_DUMP.test(f.name));
    const pick = text >= 0 ? text : context.reduce((best, f, i) => (f.size > context[best].size ? i : best), 0);
    if (context.length) dumps.push(...context.splice(pick, 1));
  }
  return { dumps, context };
}

function size(n) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function upload(dump, context, row) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("dump", dump, dump.name);
    for (const file of context) form.append("context", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/analyses");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      row.bar.max = e.total;
      row.bar.value = e.loaded;
      row.state.textContent = `uploading: ${size(e.loaded)} of ${size(e.total)}`;
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response || {};
      if (xhr.status === 401) askToken();
      if (xhr.status === 200 || xhr.status === 202) resolve(body);
      else reject(new Error(body.error || `HTTP ${xhr.status}`));
    });
    xhr.addEventListener("error", () => reject(new Error("the upload failed (network)")));
    xhr.send(form);
  });
}

function uploadRow(dump, context) {
  const bar = DT.el("progress", { max: "1", value: "0" });
  const state = DT.el("span", { class: "state", text: "waiting" });
  const hostFiles = context.length ? ` with ${context.map((f) => f.name).join(", ")}` : " (no host files)";
  const row = DT.el("div", { class: "upload" }, DT.el("strong", { text: dump.name }),
    DT.el("span", { class: "muted", text: `${hostFiles}, ${size(dump.size)}` }), bar, state);
  $("uploads").prepend(row);
  return { bar, state, row };
}

async function analyse(dump, context) {
  const row = uploadRow(dump, context);
  try {
    let analysis = await upload(dump, context, row);
    row.bar.value = row.bar.max;
    while (analysis.status === "queued" || analysis.status === "running") {
      row.state.textContent = analysis.status;
      analysis = await api(`/v1/analyses/${analysis.id}?wait=20`);  // answers when done
    }
    if (analysis.status === "failed") {
      row.state.textContent = `failed: ${analysis.error}`;
      row.row.classList.add("failed");
      return;
    }
    row.state.textContent = analysis.deduplicated ? "done (already known: stored report)" : "done";
    show(analysis);
  } catch (err) {
    row.state.textContent = `refused: ${err.message}`;
    row.row.classList.add("failed");
  }
}

function show(analysis) {
  $("report").replaceChildren(DT.renderReport(analysis));
  refreshBuckets();
}

async function dropped(fileList) {
  const { dumps, context } = await classify(Array.from(fileList));
  for (const dump of dumps) await analyse(dump, context);
}

async function openBucket(signature) {
  try {
    const bucket = await api(`/v1/buckets/${encodeURIComponent(signature)}`);
    $("bucket").replaceChildren(DT.renderBucket(bucket, async (id) => {
      show(await api(`/v1/analyses/${encodeURIComponent(id)}`));
      $("report").scrollIntoView();
    }));
  } catch (err) {
    $("bucket").replaceChildren(DT.el("p", { class: "muted", text: err.message }));
  }
}

async function refreshBuckets() {
  try {
    $("buckets").replaceChildren(DT.renderBuckets(await api("/v1/buckets"), openBucket));
  } catch (err) {
    $("buckets").replaceChildren(DT.el("p", { class: "muted", text: err.message }));
  }
}

function setUp() {
  const zone = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    dropped(e.dataTransfer.files);
  });
  $("picker").addEventListener("change", (e) => { dropped(e.target.files); e.target.value = ""; });
  $("token").value = token();
  $("token").addEventListener("change", (e) => {
    sessionStorage.setItem("dumptriage-token", e.target.value.trim());
    refreshBuckets();
  });
  $("refresh").addEventListener("click", refreshBuckets);
  fetch("/healthz").then((r) => r.json()).then((h) => { $("version").textContent = `${h.version}, ${h.workers} workers`; });
  refreshBuckets();
}

document.addEventListener("DOMContentLoaded", setUp);

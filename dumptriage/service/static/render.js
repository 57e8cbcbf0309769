// The report of /v1/analyses/{id} as `dumptriage analyze` prints it (render/findings_text.py,
// render/text.py): Findings first, with the same wording, then what the dump says.
// Every string from a report, dump-derived or not, enters the page as a text node
// (textContent); nothing here parses text as HTML.
"use strict";

const DT = {};

DT.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
};

const el = DT.el;
const dash = (v) => (v === null || v === undefined || v === "" ? "-" : String(v));

DT.copyButton = function (text) {
  const button = el("button", { type: "button", class: "small copy", text: "copy" });
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {  // not a secure context (http to another host): select it instead
      const range = document.createRange();
      range.selectNodeContents(button.nextElementSibling);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      document.execCommand("copy");
    }
    button.textContent = "copied";
    setTimeout(() => { button.textContent = "copy"; }, 1500);
  });
  return button;
};

function table(headers, rows) {
  const head = el("tr", {}, ...headers.map((h) => el("th", { text: h })));
  const body = rows.map((row) => el("tr", {}, ...row.map((c) => el("td", { text: dash(c) }))));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

function pairs(rows) {
  return el("table", { class: "pairs" },
    el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: dash(v) })))));
}

function link(url) {
  // Only web links become links; anything else stays text.
  if (!/^https?:\/\//i.test(url)) return el("span", { text: url });
  const a = el("a", { rel: "noreferrer noopener", target: "_blank", text: url });
  a.href = url;
  return a;
}

function finding(number, f) {
  const box = el("article", { class: "finding " + f.confidence });
  box.append(el("h3", {}, `${number}. ${f.title} `,
    el("span", { class: "tag", text: `[${f.rule}, ${f.confidence}]` })));
  box.append(el("p", { text: f.summary }));
  box.append(el("p", { class: "label", text: "Evidence:" }));
  box.append(el("ul", {}, ...(f.evidence || []).map((e) =>
    el("li", { text: `${e.fact} = ${e.value}  (${e.source})` }))));
  for (const [platform, text] of Object.entries(f.fixes || {})) {
    box.append(el("p", { class: "label", text: `Fix (${platform}):` }));
    box.append(el("div", { class: "fix" }, DT.copyButton(text), el("pre", { text })));
  }
  for (const note of f.does_not_help || []) {
    box.append(el("p", { class: "muted", text: `Does not help: ${note}` }));
  }
  if ((f.references || []).length) {
    box.append(el("p", { class: "label", text: "References:" }));
    box.append(el("ul", { class: "refs" }, ...f.references.map((r) => el("li", {}, link(r)))));
  }
  return box;
}

function conclusions(report) {
  const out = [];
  const findings = report.findings || [];
  if (!findings.length) {
    out.push(el("h2", { text: "Findings: none (no rule matched the inputs; see Not evaluated)" }));
  } else {
    out.push(el("h2", { text: "Findings (most likely first)" }));
    findings.forEach((f, i) => out.push(finding(i + 1, f)));
  }
  if ((report.not_evaluated || []).length) {
    out.push(el("h2", { text: "Not evaluated (an input would decide them)" }));
    out.push(el("ul", {}, ...report.not_evaluated.map((n) => el("li", {},
      el("strong", { text: `${n.rule}: ${n.title}` }),
      el("ul", {}, ...(n.needs || []).map((need) => el("li", { text: `needs ${need}` })))))));
  }
  if ((report.ruled_out || []).length) {
    out.push(el("h2", { text: "Ruled out" }));
    out.push(el("ul", {}, ...report.ruled_out.map((r) => el("li", {},
      el("strong", { text: `${r.rule}: ${r.title}` }), el("div", { class: "muted", text: r.because })))));
  }
  return out;
}

function bugcheck(report) {
  const b = report.bugcheck;
  if (!b) return [];
  const out = [el("h2", { text: `Bugcheck ${b.code_hex} ${b.name || "(unknown code)"}` })];
  if (b.description) out.push(el("p", { text: b.description }));
  const params = b.parameters && b.parameters.length
    ? b.parameters.map((p) => [`Arg${p.index}`, p.value, p.interpretation || p.meaning])
    : (b.args || []).map((v, i) => [`Arg${i + 1}`, v, ""]);
  out.push(table(["", "value", "meaning"], params));
  return out;
}

function culprit(report) {
  const c = report.culprit;
  if (!c) return [el("h2", { text: "Probably caused by: no module could be blamed" })];
  return [el("h2", { text: `Probably caused by: ${c.module}` }), el("p", { text: c.reason })];
}

function dumpFacts(d) {
  if (!d) return [];
  const os = d.os || {};
  const arch = d.arch === "x86" && d.pae !== null ? `x86 (${d.pae ? "PAE" : "non-PAE"})` : d.arch;
  return [el("h2", { text: d.signature === null ? "Dump (the debugger's banner)" : "Dump" }), pairs([
    ["Banner", d.banner],
    ["Container", d.signature === null ? d.dump_type : `${d.signature}, DumpType ${d.dump_type_code} (${d.dump_type})`],
    ["Architecture", arch],
    ["OS", `${os.product_name || "unknown Windows version"}, build ${dash(os.build)}`],
    ["Processors", d.processors],
    ["Crash time (UTC)", d.system_time],
    ["Comment", d.comment],
    ["Kernel base", d.kernel_base],
  ])];
}

function host(report) {
  const h = report.host;
  if (!h) return [];
  const topo = h.topology || {};
  const cpu = h.cpu || {};
  const hv = h.hyperv ? Object.keys(h.hyperv).filter((k) => h.hyperv[k] && h.hyperv[k] !== "off").join(" ") : "none";
  return [el("h2", { text: "Host (from the host files)" }), pairs([
    ["VM", `${dash(h.name)} (${dash(h.hypervisor)}, ${dash(h.stack)})`],
    ["Sources", (h.source || []).join(", ")],
    ["Versions", `QEMU ${dash(h.qemu_version)}, libvirt ${dash(h.libvirt_version)}`],
    ["Machine", h.machine],
    ["vCPUs", `${dash(h.vcpus)}: ${dash(topo.sockets)} sockets x ${dash(topo.cores)} cores x ${dash(topo.threads)} threads`],
    ["CPU", `${dash(cpu.mode)} ${dash(cpu.model)}`],
    ["Hyper-V", hv || "none"],
    ["Memory", h.memory_kib ? `${Math.round(h.memory_kib / 1024)} MiB` : null],
  ])];
}

function details(title, content) {
  return el("details", {}, el("summary", { text: title }), content);
}

function facts(report) {
  const out = [];
  if ((report.processors || []).length) {
    out.push(details(`Processors (${report.processors.length})`, table(
      ["cpu", "KPRCB", "thread", "ip", "sp", "state"],
      report.processors.map((p) => [p.index, p.prcb, p.thread, p.ip, p.sp,
        [p.crashed ? "crashed" : "", p.hung ? "HUNG" : ""].filter(Boolean).join(", ") || "-"]))));
  }
  if ((report.vcpus || []).length) {
    // A hung guest's vmcore: what each vCPU was doing (the text renderer's vCPUs table).
    out.push(details(`vCPUs (${report.vcpus.length})`, table(
      ["vCPU", "state", "IF", "RIP", "thread", "IRQL", "why"],
      report.vcpus.map((v) => [v.index, v.state, v.if ? "on" : "off",
        v.module ? `${v.module}+${v.offset}` : v.rip, v.thread, v.irql, v.reason]))));
  }
  if ((report.stack || []).length) {
    out.push(details(`Stack (${report.stack.length} frames)`, table(
      ["stack slot", "address", "where", "found by"],
      report.stack.map((f) => [f.stack_address, f.address, f.symbol || "?", f.method]))));
  }
  if ((report.modules || []).length) {
    out.push(details(`Loaded modules (${report.modules.length})`, table(
      ["module", "base", "class", "vendor", "version"],
      report.modules.map((m) => [m.name, m.base, m.class, m.vendor, m.version]))));
  }
  const anomalies = report.anomalies || [];
  out.push(anomalies.length
    ? details(`Anomalies (${anomalies.length})`, table(["code", "where", "detail"],
      anomalies.map((a) => [a.code, a.where, a.detail])))
    : el("p", { text: "Anomalies: none" }));
  return out;
}

DT.renderReport = function (analysis) {
  const report = analysis.report;
  const label = { debugger_text: "Debugger text", vmcore: "Guest memory (vmcore)" }[report.source.kind]
    || "Dump file";
  const download = el("a", { class: "small", download: `${analysis.name}.json`, text: "JSON" });
  download.href = URL.createObjectURL(new Blob([JSON.stringify(report, null, 2)], { type: "application/json" }));
  return el("div", { class: "report", "data-analysis": analysis.id },
    el("p", { class: "source" }, `${label}: ${report.source.path} `, download),
    ...conclusions(report), ...bugcheck(report), ...culprit(report),
    ...dumpFacts(report.dump), ...host(report), ...facts(report));
};

// The buckets; ``open(signature)`` is called when one is clicked.
DT.renderBuckets = function (answer, open) {
  const buckets = answer.buckets || [];
  if (!buckets.length) return el("p", { class: "muted", text: "No dumps yet." });
  const result = table(["signature", "dumps", "VMs", "first crash", "last crash", "top finding", "example"],
    buckets.map((b) => [b.signature, b.dumps, b.vms, b.first_crash, b.last_crash, b.top_finding, b.example]));
  result.querySelectorAll("tbody tr").forEach((row, i) => {
    const cell = row.firstElementChild;
    const button = el("button", { type: "button", class: "link", text: dash(buckets[i].signature) });
    button.addEventListener("click", () => open(buckets[i].signature));
    cell.replaceChildren(button);
  });
  return result;
};

// One bucket's newest dumps; ``show(id)`` opens the analysis of one.
DT.renderBucket = function (bucket, show) {
  const rows = bucket.recent.map((d) => [d.name, d.vm, d.crash_time, d.bugcheck_name || d.bugcheck,
    d.culprit, d.top_finding, d.analysis ? "report" : "-"]);
  const result = table(["name", "VM", "crash time", "bugcheck", "culprit", "top finding", ""], rows);
  result.querySelectorAll("tbody tr").forEach((row, i) => {
    const id = bucket.recent[i].analysis;
    if (!id) return;
    const button = el("button", { type: "button", class: "small", text: "report" });
    button.addEventListener("click", () => show(id));
    row.lastElementChild.replaceChildren(button);
  });
  return el("div", { class: "bucket" },
    el("h3", { text: `${bucket.signature}: ${bucket.dumps} dumps, ${bucket.vms} VMs` }), result);
};

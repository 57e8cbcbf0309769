// /docs: the OpenAPI document (openapi.json) as a page, without anything from elsewhere.
"use strict";

function schemaText(spec, schema) {
  if (!schema) return "-";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return `array of ${schemaText(spec, schema.items)}`;
  return [].concat(schema.type || schema.enum || "object").join(" | ");
}

function components(spec) {
  const out = [DT.el("h2", { text: "Answers (components)" })];
  for (const [name, schema] of Object.entries(spec.components.schemas)) {
    const rows = Object.entries(schema.properties || {}).map(([field, s]) => DT.el("tr", {},
      DT.el("td", { text: field + ((schema.required || []).includes(field) ? "" : "?") }),
      DT.el("td", { text: s.enum ? s.enum.join(" | ") : schemaText(spec, s) }),
      DT.el("td", { text: s.description || "" })));
    out.push(DT.el("h3", { text: name }), DT.el("p", { class: "muted", text: schema.description || "" }),
      DT.el("table", {}, DT.el("tbody", {}, ...rows)));
  }
  return out;
}

function operations(spec) {
  const out = [DT.el("p", { text: spec.info.description })];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      out.push(DT.el("h2", {}, DT.el("code", { text: `${method.toUpperCase()} ${path}` }), ` ${op.summary}`));
      if (op.description) out.push(DT.el("p", { text: op.description }));
      const params = (op.parameters || []).map((p) => DT.el("li", {},
        DT.el("code", { text: `${p.name} (${p.in}${p.required ? ", required" : ""})` }), ` ${p.description || ""}`));
      if (params.length) out.push(DT.el("p", { class: "label", text: "Parameters" }), DT.el("ul", {}, ...params));
      if (op.requestBody) {
        out.push(DT.el("p", { class: "label", text: "Body" }), DT.el("ul", {},
          ...Object.keys(op.requestBody.content).map((t) => DT.el("li", {}, DT.el("code", { text: t })))));
      }
      const answers = Object.entries(op.responses).map(([code, r]) => {
        const json = r.content && r.content["application/json"];
        return DT.el("li", {}, DT.el("code", { text: code }),
          ` ${json ? schemaText(spec, json.schema) : ""}: ${r.description}`);
      });
      out.push(DT.el("p", { class: "label", text: "Answers" }), DT.el("ul", {}, ...answers));
    }
  }
  return out.concat(components(spec));
}

document.addEventListener("DOMContentLoaded", async () => {
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("version").textContent = `${spec.info.title} ${spec.info.version} (OpenAPI ${spec.openapi})`;
  document.getElementById("spec").replaceChildren(...operations(spec));
});

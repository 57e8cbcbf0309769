// Flatten the fixed-size types of a .ksy into struct formats for the reader's hot path.
//
// Opening a dump for its bugcheck must cost about what the C++ peer costs; the Kaitai
// parser reads the 8 KiB header field by field (~70 calls). The .ksy stays the one
// description: this derives, for every type whose `seq` is all fixed-size fields,
// a `struct` format and the field names, written next to the Kaitai parser and checked
// for staleness by `compile.js --check` like it.
"use strict";

const PRIMITIVES = { u1: "B", u2: "H", u4: "I", u8: "Q", s1: "b", s2: "h", s4: "i", s8: "q" };

// One seq entry -> [struct code, repeat count (0: scalar)], or null when not fixed-size.
function flattenField(field) {
  if (field.contents !== undefined) {
    const len = Array.isArray(field.contents) ? field.contents.length : String(field.contents).length;
    return [len + "s", 0];
  }
  if (field.size !== undefined) {
    // Raw bytes, or a sub-type read from a fixed-size substream: bytes either way.
    return Number.isInteger(field.size) ? [field.size + "s", 0] : null;
  }
  const code = PRIMITIVES[field.type];
  if (code === undefined) return null;
  if (field.repeat === undefined) return [code, 0];
  if (field.repeat === "expr" && Number.isInteger(field["repeat-expr"])) {
    return [String(field["repeat-expr"]) + code, field["repeat-expr"]];
  }
  return null;
}

function flattenType(spec) {
  if (!spec.seq || spec.seq.some((f) => f.if !== undefined)) return null;
  // A type may override the file's byte order (makedumpfile's big-endian lengths).
  let fmt = spec.meta && spec.meta.endian === "be" ? ">" : "<";
  const fields = [];
  for (const field of spec.seq) {
    const flat = flattenField(field);
    if (flat === null) return null;
    fmt += flat[0];
    fields.push([field.id, flat[1]]);
  }
  // Instances that are plain integer constants (e.g. a bitmap's fixed offset).
  const constants = [];
  for (const [id, inst] of Object.entries(spec.instances || {})) {
    if (Number.isInteger(inst.value)) constants.push([id, inst.value]);
  }
  return { fmt, fields, constants };
}

function pyTuple(items) {
  return "(" + items.join(", ") + (items.length === 1 ? ",)" : ")");
}

// Python source: TYPE = (format, ((field, repeat), ...), ((constant, value), ...)).
function flatModule(ksy) {
  const lines = [
    '"""Struct formats of the fixed-size types of formats/' + ksy.meta.id + '.ksy.',
    "",
    "Each entry: (struct format, ((field id, repeat count or 0), ...), ((constant",
    "instance, value), ...)). Read with dumptriage.dump.containers.flat.read_flat.",
    '"""',
    "",
  ];
  let count = 0;
  for (const [name, spec] of Object.entries(ksy.types || {}).sort()) {
    const flat = flattenType(spec);
    if (flat === null) continue;
    const fields = flat.fields.map(([id, n]) => '("' + id + '", ' + n + ")");
    const constants = flat.constants.map(([id, v]) => '("' + id + '", ' + v + ")");
    lines.push(name.toUpperCase() + " = (");
    lines.push('    "' + flat.fmt + '",');
    lines.push("    " + pyTuple(fields) + ",");
    lines.push("    " + pyTuple(constants) + ",");
    lines.push(")");
    count += 1;
  }
  return count ? lines.join("\n") + "\n" : null;
}

module.exports = { flatModule };

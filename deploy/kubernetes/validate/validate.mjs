// Validates Kubernetes objects against the Kubernetes OpenAPI schemas (the npm package
// kubernetes-models, generated from them): every document of each YAML file (several
// documents, "---") or JSON file (an object, or a list of objects) given.
//
// Usage: node validate.mjs FILE...   (exit 0: all valid; 1: a list of what is not)
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE...  (YAML or JSON Kubernetes objects)");
  process.exit(2);
}

const models = new Map();
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  if (!models.has(path)) {
    try {
      models.set(path, await import(path));
    } catch {
      models.set(path, null);
    }
  }
  const mod = models.get(path);
  return mod && mod[kind] ? mod[kind] : null;
}

let checked = 0;
const problems = [];
for (const file of files) {
  const text = readFileSync(file, "utf8");
  let docs;
  if (file.endsWith(".json")) {
    const parsed = JSON.parse(text);
    docs = Array.isArray(parsed) ? parsed : [parsed];
  } else {
    docs = parseAllDocuments(text).map((d) => d.toJSON());
  }
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    const where = `${file}: ${doc.kind ?? "?"} ${doc.metadata?.name ?? "?"}`;
    if (typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") {
      problems.push(`${where}: no apiVersion or kind`);
      continue;
    }
    const Model = await modelFor(doc.apiVersion, doc.kind);
    if (!Model) {
      problems.push(`${where}: ${doc.apiVersion} ${doc.kind} is not a Kubernetes kind`);
      continue;
    }
    // kustomize wraps long base64 values of Secrets; the API server's decoder (Go's
    // encoding/base64) skips the newlines, the schema's "byte" format does not.
    if (doc.kind === "Secret" && doc.data && typeof doc.data === "object") {
      for (const k of Object.keys(doc.data)) {
        if (typeof doc.data[k] === "string") doc.data[k] = doc.data[k].replace(/[\r\n]/g, "");
      }
    }
    try {
      new Model(doc).validate();
      checked++;
    } catch (e) {
      problems.push(`${where}: ${e.message}`);
    }
  }
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`${problems.length} object(s) do not validate (${checked} did)`);
  process.exit(1);
}
console.log(`${checked} object(s) valid against the Kubernetes schemas`);

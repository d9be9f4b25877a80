// Regenerates src/api/schema.d.ts from the server's OpenAPI document, the way the e2e
// test checks it:  node scripts/types.mjs http://127.0.0.1:8080 TOKEN   or   FILE.json
import { readFileSync, writeFileSync } from 'node:fs';
import openapiTS, { astToString } from 'openapi-typescript';

const [from, token] = process.argv.slice(2);
if (!from) {
  console.error('usage: node scripts/types.mjs SERVER_URL TOKEN | openapi.json');
  process.exit(2);
}
const doc = from.startsWith('http')
  ? await (await fetch(`${from}/api/v1/openapi.json`, { headers: { Authorization: `Bearer ${token}` } })).json()
  : JSON.parse(readFileSync(from, 'utf8'));
const header = '// Generated from the server\'s OpenAPI document by scripts/types.mjs: do not edit.\n';
writeFileSync(new URL('../src/api/schema.d.ts', import.meta.url), header + astToString(await openapiTS(doc)));
console.log('wrote src/api/schema.d.ts');

// Writes a .gz beside every text file of the built console, for `jizhan server` to send
// to clients that accept gzip (api/console.h). Usage: node scripts/gzip.mjs DIR
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dir = process.argv[2] ?? process.env.JZ_CONSOLE_OUT ?? 'dist';
const text = /\.(js|css|html|svg|json|txt|map)$/;
let files = 0;
const walk = (d) => {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (text.test(name)) {
      writeFileSync(p + '.gz', gzipSync(readFileSync(p), { level: 9 }));
      files++;
    }
  }
};
walk(dir);
console.log(`gzip: ${files} files in ${dir}`);

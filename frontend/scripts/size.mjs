// Size of what a browser downloads on first load: index.html, the entry script
// with everything it statically imports, the stylesheet, and the chunk of the
// page it lands on (wizard, login or dashboard), raw and gzip. `npm run size`
// after `npm run build`.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, basename } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = new URL('../../wgpilot/web/dist/', import.meta.url).pathname;
if (!existsSync(join(dist, 'index.html'))) {
  console.error('no build in wgpilot/web/dist: run npm run build first');
  process.exit(1);
}
const read = (rel) => readFileSync(join(dist, rel));
const html = read('index.html').toString();
// every script and stylesheet of the page: hashed assets and the pre-paint /theme.js
const assets = [...html.matchAll(/(?:src|href)="\/((?:assets\/)?[^"/]+\.(?:js|css))"/g)].map((m) => m[1]);

function closure(start) {
  const seen = new Set();
  const todo = [...start];
  while (todo.length) {
    const rel = todo.pop();
    if (seen.has(rel)) continue;
    seen.add(rel);
    if (!rel.endsWith('.js')) continue;
    const src = read(rel).toString();
    // static imports only ("import{a}from"./x.js"" and "import"./x.js""), not import("…")
    for (const m of src.matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) todo.push(`assets/${m[1]}`);
  }
  return seen;
}

const size = (files) => {
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const b = read(f);
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  return { raw, gz };
};
const kb = (n) => `${(n / 1024).toFixed(1)} kB`;

const shell = closure(assets);
const shellSize = size(['index.html', ...shell]);
console.log(`shell (index.html + entry + css + static imports): ${kb(shellSize.raw)} raw, ${kb(shellSize.gz)} gzip`);
const chunks = readdirSync(join(dist, 'assets'));
for (const page of ['Dashboard', 'Wizard']) {
  const chunk = chunks.find((c) => c.startsWith(`${page}-`) && c.endsWith('.js'));
  if (!chunk) continue;
  const files = new Set([...shell, ...closure([`assets/${chunk}`])]);
  const s = size(['index.html', ...files]);
  console.log(`first load landing on ${page.padEnd(9)}: ${kb(s.raw)} raw, ${kb(s.gz)} gzip  (${files.size} files)`);
}
const total = size(chunks.map((c) => `assets/${c}`));
console.log(`all assets: ${kb(total.raw)} raw, ${kb(total.gz)} gzip (${chunks.length} files); ${basename(dist)}/`);

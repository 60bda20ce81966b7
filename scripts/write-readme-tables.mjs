// Rewrites the README's configuration and flag tables from the table in
// src/core/options.ts (`npm run readme`); test/readme.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { readmeTables } from '../dist/core/options.js';

const file = new URL('../README.md', import.meta.url);
let text = readFileSync(file, 'utf8');
for (const [name, table] of Object.entries(readmeTables())) {
  const pattern = new RegExp(`<!-- table:${name} -->[\\s\\S]*?<!-- /table:${name} -->`);
  if (!pattern.test(text))
    throw new Error(`README.md has no <!-- table:${name} --> ... <!-- /table:${name} --> markers`);
  text = text.replace(pattern, () => `<!-- table:${name} -->\n${table}\n<!-- /table:${name} -->`);
}
writeFileSync(file, text);

// mocha's settings. Test files run two at a time (parallel mode), each in a worker, handed out in
// the order below: the longest first, so that no long file starts last and runs alone at the end.
// Every test/*.test.ts runs; the list only orders them (a file not named goes after, by name).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const FIRST = ['types', 'copy-mode', 'cli', 'pipeline', 'clean'];
const rank = (file) => {
  const index = FIRST.indexOf(path.basename(file, '.test.ts'));
  return index === -1 ? FIRST.length : index;
};
const spec = fs.readdirSync(path.join(__dirname, 'test'))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => `test/${name}`)
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

module.exports = {
  'node-option': ['import=tsx'],
  spec,
  reporter: './test/support/summary-reporter.cjs',
  timeout: 60000,
  slow: 2000,
  parallel: true,
  jobs: 2,
};

// mocha's settings. Test files run two at a time (parallel mode), each in a worker, handed out in
// the order below: longest first (each file's time in a parallel run, measured), so the two
// workers end together instead of one running the last mid-sized files alone. Every
// test/*.test.ts runs; the list only orders them (a file not named goes after, by name).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const FIRST = [
  'copy-faults',
  'copy-crash',
  'cli',
  'readme',
  'pipeline',
  'copy-mode',
  'watch',
  'publish-command',
  'clean',
  'hostile-root',
  'link',
  'publish',
  'untrusted-input',
  'types',
  'verify',
  'collect',
  'first-contact',
  'config',
  'hostile',
  'collect-crash',
  'collect-safety',
  'refused-links',
  'collect-browser',
  'property',
  'stamps',
  'collect-pipeline',
  'publish-plan',
  'bench',
];
const rank = (file) => {
  const index = FIRST.indexOf(path.basename(file, '.test.ts'));
  return index === -1 ? FIRST.length : index;
};
const spec = fs
  .readdirSync(path.join(__dirname, 'test'))
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

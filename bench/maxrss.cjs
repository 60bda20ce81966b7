// Preloaded with `node --require` when GNU time is not installed: writes the
// process's peak resident set size (KiB) to $BENCH_MAXRSS_FILE when it exits.
'use strict';
const { writeFileSync } = require('node:fs');

const file = process.env.BENCH_MAXRSS_FILE;
if (file) {
  delete process.env.BENCH_MAXRSS_FILE;
  process.on('exit', () => {
    writeFileSync(file, `${process.resourceUsage().maxRSS}\n`);
  });
}

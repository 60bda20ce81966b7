#!/usr/bin/env node
// The `app-media` command: `app-media <link|clean|verify|find|watch|collect|publish> [flags]`.
// CommonJS (bin/package.json), as the bundle it runs: no ES module loader at start-up.
'use strict';
require('../dist/app-media.cjs')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });

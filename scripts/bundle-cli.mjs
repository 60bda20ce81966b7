// Bundles the `app-media` command into one file (run by `npm run build`): a
// command run on every install should start as fast as node itself, and
// loading one file instead of thirty is most of that. Modules only some runs
// need (glob-watcher for watch, vinyl for mediaSrc) stay outside and are
// loaded when used.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../dist/cli.js', import.meta.url).pathname],
  outfile: new URL('../dist/app-media.js', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // publish (and its AWS SDK) and collect (its worker pool, zlib, postcss): loaded from
  // dist/publish/ and dist/collect/ when they run, never at a link's start-up. Their errors
  // come from another copy of errors.js, which isAppMediaError accepts.
  external: ['vinyl', 'vinyl-fs', 'vinyl-sourcemap', 'glob-watcher', 'picomatch', 'postcss', 'postcss-value-parser', 'through2', 'del', 'globby',
    '@aws-sdk/client-s3', '@aws-sdk/lib-storage', 'mime-types', './publish/*', './collect/*'],
  logLevel: 'warning',
});

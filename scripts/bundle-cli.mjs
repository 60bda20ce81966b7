// Bundles the `app-media` command into one file (run by `npm run build`): a
// command run on every install should start as fast as node itself, and
// loading one file instead of thirty is most of that. Modules only some runs
// need (glob-watcher for watch, vinyl for mediaSrc) stay outside and are
// loaded when used. The bundle is CommonJS (dist/app-media.cjs, required by
// bin/app-media.js, which bin/package.json makes CommonJS too): a command that
// loads no ES module never starts Node's ES module loader, about 10 ms of a
// start-up on the machines the bench runs on. collect, publish and a config
// file written as an ES module are still loaded with import() when a run needs them.
import path from 'node:path';
import { build } from 'esbuild';

const outfile = new URL('../dist/app-media.cjs', import.meta.url).pathname;

/**
 * publish and collect stay out of the bundle: their imports are pointed at dist/publish/ and dist/collect/ from where
 * the bundle lies.
 */
const pipelinesOutside = {
  name: 'pipelines-outside',
  setup(bundle) {
    bundle.onResolve({ filter: /(^|\/)(publish|collect)\/[^/]+\.js$/ }, (args) => {
      const target = path.resolve(args.resolveDir, args.path);
      return { path: `./${path.relative(path.dirname(outfile), target).split(path.sep).join('/')}`, external: true };
    });
  },
};

await build({
  entryPoints: [new URL('../dist/cli/main.js', import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // import.meta.url (createRequire, the package.json beside the bundle) as CommonJS gives it.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  external: [
    'vinyl',
    'vinyl-fs',
    'vinyl-sourcemap',
    'glob-watcher',
    'picomatch',
    'postcss',
    'postcss-value-parser',
    'through2',
    'del',
    'globby',
    '@aws-sdk/client-s3',
    '@aws-sdk/lib-storage',
    'mime-types',
  ],
  // publish (and its AWS SDK) and collect (its worker pool, zlib, postcss): loaded from
  // dist/publish/ and dist/collect/ when they run, never at a link's start-up. Their errors
  // come from another copy of errors.js, which isAppMediaError accepts.
  plugins: [pipelinesOutside],
  logLevel: 'warning',
});

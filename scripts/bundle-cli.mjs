// Bundles the `app-media` command into one file (run by `npm run build`): a
// command run on every install should start as fast as node itself, and
// loading one file instead of thirty is most of that. Modules only some runs
// need (glob-watcher for watch, vinyl for mediaSrc) stay outside and are
// loaded when used.
import path from 'node:path';
import { build } from 'esbuild';

const outfile = new URL('../dist/app-media.js', import.meta.url).pathname;

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
  format: 'esm',
  target: 'node20',
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

/**
 * mediaSrc(): every configured app's media files as one vinyl stream, for
 * gulp pipelines. `file.relative` is `<name>/...`, as the files are published.
 * It streams exactly what a copy publishes: the same walk, so `ignore`
 * applies, a link to a file inside the media folder comes as that file under
 * the link's name, and links that lead outside (or nowhere) are left out.
 *
 * The files are built here from that walk rather than by vinyl-fs's `src`
 * glob: its walker (glob-stream 8) fails on any dangling link in a folder and
 * resolves relative link texts against the process's folder.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type Vinyl from 'vinyl';
import { loadConfig } from './config/load.js';
import { discoverApps, type App } from './discover.js';
import { walkTree } from './fs/walk.js';
import type { RunOptions } from './types.js';

/** What vinyl-fs's `src` options mean here. */
export interface MediaSrcFileOptions {
  /** Read the contents (default true); false leaves `file.contents` null. */
  read?: boolean;
  /** Buffer the contents (default true); false gives a readable stream. */
  buffer?: boolean;
  /** Only files modified after this time. */
  since?: Date | number;
  /** Load or create a source map on each file (`file.sourceMap`), as vinyl-fs does. */
  sourcemaps?: boolean;
}

export type MediaSrcOptions = RunOptions & MediaSrcFileOptions;

export function mediaSrc(options: MediaSrcOptions = {}): Readable {
  const out = new PassThrough({ objectMode: true, highWaterMark: 16 });
  start(options, out).catch((error: unknown) => out.destroy(error as Error));
  return out;
}

async function start(options: MediaSrcOptions, out: PassThrough): Promise<void> {
  const { read: _read, buffer: _buffer, since: _since, sourcemaps: _sourcemaps, ...runOptions } = options;
  const config = await loadConfig(runOptions);
  const apps = discoverApps(config);
  const [{ default: VinylClass }, sourcemap] = await Promise.all([
    import('vinyl'),
    options.sourcemaps ? import('vinyl-sourcemap') : Promise.resolve(undefined),
  ]);
  const since = options.since === undefined ? undefined : +options.since;
  // One app at a time, in config order, one file at a time: memory stays flat.
  for (const app of apps) {
    if (!(await hasMedia(app))) continue;
    const tree = await walkTree(app.mediaDir, { ignore: config.ignore, followInternalLinks: true });
    const base = path.dirname(app.mediaDir);
    for (const [rel, facts] of tree.files) {
      if (out.destroyed) return;
      if (since !== undefined && facts.mtimeMs <= since) continue;
      const real = tree.links?.get(rel) ?? path.join(app.mediaDir, ...rel.split('/'));
      const stat = await fs.stat(real);
      const file: Vinyl = new VinylClass({ cwd: config.projectRoot, base, path: path.join(base, app.name, ...rel.split('/')), stat });
      if (options.read !== false) file.contents = options.buffer === false ? createReadStream(real) : await fs.readFile(real);
      if (sourcemap) await new Promise<void>((resolve, reject) => sourcemap.add(file, (error: Error | null, updated?: Vinyl) => (error ? reject(error) : (updated && (file.sourceMap = updated.sourceMap), resolve()))));
      if (!out.write(file)) await new Promise<void>((resolve) => out.once('drain', resolve));
    }
  }
  out.end();
}

async function hasMedia(app: App): Promise<boolean> {
  const stat = await fs.stat(app.mediaDir).catch(() => undefined);
  return stat?.isDirectory() ?? false;
}

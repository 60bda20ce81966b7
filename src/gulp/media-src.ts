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
import { createReadStream, promises as fs, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline, PassThrough, type Readable, type Transform } from 'node:stream';
import type Vinyl from 'vinyl';
import { loadConfig } from '../core/config/load.js';
import { discoverApps, type App } from '../core/discover.js';
import { MediaReader, type OpenSource } from '../core/fs/source.js';
import { walkTree, type FileFacts } from '../core/fs/walk.js';
import type { RunOptions } from '../core/types.js';

const require = createRequire(import.meta.url);
type Through2 = typeof import('through2');
/** through2 is loaded with the first mediaSrc(): a run of the tasks never loads it. */
const through2 = (): Through2 => require('through2') as Through2;

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

/** Told when a file of an app no longer needs the app's open media folder. */
const DONE = Symbol('mediaSrc: read');

/** A file as the walk found it, before its contents are read: where to read them, and what the walk saw. */
interface Found {
  file: Vinyl;
  /** The app's media folder, held open while its files are read (core/fs/source.ts). */
  reader: MediaReader;
  /** Its path in the media folder, and where a link there leads (inside the folder). */
  rel: string;
  linkedTo: string | undefined;
  facts: FileFacts;
}

/**
 * The files, as a chain of object-mode transforms (through2, as gulp's plugin guidelines ask):
 * the walk's files, then `since`, then contents, then source maps. Each step passes back-pressure
 * on, and an error of any step is the returned stream's error.
 */
export function mediaSrc(options: MediaSrcOptions = {}): Readable {
  const found = new PassThrough({ objectMode: true, highWaterMark: 16 });
  const steps: Transform[] = [];
  if (options.since !== undefined) steps.push(modifiedSince(+options.since));
  steps.push(withContents(options.read !== false, options.buffer !== false));
  if (options.sourcemaps) steps.push(withSourceMaps());
  // What the user pipes from is a stream of Node's own, fed by the steps, with no error handler of
  // ours on it: an error of any step is its error, which gulp (its domain) takes as the task's, as
  // for gulp.src.
  const out = new PassThrough({ objectMode: true, highWaterMark: 16 });
  const last = steps[steps.length - 1] as Transform;
  pipeline([found, ...steps], (error) => {
    if (error && !out.destroyed) out.destroy(error);
  });
  // Forwarded by hand: a pipe() would put its own error handler on `out`.
  last.on('data', (file: Vinyl) => {
    if (!out.write(file)) last.pause();
  });
  out.on('drain', () => last.resume());
  last.on('end', () => out.end());
  // A failure of the listing (a config error) is the returned stream's own.
  start(options, found).catch((error: unknown) => out.destroy(error as Error));
  return out;
}

async function start(options: MediaSrcOptions, out: PassThrough): Promise<void> {
  const { read: _read, buffer: _buffer, since: _since, sourcemaps: _sourcemaps, ...runOptions } = options;
  const config = await loadConfig(runOptions);
  const apps = discoverApps(config);
  const { default: VinylClass } = await import('vinyl');
  // One app at a time, in config order, one file at a time: memory stays flat.
  for (const app of apps) {
    if (!(await hasMedia(app))) continue;
    const tree = await walkTree(app.mediaDir, { ignore: config.ignore, followInternalLinks: true });
    const base = path.dirname(app.mediaDir);
    // Held open until its last file is read; a media folder leading out of its app is refused here.
    const reader = MediaReader.open(app.mediaDir, app.appDir, undefined);
    const files = [...tree.files];
    let left = files.length;
    const done = (): void => {
      if (--left === 0) reader.close();
    };
    if (left === 0) reader.close();
    for (const [rel, facts] of files) {
      if (out.destroyed) {
        reader.close();
        return;
      }
      const linkedTo = tree.links?.get(rel);
      const stat = await fs.stat(linkedTo ?? path.join(app.mediaDir, ...rel.split('/')));
      const file: Vinyl = new VinylClass({
        cwd: config.projectRoot,
        base,
        path: path.join(base, app.name, ...rel.split('/')),
        stat,
      });
      (file as Vinyl & { [DONE]?: () => void })[DONE] = done;
      const item: Found = { file, reader, rel, linkedTo, facts };
      if (!out.write(item)) await new Promise<void>((resolve) => out.once('drain', resolve));
    }
  }
  out.end();
}

/** Only files modified after `since` (ms). */
function modifiedSince(since: number): Transform {
  return through2().obj(function newer(item: Found, _encoding, callback) {
    if (item.facts.mtimeMs > since) {
      callback(null, item);
      return;
    }
    (item.file as Vinyl & { [DONE]?: () => void })[DONE]?.();
    callback();
  });
}

/**
 * The file's contents, read as a copy reads them: opened without following a link, checked to be
 * the file the walk saw (core/fs/source.ts). Emits the Vinyl file itself from here on.
 */
function withContents(read: boolean, buffer: boolean): Transform {
  return through2().obj(function contents(item: Found, _encoding, callback) {
    if (!read) {
      (item.file as Vinyl & { [DONE]?: () => void })[DONE]?.();
      callback(null, item.file);
      return;
    }
    let source: OpenSource;
    try {
      source = item.reader.open(item.rel, item.facts, item.linkedTo);
    } catch (error) {
      callback(error);
      return;
    } finally {
      (item.file as Vinyl & { [DONE]?: () => void })[DONE]?.();
    }
    if (!buffer) {
      // The stream reads the open file and closes it when done.
      item.file.contents = createReadStream('', { fd: source.fd, autoClose: true });
      callback(null, item.file);
      return;
    }
    try {
      item.file.contents = readFileSync(source.fd);
      callback(null, item.file);
    } catch (error) {
      callback(error);
    } finally {
      source.close();
    }
  });
}

/** A source map on each file (`file.sourceMap`), loaded or made as vinyl-fs's `sourcemaps` option does. */
function withSourceMaps(): Transform {
  return through2().obj(function sourceMaps(file: Vinyl, _encoding, callback) {
    import('vinyl-sourcemap').then(
      (sourcemap) => {
        sourcemap.add(file, (error: Error | null, updated?: Vinyl) => {
          if (error) return callback(error);
          if (updated) file.sourceMap = updated.sourceMap as unknown;
          callback(null, file);
        });
      },
      (error: unknown) => callback(error as Error),
    );
  });
}
async function hasMedia(app: App): Promise<boolean> {
  const stat = await fs.stat(app.mediaDir).catch(() => undefined);
  return stat?.isDirectory() ?? false;
}

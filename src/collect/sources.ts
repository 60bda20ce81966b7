/**
 * What collect publishes: every configured app's media files, by the same
 * walk a copy uses (the `ignore` globs apply; a link to a file inside the
 * media folder is that file; a link leading outside the media folder, or
 * nowhere, is refused and named; FIFOs, sockets and devices are never read).
 *
 * A media folder that resolves outside its app's folder (it is, or passes
 * through, a link leading out) is `escape`, as for link (link/probe.ts
 * sourceFacts): it is not walked and nothing of it is read. A source is read
 * only through core/fs/source.ts openSource (no link followed, no FIFO waited on,
 * the very file the walk saw: device, inode, size, time) and, where the
 * system names an open file (Linux), only if that file lies inside the media
 * folder: a folder on the way swapped for a link after the walk leads to
 * nothing that is read.
 */
import { readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { toDisplay } from '../core/display.js';
import type { App } from '../core/discover.js';
import { folderKind } from '../core/fs/folder.js';
import { pause } from '../core/fs/pause.js';
import { realPaths } from '../core/fs/real-paths.js';
import { openSource, SourceChanged } from '../core/fs/source.js';
import { isInside, walkTreeSync } from '../core/fs/walk.js';
import { realpathOfPath } from '../core/fs/real-paths.js';
import { sourceFacts } from '../core/media-folder.js';
import { isSystemError, type SystemError } from '../core/system-errors.js';
import { readAll } from './disk.js';

export interface Source {
  /** The published path: `<app>/<path in its media folder>`. */
  logical: string;
  app: App;
  /** The file to read: the real path of a followed link. */
  file: string;
  size: number;
  mtimeMs: number;
  /** Device and inode as the walk saw them: the file read must be this very file. */
  dev: number;
  ino: number;
  /** The real path of the app's media folder: the file read must be inside it. */
  root: string;
  /** The source as the user reads it (relative to the project root), for warnings with a line. */
  shown: string;
}

export interface AppSources {
  app: App;
  hasMedia: boolean;
  files: Source[];
  /** Links that lead outside the media folder: refused, never read. */
  escapes: string[];
  /** Entries left out: dangling links, loops, FIFOs, sockets, devices. */
  skipped: string[];
  /** The media folder could not be walked (EACCES...). */
  error?: SystemError;
  /**
   * The media folder resolves outside its app's folder (it is, or passes through, a link leading
   * out): where it leads. It is not walked and nothing of it is read or published.
   */
  escape?: string;
}

export function walkSources(apps: readonly App[], ignore: readonly string[], projectRoot: string): AppSources[] {
  // The media folders' real paths share the project's: resolved once (link/probe.ts does the same).
  const realOf = realPaths([[path.resolve(projectRoot), realpathOfPath(projectRoot)]]);
  return apps.map((app) => {
    const out: AppSources = { app, hasMedia: false, files: [], escapes: [], skipped: [] };
    try {
      if (!statSync(app.mediaDir, { throwIfNoEntry: false })?.isDirectory()) return out;
      out.hasMedia = true;
      // The same look as link's: a media folder leading out of its app is `escape`, never walked.
      const facts = sourceFacts(app, realOf);
      if (facts.kind === 'escape') {
        out.escape = facts.real ?? '?';
        return out;
      }
      if (facts.kind !== 'dir' || facts.real === undefined) {
        out.hasMedia = false; // gone since the look above
        return out;
      }
      const real = facts.real;
      const tree = walkTreeSync(app.mediaDir, { ignore, followInternalLinks: true, realRoot: real });
      out.escapes = tree.escapes;
      out.skipped = tree.skipped;
      // Once per file on every run, the no-change re-run too: the folder's path and its display are
      // made once, and each file's are the folder's with the file's relative path after them.
      const base = app.mediaDir.endsWith(path.sep) ? app.mediaDir : `${app.mediaDir}${path.sep}`;
      const shownDir = toDisplay(projectRoot, app.mediaDir);
      for (const [rel, facts] of tree.files) {
        const full = base + (path.sep === '/' ? rel : rel.split('/').join(path.sep));
        const file = tree.links?.get(rel) ?? full;
        out.files.push({
          logical: `${app.name}/${rel}`,
          app,
          file,
          size: facts.size,
          mtimeMs: facts.mtimeMs,
          dev: facts.dev,
          ino: facts.ino,
          root: real,
          shown: shownDir === '.' ? rel : `${shownDir}/${rel}`,
        });
      }
    } catch (error) {
      if (!isSystemError(error)) throw error;
      out.error = error;
    }
    return out;
  });
}

/** A source file, open for reading: `fd` is read by position or to its end; the caller closes it. */
export interface OpenedSource {
  fd: number;
  close(): void;
}

/**
 * Opens a source to read it: without following a link or waiting on a FIFO, the very file the
 * walk saw (core/fs/source.ts), and (where /proc names the open file) inside the app's media folder.
 * Anything else is `SourceChanged`: that app's error, nothing of it read.
 */
export function openMediaFile(source: Source): OpenedSource {
  pause('read', source.logical);
  const open = openSource(source.file, source.shown, source);
  try {
    if (folderKind() === 'descriptor') {
      // The open file's own path, from its folder entries as they are now: a folder on its way
      // swapped for a link (during the walk, or since) shows as a path outside the media folder.
      const where = readlinkSync(`/proc/self/fd/${open.fd}`);
      if (!isInside(source.root, where)) {
        throw new SourceChanged(
          `${source.shown} is no longer inside the app's media folder (it is ${where}: ` +
            `a folder on its way was replaced by a link); it was not read`,
        );
      }
    }
  } catch (error) {
    open.close();
    throw error;
  }
  return { fd: open.fd, close: () => open.close() };
}

/** A source's whole bytes, read as `openMediaFile` allows. */
export function readSource(source: Source): Buffer {
  const open = openMediaFile(source);
  try {
    return readAll(open.fd, source.size);
  } finally {
    open.close();
  }
}

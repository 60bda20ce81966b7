/**
 * What collect publishes: every configured app's media files, by the same
 * walk a copy uses (the `ignore` globs apply; a link to a file inside the
 * media folder is that file; a link leading outside the media folder, or
 * nowhere, is refused and named; FIFOs, sockets and devices are never read).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { toDisplay } from '../config/load.js';
import type { App } from '../discover.js';
import { walkTreeSync } from '../fs/walk.js';
import { isSystemError, type SystemError } from '../system-errors.js';

export interface Source {
  /** The published path: `<app>/<path in its media folder>`. */
  logical: string;
  app: App;
  /** The file to read: the real path of a followed link. */
  file: string;
  size: number;
  mtimeMs: number;
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
}

export function walkSources(apps: readonly App[], ignore: readonly string[], projectRoot: string): AppSources[] {
  return apps.map((app) => {
    const out: AppSources = { app, hasMedia: false, files: [], escapes: [], skipped: [] };
    try {
      if (!statSync(app.mediaDir, { throwIfNoEntry: false })?.isDirectory()) return out;
      out.hasMedia = true;
      const tree = walkTreeSync(app.mediaDir, { ignore, followInternalLinks: true });
      out.escapes = tree.escapes;
      out.skipped = tree.skipped;
      for (const [rel, facts] of tree.files) {
        const file = tree.links?.get(rel) ?? path.join(app.mediaDir, ...rel.split('/'));
        out.files.push({
          logical: `${app.name}/${rel}`,
          app,
          file,
          size: facts.size,
          mtimeMs: facts.mtimeMs,
          shown: toDisplay(projectRoot, path.join(app.mediaDir, ...rel.split('/'))),
        });
      }
    } catch (error) {
      if (!isSystemError(error)) throw error;
      out.error = error;
    }
    return out;
  });
}

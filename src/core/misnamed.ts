/**
 * When an app's `<mediaDirname>/<name>/` is missing, the folder its author probably meant, with
 * the fix: a hint for the report, never acted on. Read-only.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { App } from './discover.js';
import { nearest } from './util/nearest.js';

/** A folder that looks like a misnamed media folder, and how to fix the name. */
export interface Misnaming {
  found: string;
  fix: string;
}

const MEDIA_LIKE = ['app_media', 'app-media', 'appmedia', 'media', 'static', 'assets', 'public'];

/**
 * When `<mediaDirname>/<name>/` is missing, look for the folder the author probably meant.
 * Synchronous, like the rest of an app's look: a project of 10,000 apps without media spent
 * half of a run waiting for 10,000 promised listings (hostile.test.ts).
 */
export function findMisnaming(app: App): Misnaming | undefined {
  const mediaParent = path.join(app.appDir, app.mediaDirname);
  const inMedia = subfolders(mediaParent);
  if (inMedia) {
    // Files, or only folders such as css/ and js/, right in the media folder: the <name>/ level was forgotten.
    const content = inMedia.filter((dir) => CONTENT_LIKE.includes(dir.toLowerCase()));
    if (nearest(app.name, inMedia) === undefined && (content.length > 0 || hasFiles(mediaParent))) {
      return {
        found: `${app.mediaDirname}/${content[0] ?? inMedia[0] ?? ''}`.replace(/\/$/, '/ holding files'),
        fix:
          `the files must sit one level deeper, in ${app.mediaDirname}/${app.name}/ (the <name>/ ` +
          `folder is part of their URL): move them into it`,
      };
    }
    const close = nearest(app.name, inMedia) ?? (inMedia.length === 1 ? inMedia[0] : undefined);
    if (close) {
      return {
        found: `${app.mediaDirname}/${close}`,
        fix: `rename it to ${app.mediaDirname}/${app.name}/, or give the app "name": "${close}"`,
      };
    }
    return undefined;
  }
  const inApp = subfolders(app.appDir);
  for (const candidate of inApp ?? []) {
    if (!MEDIA_LIKE.includes(candidate.toLowerCase()) && nearest(candidate, [app.mediaDirname]) === undefined) continue;
    const inside = subfolders(path.join(app.appDir, candidate));
    if (inside?.includes(app.name)) {
      return {
        found: `${candidate}/${app.name}`,
        fix:
          `set "mediaDirname": "${candidate}" for this app (in its apps entry or its package.json "appMedia"), ` +
          `or rename the folder to ${app.mediaDirname}/`,
      };
    }
  }
  return undefined;
}

/** Folder names that hold media, not an app's name. */
const CONTENT_LIKE = [
  'css',
  'js',
  'img',
  'images',
  'image',
  'fonts',
  'font',
  'icons',
  'scripts',
  'styles',
  'svg',
  'media',
  'assets',
  'static',
  'dist',
  'vendor',
];

function hasFiles(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((entry) => entry.isFile());
  } catch {
    return false;
  }
}

function subfolders(dir: string): string[] | undefined {
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    return entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch {
    return undefined;
  }
}

/**
 * media:collect's settings, from the resolved configuration and the run's
 * options, and the refusals that come before anything is read in
 * collectRoot (spec §6 rule 6, for the build's folder).
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ResolvedConfig } from '../core/config/load.js';
import { toDisplay } from '../core/display.js';
import type { App } from '../core/discover.js';
import { errors } from '../core/errors.js';
import { isInside } from '../core/fs/walk.js';
import { realpathOfPath } from '../core/fs/real-paths.js';
import type { RunOptions } from '../core/types.js';
import { MANIFEST_NAME, REV_MANIFEST_NAME } from './names.js';
import type { Levels } from './pool.js';

/** Bump when what collect writes for the same sources changes: every file is then written anew. */
export const OUTPUT_FORMAT = 1;

export interface CollectSettings {
  projectRoot: string;
  /** collectRoot as configured (absolute), and its real path (where the work is done). */
  collectRoot: string;
  realRoot: string;
  /** collectRoot as the user reads it: relative to the project root. */
  shown: string;
  mediaRoot: string;
  mediaUrl: string;
  ignore: string[];
  keep: number;
  keepOriginals: boolean;
  hashLength: number;
  /** null: no .br/.gz at all. */
  compress: Levels | null;
  revManifest: boolean;
  strict: boolean;
  dryRun: boolean;
}

export function collectSettings(config: ResolvedConfig, options: RunOptions): CollectSettings {
  if (config.collectRoot === undefined)
    throw errors.missingField(config.file, `${config.fieldPrefix}collectRoot`, '"collectRoot": "dist/media"');
  return {
    projectRoot: config.projectRoot,
    collectRoot: config.collectRoot,
    realRoot: realpathOfPath(config.collectRoot),
    shown: toDisplay(config.projectRoot, config.collectRoot),
    mediaRoot: config.mediaRoot,
    mediaUrl: config.mediaUrl,
    ignore: config.ignore,
    keep: config.keep,
    keepOriginals: config.keepOriginals,
    hashLength: config.hashLength,
    compress: config.compress ? { brotli: config.brotliLevel, gzip: config.gzipLevel } : null,
    revManifest: config.revManifest,
    strict: options.strict ?? false,
    dryRun: options.dryRun ?? false,
  };
}

/**
 * What decides the bytes and names collect writes for the same sources: when it changes, the
 * index's knowledge of each file is not reused (every file is looked at again).
 */
export function settingsDigest(settings: CollectSettings): string {
  const relevant = {
    format: OUTPUT_FORMAT,
    mediaUrl: settings.mediaUrl,
    hashLength: settings.hashLength,
    keepOriginals: settings.keepOriginals,
    compress: settings.compress,
    revManifest: settings.revManifest,
    keep: settings.keep,
    ignore: settings.ignore,
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 16);
}

function realHome(): string {
  try {
    return realpathSync(os.homedir());
  } catch {
    return os.homedir();
  }
}

/**
 * Refuses a collectRoot that could make collect write where it must not: a file system root,
 * the home folder, the project root or a folder holding the project or the home folder;
 * mediaRoot, a folder inside it or holding it; a folder inside an app, or holding an app's
 * media folder. Real paths, so links cannot hide any of these. Also app names that would
 * land on collect's own files at the top of collectRoot.
 */
export function checkCollectRoot(
  config: ResolvedConfig,
  settings: CollectSettings,
  apps: readonly App[],
  home = realHome(),
): void {
  const root = settings.realRoot;
  const refuse = (why: string): never => {
    throw errors.unsafeCollectRoot(config.file, settings.shown, why);
  };
  const project = realpathOfPath(config.projectRoot);
  const media = realpathOfPath(config.mediaRoot);
  if (path.parse(root).root === root) refuse('it is the root of a file system');
  if (root === home) refuse('it is your home folder');
  if (root === project) refuse('it is the project root');
  if (isInside(root, project)) refuse('it contains the project itself');
  if (isInside(root, home)) refuse('it contains your home folder');
  if (root === media) refuse("it is mediaRoot (media:link's folder); the build needs a folder of its own");
  if (isInside(media, root)) refuse(`it is inside mediaRoot ${toDisplay(config.projectRoot, config.mediaRoot)}`);
  if (isInside(root, media)) refuse(`it contains mediaRoot ${toDisplay(config.projectRoot, config.mediaRoot)}`);
  for (const app of apps) {
    const appDir = realpathOfPath(app.appDir);
    const mediaDir = realpathOfPath(app.mediaDir);
    if (isInside(appDir, root)) refuse(`it is inside app "${app.name}" (${toDisplay(config.projectRoot, app.appDir)})`);
    if (isInside(root, mediaDir))
      refuse(`it contains app "${app.name}"'s media folder ${toDisplay(config.projectRoot, app.mediaDir)}`);
    if (app.name === MANIFEST_NAME || app.name === REV_MANIFEST_NAME) {
      throw errors.badName(
        config.file,
        app.field,
        app.name,
        `collect writes its own ${app.name} at the top of collectRoot`,
      );
    }
  }
}

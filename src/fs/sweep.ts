/**
 * Sweeps what an interrupted run left behind: temporary files and folders
 * (named `.app-media-tmp-*`, in mediaRoot and inside the tool's own copies)
 * and lock files moved aside. Runs only while holding the lock, so no
 * other run's temporary file is in progress.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE, parseManifest } from '../ownership.js';
import { removeTree, TEMP_MARK } from './copy.js';
import { isLeftoverLock, LOCK_FILE } from './lock.js';

export async function sweepLeftovers(mediaRoot: string): Promise<number> {
  let swept = 0;
  const names = await fs.readdir(mediaRoot).catch(() => [] as string[]);
  for (const name of names) {
    const full = path.join(mediaRoot, name);
    if (name.startsWith(TEMP_MARK)) {
      const stat = await fs.lstat(full).catch(() => undefined);
      if (stat?.isDirectory()) await removeTree(full);
      else await fs.rm(full, { force: true });
      swept++;
    } else if (name.startsWith(`${LOCK_FILE}.`)) {
      // A lock moved aside, or a draft of a run killed while taking the lock; a fresh one may be in use.
      if (await isLeftoverLock(full)) await fs.rm(full, { force: true });
    }
  }
  const manifest = parseManifest(await fs.readFile(path.join(mediaRoot, MANIFEST_FILE), 'utf8').catch(() => undefined));
  for (const [name, record] of Object.entries(manifest.entries)) {
    if (record.kind === 'copy') swept += await sweepInside(path.join(mediaRoot, name));
  }
  return swept;
}

/** Temporary files inside a copy; never enters a link. */
async function sweepInside(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  let swept = 0;
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.name.startsWith(TEMP_MARK) && !entry.isSymbolicLink()) {
      if (entry.isDirectory()) await removeTree(full);
      else await fs.rm(full, { force: true });
      swept++;
    } else if (entry.isDirectory()) {
      swept += await sweepInside(full);
    }
  }
  return swept;
}

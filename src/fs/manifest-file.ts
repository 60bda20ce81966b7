/** Reading and writing the ownership records in `<mediaRoot>/.app-media.json`. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE, parseManifest, serializeManifest, type OwnRecord } from '../ownership.js';
import { tempName } from './copy.js';

/** Changes by entry name: a record to set, or null to drop it. */
export type RecordChanges = Map<string, OwnRecord | null>;

/**
 * Applies this run's changes to the records on disk. The file is read again
 * right before writing, so a concurrent run's records for other entries are
 * kept, and it is replaced by a rename, so it is never half-written.
 */
export async function saveRecords(mediaRoot: string, changes: RecordChanges): Promise<void> {
  if (changes.size === 0) return;
  const file = path.join(mediaRoot, MANIFEST_FILE);
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const current = parseManifest(text);
  for (const [name, record] of changes) {
    if (record) current.entries[name] = record;
    else delete current.entries[name];
  }
  if (Object.keys(current.entries).length === 0) {
    if (text !== undefined) await fs.rm(file, { force: true });
    return;
  }
  const next = serializeManifest(current);
  if (next === text) return; // a no-change run writes nothing

  const temp = path.join(mediaRoot, tempName(MANIFEST_FILE));
  try {
    await fs.writeFile(temp, next, { flag: 'wx' });
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

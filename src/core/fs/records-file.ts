/**
 * Reading and writing the records file, `<mediaRoot>/.app-media.json`. Anyone who can
 * write mediaRoot can write this file, so it is read as untrusted input: a regular file (not a
 * link, a FIFO or a folder), of bounded size, owned by the runner, root or mediaRoot's owner,
 * written by no one else; its entries checked name by name (records.ts). A file that is not
 * the tool's is never used and never written over.
 */
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { errors } from '../errors.js';
import { RECORDS_FILE, parseRecords, serializeRecords, type Records, type OwnRecord } from '../records.js';
import type { Folder } from './folder.js';
import { currentRunner, userName } from './trust.js';
import type { Workspace } from './workspace.js';

/** Changes by entry name: a record to set, or null to drop it. */
export type RecordChanges = Map<string, OwnRecord | null>;

/** Larger than any records file of the tool (a thousand apps of a hundred files each is a few MiB). */
const MAX_RECORDS_BYTES = 256 * 1024 * 1024;

export interface RecordsTrust {
  /** mediaRoot is shared on purpose (`sharedMediaRoot`): then only the runner's or root's records are taken. */
  shared: boolean;
  /** mediaRoot's owner: the file may be theirs (a run of theirs wrote it) unless mediaRoot is shared. */
  rootOwner: number | undefined;
  /** How the file is named in messages. */
  display: string;
}

/**
 * The records file's text, or undefined when there is none. `where`: mediaRoot's path, or the
 * open mediaRoot of a writing run. Throws APP_MEDIA_FOREIGN_RECORDS for a file that is not the
 * tool's kind of file.
 */
export function readRecordsText(where: string | Folder, trust: RecordsTrust): string | undefined {
  const file = typeof where === 'string' ? path.join(where, RECORDS_FILE) : where.at(RECORDS_FILE);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw errors.foreignRecords(trust.display, 'it is a link');
    if (code === 'ENXIO') throw errors.foreignRecords(trust.display, 'it is not a regular file');
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw errors.foreignRecords(trust.display, 'it is not a regular file');
    if (stat.size > MAX_RECORDS_BYTES)
      throw errors.foreignRecords(trust.display, `it is larger than ${MAX_RECORDS_BYTES / 1024 / 1024} MiB`);
    const runner = currentRunner();
    if (runner) {
      const owners = new Set([
        runner.uid,
        0,
        ...(trust.shared || trust.rootOwner === undefined ? [] : [trust.rootOwner]),
      ]);
      if (!owners.has(stat.uid))
        throw errors.foreignRecords(
          trust.display,
          `it belongs to user ${userName(stat.uid)} (uid ${stat.uid}), not to the user running app-media, ` +
            `root or mediaRoot's owner`,
        );
      if ((stat.mode & 0o002) !== 0) throw errors.foreignRecords(trust.display, 'anyone can write it');
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** The records, parsed; a file that is not the tool's throws APP_MEDIA_FOREIGN_RECORDS. */
export function readRecords(where: string | Folder, trust: RecordsTrust): Records {
  const { records, foreign } = parseRecords(readRecordsText(where, trust));
  if (foreign) throw errors.foreignRecords(trust.display, foreign);
  return records;
}

/**
 * Applies this run's changes to the records on disk. The file is read again right before writing,
 * so a concurrent run's records for other entries are kept (and a file that is no longer the
 * tool's is not written over), and it is replaced by a rename, so it is never half-written.
 */
export function saveRecords(ws: Workspace, trust: RecordsTrust, changes: RecordChanges): void {
  if (changes.size === 0) return;
  const text = readRecordsText(ws.root, trust);
  const { records: current, foreign } = parseRecords(text);
  if (foreign) throw errors.foreignRecords(trust.display, foreign);
  for (const [name, record] of changes) {
    if (record) current.entries[name] = record;
    else delete current.entries[name];
  }
  if (Object.keys(current.entries).length === 0) {
    if (text !== undefined) unlinkSync(ws.root.at(RECORDS_FILE));
    return;
  }
  const next = serializeRecords(current);
  if (next === text) return; // a no-change run writes nothing

  const temp = ws.tempName(RECORDS_FILE);
  // 'wx': a name taken meanwhile fails here, and what took it is not ours to remove.
  writeFileSync(ws.root.at(temp), next, { flag: 'wx', mode: 0o644 });
  try {
    renameSync(ws.root.at(temp), ws.root.at(RECORDS_FILE));
  } catch (error) {
    try {
      unlinkSync(ws.root.at(temp));
    } catch {
      // gone meanwhile
    }
    throw error;
  }
}

/**
 * Carrying out a collect plan, in an order that keeps every moment of a
 * crash safe (the lock is held throughout):
 *
 * 1. the temporary files a killed run left are swept;
 * 2. the pending list names every file about to be written, with its size
 *    and SHA-256 (a run killed after this point leaves files the next run
 *    proves its own by their bytes);
 * 3. folders, then the files: each to a temporary name beside it (O_EXCL),
 *    then renamed into place after a last look at what is there;
 * 4. manifest.json (and rev-manifest.json), last of the build: until then
 *    the old manifest is in place and every file it names is still there;
 * 5. the files of builds out of the keep window, by exact path with `del`,
 *    each looked at right before (a regular file, as the tool wrote it, no
 *    link on its way);
 * 6. the records, read again first (they must be what this run read);
 * 7. the pending list is removed.
 */
import { pause } from '../fs/pause.js';
import { removeExact } from '../fs/remove-exact.js';
import { createHash } from 'node:crypto';
import { fstatSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { turnTaker } from '../util/turns.js';
import { copyTemp, isPlainDir, linkTemp, lookAt, makeDir, putInPlace, readRegular, writeTemp } from './disk.js';
import { foldersOf, MANIFEST_NAME, PENDING_FILE, RECORDS_FILE, REV_MANIFEST_NAME } from './names.js';
import type { OutputTree } from './outputs.js';
import type { Item, Output, Plan } from './plan.js';
import { replaceOwnFile, serializePending, serializeRecords, type FileRecord, type Pending, type Records, type Seen } from './records.js';
import type { CollectSettings } from './settings.js';
import { openMediaFile } from './sources.js';

/** Something in collectRoot changed between the plan and the write: the run stops, nothing is written over. */
export class ChangedMeanwhile extends Error {
  readonly code = 'ECHANGED';
}

export interface ApplyResult {
  /** Per app: files written and their bytes. */
  written: Map<string, { files: number; bytes: number }>;
  removed: number;
  swept: number;
  /** The records as written. */
  records: Records;
  recordsSeen: Seen;
}

const COPY_BUFFER = 1024 * 1024;

/**
 * For the crash tests only: `APP_MEDIA_COLLECT_KILL=<moment>` makes the process SIGKILL itself
 * there (`pending`, `write:<n>` after the n-th file is in place, `manifest`, `removals`,
 * `records`), so a `kill -9` lands at a known moment instead of a random one.
 */
const KILL_AT = process.env['APP_MEDIA_COLLECT_KILL'];
function moment(name: string): void {
  if (KILL_AT === name) process.kill(process.pid, 'SIGKILL');
}

export async function applyPlan(plan: Plan, settings: CollectSettings, tree: OutputTree, recordsSeen: Seen | undefined): Promise<ApplyResult> {
  const root = settings.realRoot;
  const at = (rel: string): string => path.join(root, ...rel.split('/'));
  const turn = turnTaker();
  const checked = new Map<string, boolean>();
  /** Every folder on the way to `rel` is still a plain folder (looked at once per folder, after the plan). */
  const guard = (rel: string): void => {
    for (const dir of ['', ...foldersOf(rel)]) {
      let plain = checked.get(dir);
      if (plain === undefined) {
        plain = isPlainDir(dir === '' ? root : at(dir));
        checked.set(dir, plain);
      }
      if (!plain) throw new ChangedMeanwhile(`${settings.shown}/${dir}: a folder on the way to ${rel} is no longer a plain folder; nothing was written through it`);
    }
  };
  const records = plan.records;
  const result: ApplyResult = { written: new Map(), removed: 0, swept: 0, records, recordsSeen: recordsSeen ?? { size: 0, mtimeMs: 0, ino: 0 } };

  // 1. Leftovers of a killed run.
  for (const rel of plan.temps) {
    guard(rel);
    const stat = lookAt(at(rel));
    if (stat?.isFile()) {
      rmSync(at(rel), { force: true });
      result.swept++;
    }
  }

  // 2. What is about to be written.
  const pending: Pending = { files: new Map(), dirs: new Set(plan.mkdirs) };
  for (const output of plan.writes) {
    pending.files.set(output.name, {
      size: output.size, sha256: output.sha256, immutable: output.immutable,
      ...(output.encoding ? { encoding: output.encoding, of: output.of as string } : {}),
    });
  }
  if (plan.writeManifest) pending.files.set(MANIFEST_NAME, { size: Buffer.byteLength(plan.manifestText), sha256: plan.manifestSha });
  if (plan.writeRev && plan.revText !== undefined) pending.files.set(REV_MANIFEST_NAME, { size: Buffer.byteLength(plan.revText), sha256: createHash('sha256').update(plan.revText).digest('hex') });
  const pendingThere = tree.files.get(PENDING_FILE);
  let pendingSeen: Seen | undefined = pendingThere ? { ...pendingThere } : undefined;
  if (pending.files.size > 0 || pending.dirs.size > 0) {
    const stat = replaceOwnFile(root, PENDING_FILE, serializePending(pending), pendingSeen);
    pendingSeen = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  }
  moment('pending');

  // 3. Folders, then files.
  for (const dir of plan.mkdirs) {
    guard(dir); // the folders on its way
    if (!makeDir(at(dir)) && !isPlainDir(at(dir))) throw new ChangedMeanwhile(`${settings.shown}/${dir} appeared meanwhile and is not a plain folder`);
    checked.set(dir, true);
  }
  const byItem = new Map<Item, Output[]>();
  for (const output of plan.writes) {
    const list = byItem.get(output.item) ?? [];
    list.push(output);
    byItem.set(output.item, list);
  }
  const buffer = Buffer.allocUnsafe(COPY_BUFFER);
  const order: Record<string, number> = { hashed: 0, original: 1, variant: 2 };
  for (const [item, outputs] of byItem) {
    outputs.sort((a, b) => (order[a.role] as number) - (order[b.role] as number) || (a.immutable === b.immutable ? 0 : a.immutable ? -1 : 1));
    for (const output of outputs) {
      pause('write', output.name);
      guard(output.name);
      const dest = at(output.name);
      const made = makeTemp(output, item, dest, at, buffer, settings);
      // The last look: nothing there, or the tool's own file exactly as the plan saw it.
      const now = lookAt(dest);
      const record = records.files.get(output.name);
      const expected = now === undefined || (record !== undefined && now.isFile() && now.size === record.size && now.mtimeMs === record.mtimeMs);
      if (!expected) {
        rmSync(made.temp, { force: true });
        throw new ChangedMeanwhile(`${settings.shown}/${output.name} was changed or made by someone else during the run; it was left as it is`);
      }
      putInPlace(made.temp, dest);
      const written: FileRecord = { size: made.stat.size, mtimeMs: made.stat.mtimeMs, sha256: output.sha256, immutable: output.immutable };
      if (output.encoding) {
        written.encoding = output.encoding;
        written.of = output.of as string;
      }
      records.files.set(output.name, written);
      const app = item.source.app.name;
      const counts = result.written.get(app) ?? { files: 0, bytes: 0 };
      counts.files++;
      counts.bytes += made.stat.size;
      result.written.set(app, counts);
      if (KILL_AT !== undefined) moment(`write:${[...result.written.values()].reduce((sum, one) => sum + one.files, 0)}`);
      const due = turn();
      if (due) await due;
    }
    // The bytes held for this file are let go once it is written.
    delete item.content;
    delete item.compressed;
  }

  // 4. The manifest: last of the build.
  for (const [name, text, write] of [[MANIFEST_NAME, plan.manifestText, plan.writeManifest], [REV_MANIFEST_NAME, plan.revText, plan.writeRev]] as const) {
    if (!write || text === undefined) continue;
    const own = records.own.get(name);
    const there = tree.files.get(name);
    const stat = replaceOwnFile(root, name, text, own && there ? there : undefined);
    records.own.set(name, { size: stat.size, mtimeMs: stat.mtimeMs, sha256: createHash('sha256').update(text).digest('hex') });
  }
  moment('manifest');
  if (plan.removeRev) {
    const own = plan.removeRev;
    const now = lookAt(at(REV_MANIFEST_NAME));
    if (now?.isFile() && now.size === own.size && now.mtimeMs === own.mtimeMs) await removeExactFiles(root, [REV_MANIFEST_NAME]);
    records.own.delete(REV_MANIFEST_NAME);
  }

  // 5. Files of builds out of the keep window, and the tool's folders left empty.
  const leaving: string[] = [];
  for (const [name, record] of plan.removals) {
    pause('delete', name);
    guard(name);
    const now = lookAt(at(name));
    if (now === undefined) continue;
    // A file changed since the plan (or a link put in its place) is no longer the tool's: kept.
    if (!now.isFile() || now.size !== record.size || now.mtimeMs !== record.mtimeMs) continue;
    leaving.push(name);
  }
  result.removed = (await removeExactFiles(root, leaving)).length;
  for (const dir of plan.rmdirs) {
    guard(`${dir}/x`);
    try {
      rmdirSync(at(dir));
    } catch {
      records.dirs.add(dir); // not empty (or gone): still the tool's folder
    }
  }

  moment('removals');
  // 6. The records, then 7. the pending list.
  const stat = replaceOwnFile(root, RECORDS_FILE, serializeRecords(records), recordsSeen);
  result.recordsSeen = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  moment('records');
  if (pendingSeen) {
    const now = lookAt(at(PENDING_FILE));
    if (now?.isFile() && now.size === pendingSeen.size && now.mtimeMs === pendingSeen.mtimeMs) rmSync(at(PENDING_FILE), { force: true });
  }
  return result;
}

/** A temporary file beside `dest` holding the output's bytes. */
function makeTemp(output: Output, item: Item, dest: string, at: (rel: string) => string, buffer: Buffer, settings: CollectSettings): { temp: string; stat: import('node:fs').Stats } {
  if (output.role === 'variant') {
    // The fingerprinted variant from the compressed bytes; the original name's variant is the same file.
    const part = item.compressed?.[output.encoding as 'br' | 'gzip'];
    if (output.immutable && part) return writeTemp(dest, part.data);
    const suffix = output.encoding === 'br' ? '.br' : '.gz';
    return linkOrCopy(at(`${item.hashed}${suffix}`), dest, output.sha256, settings);
  }
  if (output.role === 'original') return linkOrCopy(at(item.hashed), dest, output.sha256, settings);
  if (item.content) return writeTemp(dest, item.content);
  return copySource(item, dest, buffer);
}

/** A hard link to the fingerprinted file just written (no bytes written twice), else a copy of it. */
function linkOrCopy(existing: string, dest: string, sha256: string, settings: CollectSettings): { temp: string; stat: import('node:fs').Stats } {
  const linked = linkTemp(existing, dest);
  if (linked) return linked;
  const { data } = readRegular(existing);
  if (createHash('sha256').update(data).digest('hex') !== sha256) throw new ChangedMeanwhile(`${path.relative(settings.realRoot, existing)} changed during the run`);
  return writeTemp(dest, data);
}

/**
 * A source file copied into place, opened without following a link. When it was hashed this
 * run, it must still be that very file (inode, size, times); else its bytes are hashed as
 * they are copied and must be the ones its name was made from.
 */
function copySource(item: Item, dest: string, buffer: Buffer): { temp: string; stat: import('node:fs').Stats } {
  const open = openMediaFile(item.source);
  const fd = open.fd;
  try {
    const stat = fstatSync(fd);
    const identity = item.identity;
    if (identity) {
      if (stat.ino !== identity.ino || stat.size !== identity.size || stat.mtimeMs !== identity.mtimeMs || stat.ctimeMs !== identity.ctimeMs) {
        throw new ChangedMeanwhile(`${item.source.shown} changed while it was being collected; run again`);
      }
      return copyTemp(fd, dest, buffer, undefined, stat.mode);
    }
    const hash = createHash('sha256');
    const made = copyTemp(fd, dest, buffer, hash);
    if (hash.digest('hex') !== item.finalSha) {
      rmSync(made.temp, { force: true });
      throw new ChangedMeanwhile(`${item.source.shown} changed since the last build was indexed; run again`);
    }
    return made;
  } finally {
    open.close();
  }
}

/** Files of the tool's, by exact path, with `del` (fs/remove-exact.ts): only regular files match. */
function removeExactFiles(root: string, names: readonly string[]): Promise<string[]> {
  return removeExact(root, names, { onlyFiles: true });
}

/**
 * Carrying out a collect plan, in an order that keeps every moment of a
 * crash safe. The lock is held throughout, and collectRoot is held open: every
 * write, rename and delete below it names its file through the folder it is
 * in, opened from collectRoot down one folder at a time without following a
 * link (core/fs/folder.ts), never through a path checked once and used later. (What
 * a killed run left is swept before the look, core/fs/sweep.ts.)
 *
 * 1. the pending list names every file about to be written, with its size
 *    and SHA-256 (a run killed after this point leaves files the next run
 *    proves its own by their bytes);
 * 2. folders, then the files: each made in the run's private staging folder
 *    (core/fs/workspace.ts: the runner's, 0700, named with the lock's token), then
 *    renamed into its folder after a last look at what is there. Then every
 *    folder worked in must still be at its name: one swapped meanwhile stops
 *    the run before the manifest;
 * 3. manifest.json (and rev-manifest.json), last of the build: until then
 *    the old manifest is in place and every file it names is still there;
 * 4. the files of builds out of the keep window, each looked at right before
 *    through its folder (a regular file, as the tool wrote it) and unlinked
 *    there; then the tool's folders left empty;
 * 5. every folder worked in looked at again; the records, read again first
 *    (they must be what this run read);
 * 6. the pending list is removed.
 */
import { createHash } from 'node:crypto';
import { fstatSync, rmdirSync, type Stats } from 'node:fs';
import { FolderTree, withRealPaths, type Folder } from '../core/fs/folder.js';
import { pause } from '../core/fs/pause.js';
import type { Workspace } from '../core/fs/workspace.js';
import { turnTaker } from '../core/util/turns.js';
import { copyNew, linkNew, lookIn, makeDirIn, placeFile, readRegular, unlinkIn, writeNew } from './disk.js';
import { MANIFEST_NAME, PENDING_FILE, RECORDS_FILE, REV_MANIFEST_NAME } from './names.js';
import type { OutputTree } from './outputs.js';
import type { Item, Output, Plan } from './plan.js';
import {
  replaceOwnFile,
  serializePending,
  recordsText,
  type FileRecord,
  type Pending,
  type Records,
  type Seen,
} from './records.js';
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

/** `ws`: collectRoot held open, with the run's token (its lock's) for the staging folder. */
export async function applyPlan(
  plan: Plan,
  settings: CollectSettings,
  tree: OutputTree,
  recordsSeen: Seen | undefined,
  ws: Workspace,
): Promise<ApplyResult> {
  const folders = new FolderTree(ws.root);
  try {
    return await carryOut(plan, settings, tree, recordsSeen, ws, folders);
  } catch (error) {
    throw asChange(withRealPaths(error), settings);
  } finally {
    folders.close();
    // The staging folder: empty once every file is in place (else what a failed write left in it).
    ws.close();
  }
}

async function carryOut(
  plan: Plan,
  settings: CollectSettings,
  tree: OutputTree,
  recordsSeen: Seen | undefined,
  ws: Workspace,
  folders: FolderTree,
): Promise<ApplyResult> {
  const turn = turnTaker();
  const records = plan.records;
  const result: ApplyResult = {
    written: new Map(),
    removed: 0,
    records,
    recordsSeen: recordsSeen ?? { size: 0, mtimeMs: 0, ino: 0 },
  };

  // 1. What is about to be written.
  const pending: Pending = { files: new Map(), dirs: new Set(plan.mkdirs) };
  for (const output of plan.writes) {
    pending.files.set(output.name, {
      size: output.size,
      sha256: output.sha256,
      immutable: output.immutable,
      ...(output.encoding ? { encoding: output.encoding, of: output.of as string } : {}),
    });
  }
  if (plan.writeManifest)
    pending.files.set(MANIFEST_NAME, { size: Buffer.byteLength(plan.manifestText), sha256: plan.manifestSha });
  if (plan.writeRev && plan.revText !== undefined)
    pending.files.set(REV_MANIFEST_NAME, {
      size: Buffer.byteLength(plan.revText),
      sha256: createHash('sha256').update(plan.revText).digest('hex'),
    });
  const pendingThere = tree.files.get(PENDING_FILE);
  let pendingSeen: Seen | undefined = pendingThere ? { ...pendingThere } : undefined;
  if (pending.files.size > 0 || pending.dirs.size > 0) {
    const stat = replaceOwnFile(ws, PENDING_FILE, serializePending(pending), pendingSeen);
    pendingSeen = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  }
  moment('pending');

  // 2. Folders (parents first), each made in its parent held open; then the files.
  for (const dir of plan.mkdirs) {
    const [parent, base] = folders.parentOf(dir);
    if (!makeDirIn(parent, base) && !lookIn(parent, base)?.isDirectory())
      throw new ChangedMeanwhile(`${settings.shown}/${dir} appeared meanwhile and is not a plain folder`);
  }
  const byItem = new Map<Item, Output[]>();
  for (const output of plan.writes) {
    const list = byItem.get(output.item) ?? [];
    list.push(output);
    byItem.set(output.item, list);
  }
  const buffer = Buffer.allocUnsafe(COPY_BUFFER);
  const order: Record<string, number> = { hashed: 0, original: 1, variant: 2 };
  const stage = plan.writes.length > 0 ? ws.stage() : undefined;
  for (const [item, outputs] of byItem) {
    outputs.sort(
      (a, b) =>
        (order[a.role] as number) - (order[b.role] as number) ||
        (a.immutable === b.immutable ? 0 : a.immutable ? -1 : 1),
    );
    for (const output of outputs) {
      pause('write', output.name);
      const staging = stage as Folder;
      const [folder, base] = folders.parentOf(output.name);
      const at: Staging = { stage: staging, staged: ws.stagedName('collect', base), folders, buffer, settings };
      const made = makeStaged(output, item, at);
      // The file may be staged under another name (a copy made as it was hashed).
      const staged = at.staged;
      // The last look: nothing there, or the tool's own file exactly as the plan saw it.
      const now = lookIn(folder, base);
      const record = records.files.get(output.name);
      const expected =
        now === undefined ||
        (record !== undefined && now.isFile() && now.size === record.size && now.mtimeMs === record.mtimeMs);
      if (!expected) {
        unlinkIn(staging, staged);
        throw new ChangedMeanwhile(
          `${settings.shown}/${output.name} was changed or made by someone else during the run; it was left as it is`,
        );
      }
      placeFile(staging, staged, folder, base);
      const written: FileRecord = {
        size: made.size,
        mtimeMs: made.mtimeMs,
        sha256: output.sha256,
        immutable: output.immutable,
      };
      if (output.encoding) {
        written.encoding = output.encoding;
        written.of = output.of as string;
      }
      records.files.set(output.name, written);
      const app = item.source.app.name;
      const counts = result.written.get(app) ?? { files: 0, bytes: 0 };
      counts.files++;
      counts.bytes += made.size;
      result.written.set(app, counts);
      if (KILL_AT !== undefined)
        moment(`write:${[...result.written.values()].reduce((sum, one) => sum + one.files, 0)}`);
      const due = turn();
      if (due) await due;
    }
    // The bytes held for this file are let go once it is written.
    delete item.content;
    delete item.compressed;
  }
  // The folders written in are still the ones at their names: else the files went where a
  // folder was moved to, and what the manifest would name is something else now.
  stillInPlace(folders, settings, 'the build was not published (manifest.json unchanged)');

  // 3. The manifest: last of the build.
  for (const [name, text, write] of [
    [MANIFEST_NAME, plan.manifestText, plan.writeManifest],
    [REV_MANIFEST_NAME, plan.revText, plan.writeRev],
  ] as const) {
    if (!write || text === undefined) continue;
    const own = records.own.get(name);
    const there = tree.files.get(name);
    const stat = replaceOwnFile(ws, name, text, own && there ? there : undefined);
    records.own.set(name, {
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      sha256: createHash('sha256').update(text).digest('hex'),
    });
  }
  moment('manifest');
  if (plan.removeRev) {
    const own = plan.removeRev;
    pause('delete', REV_MANIFEST_NAME);
    const now = lookIn(ws.root, REV_MANIFEST_NAME);
    if (now?.isFile() && now.size === own.size && now.mtimeMs === own.mtimeMs) unlinkIn(ws.root, REV_MANIFEST_NAME);
    records.own.delete(REV_MANIFEST_NAME);
  }

  // 4. Files of builds out of the keep window, each through its folder held open, looked at
  // right before; then the tool's folders left empty.
  for (const [name, record] of plan.removals) {
    pause('delete', name);
    const folder = parentIfThere(folders, name);
    if (!folder) continue;
    const [parent, base] = folder;
    const now = lookIn(parent, base);
    // A file changed since the plan (or a link put in its place) is no longer the tool's: kept.
    if (!now?.isFile() || now.size !== record.size || now.mtimeMs !== record.mtimeMs) continue;
    unlinkIn(parent, base);
    result.removed++;
    const due = turn();
    if (due) await due;
  }
  for (const dir of plan.rmdirs) {
    const folder = parentIfThere(folders, dir);
    if (!folder) continue;
    const [parent, base] = folder;
    try {
      rmdirSync(parent.at(base));
      folders.forget(dir);
    } catch {
      records.dirs.add(dir); // not empty (or not a plain folder now): still the tool's folder
    }
  }
  moment('removals');

  // 5. The records, then 6. the pending list.
  stillInPlace(folders, settings, 'the records were not updated');
  const stat = replaceOwnFile(ws, RECORDS_FILE, recordsText(records), recordsSeen);
  result.recordsSeen = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  moment('records');
  if (pendingSeen) {
    const now = lookIn(ws.root, PENDING_FILE);
    if (now?.isFile() && now.size === pendingSeen.size && now.mtimeMs === pendingSeen.mtimeMs)
      unlinkIn(ws.root, PENDING_FILE);
  }
  return result;
}

/** Every folder the run worked in is still at its name (reached from collectRoot, no link followed). */
function stillInPlace(folders: FolderTree, settings: CollectSettings, consequence: string): void {
  const moved = folders.stillInPlace();
  if (moved !== undefined) {
    throw new ChangedMeanwhile(
      `${settings.shown}/${moved} was replaced while app-media worked in it; ${consequence}, ` +
        `and what is there now was left as it is`,
    );
  }
}

/** The folder holding `rel`, held open, and its name there; undefined when that folder is gone. */
function parentIfThere(folders: FolderTree, rel: string): [Folder, string] | undefined {
  try {
    return folders.parentOf(rel);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * A folder on the way opened without following a link met a link (ELOOP), a file (ENOTDIR), or
 * another folder than the one it worked in before: something was swapped in during the run.
 */
function asChange(error: unknown, settings: CollectSettings): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ELOOP' && code !== 'ENOTDIR') return error;
  const where = (error as NodeJS.ErrnoException).path;
  return new ChangedMeanwhile(
    `${where ?? settings.shown}: a folder of collectRoot was replaced (by a link or a file) ` +
      `during the run; nothing was written or removed through it`,
  );
}

interface Staging {
  stage: Folder;
  staged: string;
  folders: FolderTree;
  buffer: Buffer;
  settings: CollectSettings;
}

/** A new file in the staging folder holding the output's bytes; its facts. */
function makeStaged(output: Output, item: Item, at: Staging): Stats {
  if (output.role === 'variant') {
    // The fingerprinted variant from the compressed bytes; the original name's variant is the same file.
    const part = item.compressed?.[output.encoding as 'br' | 'gzip'];
    if (output.immutable && part) return writeNew(at.stage, at.staged, part.data);
    const suffix = output.encoding === 'br' ? '.br' : '.gz';
    return linkOrCopy(`${item.hashed}${suffix}`, output, at);
  }
  if (output.role === 'original') return linkOrCopy(item.hashed, output, at);
  if (item.content) return writeNew(at.stage, at.staged, item.content);
  return copySource(item, at);
}

/** A hard link to the fingerprinted file just written (no bytes written twice), else a copy of it. */
function linkOrCopy(existing: string, output: Output, at: Staging): Stats {
  const [folder, base] = at.folders.parentOf(existing);
  const linked = linkNew(folder, base, at.stage, at.staged);
  if (linked) {
    if (linked.size === output.size) return linked;
    unlinkIn(at.stage, at.staged);
    throw new ChangedMeanwhile(`${at.settings.shown}/${existing} changed during the run`);
  }
  const { data } = readRegular(folder.at(base));
  if (createHash('sha256').update(data).digest('hex') !== output.sha256)
    throw new ChangedMeanwhile(`${at.settings.shown}/${existing} changed during the run`);
  return writeNew(at.stage, at.staged, data);
}

/**
 * A source file copied into the staging folder, opened as sources.ts allows (the very file the
 * walk saw, inside the media folder), or the copy the plan made as it hashed the file. When it
 * was hashed this run (and not copied then), it must still be that very file (inode, size,
 * times); else its bytes are hashed as they are copied and must be the ones
 * its name was made from.
 */
function copySource(item: Item, at: Staging): Stats {
  const copied = item.staged;
  if (copied) {
    // Copied in the read that hashed it (plan.ts), into this private folder: used under its own name.
    delete item.staged;
    const stat = lookIn(at.stage, copied.name);
    if (!stat?.isFile() || stat.size !== copied.size)
      throw new ChangedMeanwhile(`${item.source.shown}: its copy in the staging folder changed during the run`);
    at.staged = copied.name;
    return stat;
  }
  const open = openMediaFile(item.source);
  try {
    const stat = fstatSync(open.fd);
    const identity = item.identity;
    if (identity) {
      if (
        stat.ino !== identity.ino ||
        stat.size !== identity.size ||
        stat.mtimeMs !== identity.mtimeMs ||
        stat.ctimeMs !== identity.ctimeMs
      ) {
        throw new ChangedMeanwhile(`${item.source.shown} changed while it was being collected; run again`);
      }
      return copyNew(open.fd, at.stage, at.staged, at.buffer, undefined, stat.mode);
    }
    const hash = createHash('sha256');
    const made = copyNew(open.fd, at.stage, at.staged, at.buffer, hash);
    if (hash.digest('hex') !== item.finalSha) {
      unlinkIn(at.stage, at.staged);
      throw new ChangedMeanwhile(`${item.source.shown} changed since the last build was indexed; run again`);
    }
    return made;
  } finally {
    open.close();
  }
}

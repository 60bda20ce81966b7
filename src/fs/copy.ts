/**
 * Carrying out a copy plan. Every file goes to a temporary name in its
 * destination folder and is renamed into place, so no published path ever
 * holds half a file; a fresh copy is built in a temporary folder beside the
 * entry and renamed in whole. Never deletes recursively: only listed files,
 * then folders that are empty.
 *
 * The work is done with the sync calls, one step after another, giving the
 * event loop a turn every 30 ms (as the probe does): on a 2-core VM the thread
 * pool's hand-offs cost more than the work they spread (SYNC_COPY_MAX below).
 */
import { chmodSync, constants, copyFile, copyFileSync, lstatSync, mkdirSync, promises as fs, renameSync, rmdirSync, rmSync, unlinkSync, utimesSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sameFacts, type CopyPlan } from '../plan.js';
import { turnTaker } from '../util/turns.js';
import { lstatOrUndefined } from './look.js';
import { TEMP_MARK } from './temp.js';

export { TEMP_MARK };
/**
 * Files up to this size are copied with the sync calls, one after another, giving
 * the event loop a turn every few milliseconds. Bigger ones go to libuv's thread
 * pool, POOLED_MAX at a time, while the main thread goes on with the small ones:
 * no single file holds the loop for long, and big files are copied on the other
 * cores. On a 2-core machine, for `medium`'s 10,000 files (mostly 1-8 KiB), a
 * sync loop took 3.6 s with 3.4 s of system time and `fs.promises.copyFile` 8 at a
 * time 4.2 s and 6.8 s (each hand-off to the pool costs more than a small file's
 * copy); for `huge-files`' 10,000 files of 1 MiB, the sync loop was about 15 %
 * slower than the pool.
 */
const SYNC_COPY_MAX = 512 * 1024;
const POOLED_MAX = 4;

type Facts = { mtimeMs: number; mode: number; size: number };

export function tempName(base: string): string {
  return `${TEMP_MARK}${base}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface CopyResult {
  files: number;
  bytes: number;
}

/**
 * Copies one file and sets its time: with the sync calls for a small file (nothing is
 * returned), on the thread pool for a big one (the promise of its end is returned).
 */
function copyOne(source: string, dest: string, facts: Facts): Promise<void> | undefined {
  if (facts.size > SYNC_COPY_MAX) return copyPooled(source, dest, facts);
  copyFileSync(source, dest, constants.COPYFILE_EXCL);
  setTime(dest, facts);
  return undefined;
}

/**
 * A big file's copy on the thread pool, its time set once it is done: one promise per file.
 * (The callback form: `fs.promises.copyFile` allocates about a kilobyte more per call, and a
 * copy of ten thousand big files made V8 grow its young generation, and the peak memory.)
 */
function copyPooled(source: string, dest: string, facts: Facts): Promise<void> {
  return new Promise((resolve, reject) => {
    copyFile(source, dest, constants.COPYFILE_EXCL, (error) => {
      if (error) return reject(error);
      try {
        setTime(dest, facts);
        resolve();
      } catch (failure) {
        reject(failure);
      }
    });
  });
}

/** copyFile gives the new file the source's mode (libuv sets it); the time is ours to set. */
function setTime(dest: string, facts: Facts): void {
  // Seconds as a number keep sub-millisecond precision (a Date would round to the millisecond).
  const mtime = facts.mtimeMs / 1000;
  utimesSync(dest, mtime, mtime);
}

/**
 * Writes one file beside its destination under a temporary name, then renames it into place.
 * `beforeRename` looks at the destination right before the rename, once the copy is done (a big
 * file's copy takes a while); it throws to leave the destination as it is.
 */
function replaceOne(source: string, dest: string, facts: Facts, beforeRename?: () => void): Promise<void> | undefined {
  const name = dest.lastIndexOf(path.sep) + 1;
  const temp = `${dest.slice(0, name)}${tempName(dest.slice(name))}`;
  const failed = (error: unknown): never => {
    rmSync(temp, { force: true });
    throw error;
  };
  const putInPlace = (): void => {
    beforeRename?.();
    renameSync(temp, dest);
  };
  let pooled: Promise<void> | undefined;
  try {
    pooled = copyOne(source, temp, facts);
    if (!pooled) putInPlace();
  } catch (error) {
    return failed(error);
  }
  return pooled?.then(() => {
    try {
      putInPlace();
    } catch (error) {
      failed(error);
    }
  }, failed);
}

/** A new copy: built in a temporary folder, then put in place in one rename. */
export async function createCopy(sourceDir: string, entryPath: string, plan: CopyPlan, onFile?: (bytes: number) => void): Promise<CopyResult> {
  const temp = path.join(path.dirname(entryPath), tempName(path.basename(entryPath)));
  mkdirSync(temp);
  try {
    for (const dir of plan.mkdirs) mkdirSync(path.join(temp, dir));
    const result = await writeFiles(sourceDir, temp, plan, copyOne, onFile);
    // Claim the name first: mkdir fails if anything appeared there meanwhile,
    // and renaming onto our own empty folder is then safe.
    mkdirSync(entryPath);
    try {
      renameSync(temp, entryPath);
    } catch (error) {
      try {
        rmdirSync(entryPath);
      } catch {
        // Left for the next run to report.
      }
      throw error;
    }
    return result;
  } catch (error) {
    await removeTree(temp);
    throw error;
  }
}

/** Brings an existing copy (the tool's own) in line with the plan. */
export async function syncCopy(sourceDir: string, entryPath: string, plan: CopyPlan, onFile?: (bytes: number) => void): Promise<CopyResult> {
  const guard = plainPaths(entryPath);
  // Removals first: a file that became a folder in the source (or the reverse) must make way.
  await removeListed(entryPath, plan, guard);
  for (const dir of plan.mkdirs) {
    // The folders on its way, not the folder itself (it may not be there yet).
    guard(dir);
    mkdirSync(path.join(entryPath, dir), { recursive: true });
  }
  // Every write is checked first: nothing is written through a folder that became a link.
  const guarded: WriteOne = (source, dest, facts, rel) => {
    guard(rel);
    const unchanged = plan.seen?.has(rel) ? (): void => unchangedSincePlan(entryPath, rel, lstatOrUndefined(dest), plan.seen) : undefined;
    return replaceOne(source, dest, facts, unchanged);
  };
  const result = await writeFiles(sourceDir, entryPath, plan, guarded, onFile);
  const turn = turnTaker();
  for (const { rel, mtimeMs, mode } of plan.touch ?? []) {
    guard(rel);
    const stat = lstatSync(path.join(entryPath, rel));
    if (!stat.isFile()) throw new EntryChanged(`${path.basename(entryPath)}/${rel} is no longer a file`);
    unchangedSincePlan(entryPath, rel, stat, plan.seen);
    chmodSync(path.join(entryPath, rel), mode);
    utimesSync(path.join(entryPath, rel), mtimeMs / 1000, mtimeMs / 1000);
    const due = turn();
    if (due) await due;
  }
  return result;
}

/** Something in a copy became a link (or vanished, or was edited) between the plan and the write. */
export class EntryChanged extends Error {}

/**
 * The file at `rel` is as the plan saw it (same size and mtime, or still absent), else
 * EntryChanged: a file a person wrote after the plan is never written over or deleted.
 * (The look and the write are two calls: this narrows the window to that gap.)
 */
function unchangedSincePlan(entryPath: string, rel: string, stat: Stats | undefined, seen: CopyPlan['seen']): void {
  if (!seen?.has(rel)) return;
  const before = seen.get(rel);
  const same = before === null || before === undefined ? stat === undefined : stat !== undefined && sameFacts(stat, before);
  if (!same) throw new EntryChanged(`${path.basename(entryPath)}/${rel} was changed since it was checked; it was left as it is`);
}

type PathGuard = (rel: string) => void;

/**
 * A check that the copy's folder and every folder on the way to `rel` are
 * still plain folders (not links, not gone). Each folder is looked at once per
 * run, at the first write or delete under it: after the plan, before the work.
 */
function plainPaths(entryPath: string): PathGuard {
  const checked = new Map<string, boolean>();
  const isPlainDir = (dir: string): boolean => {
    let known = checked.get(dir);
    if (known === undefined) {
      const stat = lstatOrUndefined(dir);
      known = stat !== undefined && stat.isDirectory() && !stat.isSymbolicLink();
      checked.set(dir, known);
    }
    return known;
  };
  return (rel) => {
    let dir = entryPath;
    if (!isPlainDir(dir)) throw new EntryChanged(`${path.basename(entryPath)} is no longer a plain folder`);
    for (const part of rel.split('/').slice(0, -1)) {
      dir = path.join(dir, part);
      if (!isPlainDir(dir)) throw new EntryChanged(`${path.basename(entryPath)}/${rel}: a folder on its path changed into something else`);
    }
  };
}

/**
 * Removes the listed files, then the listed folders that are empty. Each
 * folder on the way is checked first: if one has turned into a link since the
 * plan, nothing is deleted through it.
 */
export async function removeListed(entryPath: string, plan: Pick<CopyPlan, 'deletes' | 'rmdirs' | 'seen'>, guard: PathGuard = plainPaths(entryPath)): Promise<void> {
  const turn = turnTaker();
  for (const rel of plan.deletes) {
    guard(rel);
    const stat = lstatOrUndefined(path.join(entryPath, rel));
    if (stat && !stat.isFile()) throw new EntryChanged(`${path.basename(entryPath)}/${rel} is no longer a file`);
    if (stat) {
      unchangedSincePlan(entryPath, rel, stat, plan.seen);
      unlinkSync(path.join(entryPath, rel));
    }
    const due = turn();
    if (due) await due;
  }
  for (const rel of plan.rmdirs) {
    guard(`${rel}/x`);
    await rmdirIfEmpty(path.join(entryPath, rel));
  }
}

export async function rmdirIfEmpty(dir: string): Promise<boolean> {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Writes one file of a plan (`rel`: its path in the plan, with "/"). A small file is written
 * by the time it returns (nothing is returned); a big one returns the promise of its end.
 */
type WriteOne = (source: string, dest: string, facts: Facts, rel: string) => Promise<void> | undefined;

async function writeFiles(sourceDir: string, destDir: string, plan: CopyPlan, write: WriteOne, onFile?: (bytes: number) => void): Promise<CopyResult> {
  let bytes = 0;
  const done = (size: number): void => {
    bytes += size;
    onFile?.(size);
  };
  const turn = turnTaker();
  // Big files in flight on the thread pool: counted, with one waiter woken as each ends (no
  // Promise.race over them, which adds a reaction to every one of them at each call).
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const ended = (): void => {
    inFlight--;
    const waiter = wake;
    wake = undefined;
    waiter?.();
  };
  const oneEnds = (): Promise<void> => new Promise((resolve) => {
    wake = resolve;
  });
  let failed: { error: unknown } | undefined;
  // Plain joins on POSIX: the plan's paths are already clean ("a/b.css", no "." or ".."), and
  // path.join would normalize each one again, twice per file.
  const join = path.sep === '/' ? (dir: string, rel: string): string => `${dir}/${rel}` : (dir: string, rel: string): string => path.join(dir, rel);
  for (const file of plan.writes) {
    let job: Promise<void> | undefined;
    try {
      job = write(join(sourceDir, file.rel), join(destDir, file.rel), file, file.rel);
      if (!job) done(file.size);
    } catch (error) {
      failed ??= { error };
    }
    if (job) {
      inFlight++;
      void job.then(() => {
        try {
          done(file.size);
        } catch (error) {
          failed ??= { error }; // a progress callback that throws: the copy stops as after a failed file
        } finally {
          ended();
        }
      }, (error: unknown) => {
        failed ??= { error };
        ended();
      });
      if (inFlight >= POOLED_MAX) await oneEnds();
    }
    if (failed) break;
    const due = turn();
    if (due) await due;
  }
  // Every copy started has ended before this returns, or throws: the caller may remove the folder.
  while (inFlight > 0) await oneEnds();
  if (failed) throw failed.error;
  return { files: plan.writes.length, bytes };
}

/**
 * Removes a temporary tree the tool itself built. It holds only regular files
 * and folders the tool made, but links are still never followed: `lstat`
 * first, and a link is unlinked, not entered.
 */
export async function removeTree(dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await removeTree(full);
    else await fs.rm(full, { force: true });
  }
  await fs.rmdir(dir).catch(() => undefined);
}

/**
 * Carrying out a copy plan. No published path ever holds half a file: a new copy is built in a
 * private folder at the top of mediaRoot and renamed into place whole; a file of an existing
 * copy is staged in the run's private folder and renamed over its destination. Every write,
 * rename and delete names its file through the folder it was planned in, opened without
 * following links (core/fs/folder.ts): a folder of the copy swapped for a link meanwhile makes the
 * call fail, it never reaches through. Each source file is opened without following links and
 * checked to be the file the walk saw (core/fs/source.ts); copies never carry setuid, setgid or
 * sticky bits. Never deletes recursively: only listed files, then folders that are empty.
 *
 * The work is done with the sync calls, one step after another, giving the event loop a turn
 * now and then (util/turns.ts): on a small machine the thread pool's hand-offs cost more than
 * the work they spread. Big files (over SYNC_COPY_MAX) go to the pool, a few at a time.
 */
import {
  chmodSync,
  closeSync,
  constants,
  copyFile,
  copyFileSync,
  fchmodSync,
  fstatSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { sameFacts, type CopyPlan } from './copy-plan.js';
import { turnTaker } from '../core/util/turns.js';
import { FolderTree, sameFolder, withRealPaths, type Folder, type FolderId } from '../core/fs/folder.js';
import { pause } from '../core/fs/pause.js';
import { copyMode, SourceChanged, type MediaReader, type OpenSource } from '../core/fs/source.js';
import type { FileFacts } from '../core/fs/walk.js';
import { removeEmptyFolder, removeOwnTree, type Workspace } from '../core/fs/workspace.js';

export { SourceChanged };

const SYNC_COPY_MAX = 512 * 1024;
const POOLED_MAX = 4;

export interface CopyResult {
  files: number;
  bytes: number;
}

/** Something in a copy became a link (or vanished, or was edited) between the plan and the write. */
export class EntryChanged extends Error {}

/**
 * Whether `error` stopped a new copy already in place, the run's own (its mode could not be set): it keeps its pending
 * record.
 */
export function leftCopyInPlace(error: unknown): boolean {
  return (error as { copyInPlace?: unknown } | undefined)?.copyInPlace === true;
}

/** `error`, said to leave a copy in place, the run's own, only still private (leftCopyInPlace). */
export function markCopyInPlace(error: unknown): unknown {
  return error instanceof Error ? Object.assign(error, { copyInPlace: true }) : error;
}

/** The mode a copy's folders get: the umask's, without write for group and others. */
export function folderMode(): number {
  return 0o755 & ~umask();
}

let knownUmask: number | undefined;

/** The process's umask, read without changing it (process.umask() with no argument writes it twice). */
function umask(): number {
  if (knownUmask !== undefined) return knownUmask;
  try {
    const line = /^Umask:\s+([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    knownUmask = line?.[1] ? parseInt(line[1], 8) : 0o022;
  } catch {
    knownUmask = 0o022;
  }
  return knownUmask;
}

/**
 * Opens a planned file through the media folder held open (a link inside it is read at its target), and names it for
 * messages.
 */
function openPlanned(
  reader: MediaReader,
  sourceDir: string,
  plan: Pick<CopyPlan, 'links'>,
  rel: string,
  facts: FileFacts,
): { source: OpenSource; from: string } {
  const linkedTo = plan.links?.get(rel);
  return { source: reader.open(rel, facts, linkedTo), from: linkedTo ?? path.join(sourceDir, ...rel.split('/')) };
}

/**
 * Where the system has no path that names an open file, the copy reads from the checked
 * descriptor itself: a file written afresh, never a path opened again (which a racer could have
 * swapped for a link meanwhile).
 */
function copyFromDescriptor(fd: number, dest: string): void {
  const out = openSync(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    let position = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, position);
      if (read === 0) break;
      let written = 0;
      while (written < read) written += writeSync(out, buffer, written, read - written);
      position += read;
    }
  } finally {
    closeSync(out);
  }
}

/**
 * Copies the checked source to `dest` (a name no one else can reach: a private folder's), then
 * sets its mode and time. A small file is done by the time this returns (nothing is returned);
 * a big one is copied on the thread pool and the promise of its end is returned.
 */
function copyChecked(
  source: OpenSource,
  dest: string,
  facts: Pick<FileFacts, 'mode' | 'mtimeMs' | 'size'>,
  shown: Shown,
): Promise<void> | undefined {
  const named = (error: unknown): Error => {
    // The calls name the open file and a private path; the user knows the source and the published path.
    const errno = error as NodeJS.ErrnoException & { dest?: string };
    if (error instanceof Error && typeof errno.code === 'string') {
      if (errno.path !== undefined) errno.path = errno.path === source.path ? shown.source : shown.dest;
      if (errno.dest !== undefined) errno.dest = shown.dest;
    }
    return error as Error;
  };
  const finish = (): void => {
    // copyFile gave the file the source's mode, setuid bits included: cleared before anyone can reach it.
    chmodSync(dest, copyMode(facts.mode));
    const seconds = facts.mtimeMs / 1000;
    utimesSync(dest, seconds, seconds);
  };
  if (facts.size <= SYNC_COPY_MAX || source.path === undefined) {
    try {
      if (source.path === undefined) copyFromDescriptor(source.fd, dest);
      else copyFileSync(source.path, dest, constants.COPYFILE_EXCL);
      finish();
    } catch (error) {
      throw named(error);
    } finally {
      source.close();
    }
    return undefined;
  }
  // The callback form: `fs.promises.copyFile` allocates more per call, and many big files made
  // V8 grow its young generation (and the run's peak memory) measurably.
  return new Promise((resolve, reject) => {
    copyFile(source.path as string, dest, constants.COPYFILE_EXCL, (error) => {
      try {
        if (error) throw error;
        finish();
        resolve();
      } catch (failure) {
        reject(named(failure));
      } finally {
        source.close();
      }
    });
  });
}

/** How a file's copy is named to the user: its source, and the published path it is for. */
interface Shown {
  source: string;
  dest: string;
}

/**
 * A new copy: built in a private folder, then put in place in one rename. Inside it, too, every
 * file goes through its open folder (a process of the runner's own could still swap a folder
 * there); a big file, copied on the thread pool, is copied under a flat name into the private
 * folder itself, held open throughout, and renamed into its folder once done.
 */
export async function createCopy(
  ws: Workspace,
  reader: MediaReader,
  sourceDir: string,
  name: string,
  plan: CopyPlan,
  onFile?: (bytes: number) => void,
): Promise<CopyResult> {
  const { name: tempName, folder: temp } = ws.privateFolder(name);
  const identity = { dev: temp.dev, ino: temp.ino };
  const tree = new FolderTree(temp);
  let placed = false;
  let flat = 0;
  try {
    const mode = folderMode();
    for (const dir of plan.mkdirs) {
      const [parent, base] = parentIn(tree, tempName, dir);
      mkdirSync(parent.at(base), mode);
    }
    const published = (rel: string): string => path.join(ws.root.path, name, ...rel.split('/'));
    const result = await writeFiles(
      plan,
      (file) => {
        pause('write', `${name}/${file.rel}`);
        // The destination's folder first: a failure there leaves no source open.
        const [folder, base] = parentIn(tree, name, file.rel);
        const { source, from } = openPlanned(reader, sourceDir, plan, file.rel, file);
        const shown = { source: from, dest: published(file.rel) };
        if (file.size <= SYNC_COPY_MAX || source.path === undefined)
          return copyChecked(source, folder.at(base), file, shown);
        const pooledName = `.pooled-${flat++}`;
        const job = copyChecked(source, temp.at(pooledName), file, shown) as Promise<void>;
        return job.then(() => {
          const [into, named] = parentIn(tree, name, file.rel);
          renameSync(temp.at(pooledName), into.at(named));
        });
      },
      onFile,
    );
    const moved = tree.stillInPlace();
    if (moved) throw new EntryChanged(`${name}/${moved} was replaced while the copy was being made`);
    // The copy stays private (0700) as long as it is at its temporary name: a run killed before it is in place
    // leaves a folder the next run's sweep can prove its own (sweep.ts leaves any other). Its mode is set in place.
    pause('place', name);
    // Claim the name first: mkdir fails if anything appeared there meanwhile, and renaming onto
    // our own empty folder is then safe.
    mkdirSync(ws.root.at(name));
    try {
      renameSync(ws.root.at(tempName), ws.root.at(name));
      placed = true;
    } catch (error) {
      removeEmptyFolder(ws.root, name);
      throw error;
    }
    // The one look at what is at its name now: opened there without following a link and proven the copy; then
    // readable by the web server, through that folder. A run killed just before leaves it private under a pending
    // record, and the next run's sync sets its mode (syncCopy).
    const replaced = (): EntryChanged => new EntryChanged(`${name} was replaced while it was being put in place`);
    // A failure below (EACCES before a folder of someone else's, EMFILE, EIO; with a folder held by path, a swap
    // between the look and the chmod, which looks at the name again): the name keeps the copy's pending record
    // (apply.ts), for the next run's sync to set its mode, only if what is there is proven the copy; else a swap.
    const failedInPlace = (error: unknown): unknown =>
      isCopyAt(ws.root, name, identity) ? markCopyInPlace(withRealPaths(error)) : replaced();
    let placedCopy: Folder;
    try {
      placedCopy = openEntry(ws.root, name, identity);
    } catch (error) {
      if (error instanceof EntryChanged || (error as NodeJS.ErrnoException).code === 'ENOENT') throw replaced();
      throw failedInPlace(error);
    }
    try {
      placedCopy.chmod(mode);
    } catch (error) {
      throw failedInPlace(error);
    } finally {
      placedCopy.close();
    }
    return result;
  } catch (error) {
    withRealPaths(error);
    tree.close();
    if (!placed) removeOwnTree(ws.root, tempName, identity);
    throw error;
  } finally {
    tree.close();
    temp.close();
  }
}

/**
 * The work was done in the open folder, wherever it is now: its name must still be it, or what is
 * published there is something else (a link swapped in meanwhile), and the run must not say otherwise.
 */
export function stillAt(root: Folder, name: string, folder: FolderId): void {
  const now = lstatSync(root.at(name), { throwIfNoEntry: false });
  if (!now?.isDirectory() || !sameFolder(now, folder))
    throw new EntryChanged(`${name} was replaced while app-media worked in it; what is there now was left as it is`);
}

/** Whether the folder at `name` is `folder`, looked at without following a link (a look that fails says no). */
export function isCopyAt(root: Folder, name: string, folder: FolderId): boolean {
  try {
    const now = lstatSync(root.at(name), { throwIfNoEntry: false });
    return now !== undefined && now.isDirectory() && sameFolder(now, folder);
  } catch {
    return false;
  }
}

/** Opens the tool's own copy at `name`, if it is still the folder the plan saw. */
export function openEntry(root: Folder, name: string, seen: FolderId | undefined): Folder {
  let entry: Folder;
  try {
    entry = root.open(name);
  } catch (error) {
    if (isSwap(error)) throw new EntryChanged(`${name} is no longer a plain folder`);
    throw error;
  }
  if (seen && !sameFolder(entry, seen)) {
    entry.close();
    throw new EntryChanged(`${name} is no longer the copy that was checked`);
  }
  return entry;
}

/** Brings an existing copy (the tool's own, as the plan saw it) in line with the plan. */
export async function syncCopy(
  ws: Workspace,
  reader: MediaReader,
  sourceDir: string,
  name: string,
  plan: CopyPlan,
  seen: FolderId | undefined,
  onFile?: (bytes: number) => void,
  pending = false,
): Promise<CopyResult> {
  const entry = openEntry(ws.root, name, seen);
  const tree = new FolderTree(entry);
  try {
    // A copy recorded only as pending and still private: a run was killed after putting it in place, before setting
    // its mode (createCopy). Set now, so the web server can read it.
    if (pending && (entry.stat().mode & 0o777) === 0o700) entry.chmod(folderMode());
    // Removals first: a file that became a folder in the source (or the reverse) must make way.
    await removeIn(tree, name, plan);
    const mode = folderMode();
    for (const dir of plan.mkdirs) {
      const [folder, base] = parentIn(tree, name, dir);
      try {
        mkdirSync(folder.at(base), mode);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !lstatSync(folder.at(base)).isDirectory())
          throw error;
      }
    }
    const stage = plan.writes.length > 0 ? ws.stage() : undefined;
    const result = await writeFiles(
      plan,
      (file) => {
        pause('write', `${name}/${file.rel}`);
        const staging = stage as Folder;
        const staged = ws.stagedName(name, file.rel);
        const { source, from } = openPlanned(reader, sourceDir, plan, file.rel, file);
        const shown = { source: from, dest: path.join(ws.root.path, name, ...file.rel.split('/')) };
        const place = (): void => {
          // Looked at again right before the rename (a big file's copy takes a while): a file a
          // person wrote after the plan is never written over.
          const [folder, base] = parentIn(tree, name, file.rel);
          unchangedSincePlan(name, file.rel, lstatSync(folder.at(base), { throwIfNoEntry: false }), plan.seen);
          renameSync(staging.at(staged), folder.at(base));
        };
        const failed = (error: unknown): never => {
          try {
            unlinkSync(staging.at(staged));
          } catch {
            // never made, or already moved
          }
          throw error;
        };
        let pooled: Promise<void> | undefined;
        try {
          pooled = copyChecked(source, staging.at(staged), file, shown);
          if (!pooled) place();
        } catch (error) {
          return failed(error);
        }
        return pooled?.then(place).catch(failed);
      },
      onFile,
    );
    const turn = turnTaker();
    for (const { rel, mtimeMs, mode: fileMode } of plan.touch ?? []) {
      setModeAndTime(tree, name, rel, mtimeMs, fileMode, plan.seen);
      const due = turn();
      if (due) await due;
    }
    stillAt(ws.root, name, entry);
    const moved = tree.stillInPlace();
    if (moved)
      throw new EntryChanged(
        `${name}/${moved} was replaced while app-media worked in it; what is there now was left as it is`,
      );
    return result;
  } catch (error) {
    throw withRealPaths(error);
  } finally {
    tree.close();
    entry.close();
  }
}

/**
 * A file whose contents are right but whose mode or time is not: both set through the open file, never through a link.
 */
function setModeAndTime(
  tree: FolderTree,
  name: string,
  rel: string,
  mtimeMs: number,
  mode: number,
  seen: CopyPlan['seen'],
): void {
  const [folder, base] = parentIn(tree, name, rel);
  let fd: number;
  try {
    fd = openSync(folder.at(base), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isSwap(error) || (error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new EntryChanged(`${name}/${rel} is no longer a file`);
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new EntryChanged(`${name}/${rel} is no longer a file`);
    unchangedSincePlan(name, rel, stat, seen);
    fchmodSync(fd, copyMode(mode));
    futimesSync(fd, mtimeMs / 1000, mtimeMs / 1000);
  } finally {
    closeSync(fd);
  }
}

/**
 * The file at `rel` is as the plan saw it (same size and mtime, or still absent), else
 * EntryChanged: a file a person wrote after the plan is never written over or deleted.
 * (The look and the write are two calls: this narrows the window to that gap.)
 */
function unchangedSincePlan(name: string, rel: string, stat: Stats | undefined, seen: CopyPlan['seen']): void {
  if (!seen?.has(rel)) return;
  const before = seen.get(rel);
  const same =
    before === null || before === undefined ? stat === undefined : stat !== undefined && sameFacts(stat, before);
  if (!same) throw new EntryChanged(`${name}/${rel} was changed since it was checked; it was left as it is`);
}

/**
 * The open folder holding `rel` in the copy, and its name there; a folder on the way that is no longer one is
 * EntryChanged.
 */
function parentIn(tree: FolderTree, name: string, rel: string): [Folder, string] {
  try {
    return tree.parentOf(rel);
  } catch (error) {
    if (isSwap(error) || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EntryChanged(`${name}/${rel}: a folder on its path changed into something else`);
    }
    throw error;
  }
}

function isSwap(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOTDIR' || code === 'ELOOP';
}

/**
 * Removes the listed files of a copy (the tool's own, opened and checked by the caller), then
 * the listed folders that are empty. Each file is looked at again right before (still a file,
 * as the plan saw it); nothing is deleted through a folder that became a link.
 */
export async function removeListed(
  entry: Folder,
  name: string,
  plan: Pick<CopyPlan, 'deletes' | 'rmdirs' | 'seen'>,
): Promise<void> {
  const tree = new FolderTree(entry);
  try {
    await removeIn(tree, name, plan);
  } catch (error) {
    throw withRealPaths(error);
  } finally {
    tree.close();
  }
}

async function removeIn(
  tree: FolderTree,
  name: string,
  plan: Pick<CopyPlan, 'deletes' | 'rmdirs' | 'seen'>,
): Promise<void> {
  const turn = turnTaker();
  for (const rel of plan.deletes) {
    pause('delete', `${name}/${rel}`);
    const [folder, base] = parentIn(tree, name, rel);
    const stat = lstatSync(folder.at(base), { throwIfNoEntry: false });
    if (stat && !stat.isFile()) throw new EntryChanged(`${name}/${rel} is no longer a file`);
    if (stat) {
      unchangedSincePlan(name, rel, stat, plan.seen);
      unlinkSync(folder.at(base));
    }
    const due = turn();
    if (due) await due;
  }
  for (const rel of plan.rmdirs) {
    let parent: [Folder, string];
    try {
      parent = parentIn(tree, name, rel);
    } catch (error) {
      if (error instanceof EntryChanged) continue; // its parent is gone or not a folder: nothing to remove here
      throw error;
    }
    tree.forget(rel);
    removeEmptyFolder(parent[0], parent[1]);
  }
}

/**
 * Writes one file of a plan; a small file is written by the time it returns, a big one returns the promise of its end.
 */
type WriteOne = (file: { rel: string } & FileFacts) => Promise<void> | undefined;

async function writeFiles(plan: CopyPlan, write: WriteOne, onFile?: (bytes: number) => void): Promise<CopyResult> {
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
  const oneEnds = (): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
    });
  let failed: { error: unknown } | undefined;
  for (const file of plan.writes) {
    let job: Promise<void> | undefined;
    try {
      job = write(file);
      if (!job) done(file.size);
    } catch (error) {
      failed ??= { error };
    }
    if (job) {
      inFlight++;
      void job.then(
        () => {
          try {
            done(file.size);
          } catch (error) {
            failed ??= { error }; // a progress callback that throws: the copy stops as after a failed file
          } finally {
            ended();
          }
        },
        (error: unknown) => {
          failed ??= { error };
          ended();
        },
      );
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

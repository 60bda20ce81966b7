/**
 * Folders held open while the tool writes or deletes in them: every write, rename and delete
 * below mediaRoot names its file through the folder it was planned in, never through a path
 * that could lead elsewhere by the time the call runs.
 *
 * Node has no `openat()`. On Linux, `/proc/self/fd/<fd>/<name>` is the same: the kernel
 * resolves `/proc/self/fd/<fd>` to the very folder the descriptor was opened on (wherever it
 * was moved since), then looks `name` up in it. A folder is opened with O_NOFOLLOW, so a link
 * put in its place is refused, and a subfolder is opened through its parent's descriptor, so a
 * folder higher up swapped for a link changes nothing. Where /proc is not there (other systems),
 * each call first looks again at every folder from the first one opened down (lstat: still a
 * folder, same device and inode); between that look and the call remains a window of a few
 * microseconds, which docs/safety.md names.
 */
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fstatSync,
  futimesSync,
  lstatSync,
  lutimesSync,
  openSync,
  readdirSync,
  readlinkSync,
  statSync,
  type Dirent,
  type Stats,
} from 'node:fs';
import path from 'node:path';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/** A folder the tool acts in. */
export interface Folder {
  /** The folder's path, for messages only: calls go through `at()`. */
  readonly path: string;
  /** Device and inode of the folder as it was opened. */
  readonly dev: number;
  readonly ino: number;
  /** A path that names `name` inside this very folder (a plain name: no separator, not `.` or `..`). */
  at(name: string): string;
  /** A subfolder, opened without following a link: ENOTDIR (or ELOOP) if `name` is not a plain folder. */
  open(name: string): Folder;
  /** The folder's own facts, from the open folder (not from its path). */
  stat(): Stats;
  /** A path that names this very folder (for a walk or a listing of it). */
  here(): string;
  /** Its names, from the open folder. */
  list(): Dirent[];
  /** Sets the folder's own mode, through the open folder. */
  chmod(mode: number): void;
  /** Sets the folder's own access and modification times (seconds), through the open folder. */
  setTimes(seconds: number): void;
  close(): void;
}

/** The kind of handle in use: descriptors where /proc lets the tool name files through them. */
export type FolderKind = 'descriptor' | 'path';

let kind: FolderKind | undefined;

/** Which kind this process uses (tests switch to `path` to cover other systems' code on Linux). */
export function folderKind(force?: FolderKind): FolderKind {
  if (force) kind = force;
  kind ??= descriptorsWork() ? 'descriptor' : 'path';
  return kind;
}

function descriptorsWork(): boolean {
  if (process.platform !== 'linux' || !existsSync('/proc/self/fd')) return false;
  let fd: number | undefined;
  try {
    fd = openSync('/', O_RDONLY | O_DIRECTORY);
    const through = statSync(`/proc/self/fd/${fd}/.`);
    const root = statSync('/');
    return through.ino === root.ino && through.dev === root.dev;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Opens a folder the tool will act in. `follow`: links on the way are followed (mediaRoot may
 * itself be a link; whoever could change them is checked by trust.ts); otherwise the last part
 * must be a plain folder.
 */
export function openFolder(folder: string, options: { follow?: boolean } = {}): Folder {
  const full = path.resolve(folder);
  if (folderKind() === 'descriptor') {
    const fd = openSync(full, O_RDONLY | O_DIRECTORY | (options.follow ? 0 : O_NOFOLLOW));
    return new DescriptorFolder(fd, full);
  }
  const stat = options.follow ? statSync(full) : lstatSync(full);
  if (!stat.isDirectory()) throw notAFolder(full);
  return new PathFolder(full, stat, undefined);
}

class DescriptorFolder implements Folder {
  readonly dev: number;
  readonly ino: number;
  private closed = false;

  constructor(
    private readonly fd: number,
    readonly path: string,
  ) {
    let stat: Stats;
    try {
      stat = fstatSync(fd);
    } catch (error) {
      // The descriptor is this object's from the start: a failed look at it (EIO) does not leak it.
      closeSync(fd);
      throw error;
    }
    this.dev = stat.dev;
    this.ino = stat.ino;
  }

  at(name: string): string {
    checkName(name);
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  open(name: string): Folder {
    const fd = openSync(this.at(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    return new DescriptorFolder(fd, `${this.path}${path.sep}${name}`);
  }

  stat(): Stats {
    return fstatSync(this.fd);
  }

  here(): string {
    return `/proc/self/fd/${this.fd}`;
  }

  list(): Dirent[] {
    return readdirSync(this.here(), { withFileTypes: true });
  }

  chmod(mode: number): void {
    fchmodSync(this.fd, mode);
  }

  setTimes(seconds: number): void {
    futimesSync(this.fd, seconds, seconds);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Where descriptors cannot name files: the path, with every folder from the top looked at again before each use. */
class PathFolder implements Folder {
  readonly dev: number;
  readonly ino: number;

  constructor(
    readonly path: string,
    stat: Stats,
    private readonly parent: PathFolder | undefined,
  ) {
    this.dev = stat.dev;
    this.ino = stat.ino;
  }

  at(name: string): string {
    checkName(name);
    this.check();
    return `${this.path}${path.sep}${name}`;
  }

  open(name: string): Folder {
    const full = this.at(name);
    const stat = lstatSync(full);
    if (!stat.isDirectory()) throw notAFolder(full);
    return new PathFolder(full, stat, this);
  }

  stat(): Stats {
    this.check();
    return lstatSync(this.path);
  }

  here(): string {
    this.check();
    return this.path;
  }

  list(): Dirent[] {
    return readdirSync(this.here(), { withFileTypes: true });
  }

  chmod(mode: number): void {
    const here = this.here();
    // Windows opens no folder; its chmod changes only a read-only flag.
    if (process.platform === 'win32') {
      chmodSync(here, mode);
      return;
    }
    // Through the folder itself, never through a link put at its path since the check: opened without following
    // one, proven the folder opened, then changed by its descriptor.
    const fd = openSync(here, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      const now = fstatSync(fd);
      if (now.ino !== this.ino || now.dev !== this.dev) throw notAFolder(this.path);
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
  }

  setTimes(seconds: number): void {
    lutimesSync(this.here(), seconds, seconds);
  }

  close(): void {
    // Nothing held.
  }

  /**
   * This folder and those above it are still the ones opened (the first is taken as given: it may be reached through
   * links).
   */
  private check(): void {
    if (!this.parent) {
      const now = statSync(this.path);
      if (now.ino !== this.ino || now.dev !== this.dev) throw notAFolder(this.path);
      return;
    }
    this.parent.check();
    const now = lstatSync(this.path);
    if (!now.isDirectory() || now.ino !== this.ino || now.dev !== this.dev) throw notAFolder(this.path);
  }
}

function checkName(name: string): void {
  if (
    name === '' ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\0') ||
    (path.sep === '\\' && name.includes('\\'))
  ) {
    throw new Error(`internal: not a plain name: ${JSON.stringify(name)}`);
  }
}

function notAFolder(full: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a plain folder, open '${full}'`), {
    code: 'ENOTDIR',
    syscall: 'open',
    path: full,
  });
}

/** A folder's identity: device and inode. */
export interface FolderId {
  dev: number;
  ino: number;
}

/** Whether a folder as seen now is the one a look saw (device and inode). */
export function sameFolder(a: FolderId, b: FolderId | undefined): boolean {
  return b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/**
 * The folders of one tree (a copy), opened as they are needed, each through its parent, and
 * kept open for the next file in the same folder (at most `MAX_OPEN` at a time).
 */
export class FolderTree {
  private readonly open = new Map<string, Folder>();
  /** Every folder opened below the top, and its identity: where the work was done. */
  private readonly worked = new Map<string, FolderId>();

  constructor(readonly top: Folder) {}

  /**
   * Whether every folder the work was done in is still at its name (reached from the top again,
   * never through a link): a folder swapped for a link meanwhile was worked in wherever it was
   * moved, and what is published at its name now is something else.
   */
  stillInPlace(): string | undefined {
    for (const [rel, id] of [...this.worked].sort(([a], [b]) => a.length - b.length)) {
      const at = rel.lastIndexOf('/');
      let now: Stats | undefined;
      try {
        const parent = at < 0 ? this.top : this.folder(rel.slice(0, at));
        now = lstatSync(parent.at(at < 0 ? rel : rel.slice(at + 1)), { throwIfNoEntry: false });
      } catch {
        now = undefined;
      }
      if (!now?.isDirectory() || !sameFolder(now, id)) return rel;
    }
    return undefined;
  }

  /** The folder at `rel` ("" for the top; "a/b"), never reached through a link. */
  folder(rel: string): Folder {
    if (rel === '' || rel === '.') return this.top;
    const known = this.open.get(rel);
    if (known) {
      // Most recently used last.
      this.open.delete(rel);
      this.open.set(rel, known);
      return known;
    }
    const at = rel.lastIndexOf('/');
    const parent = this.folder(at < 0 ? '' : rel.slice(0, at));
    const made = parent.open(at < 0 ? rel : rel.slice(at + 1));
    const first = this.worked.get(rel);
    if (first && !sameFolder(made, first)) {
      made.close();
      throw Object.assign(new Error(`ENOTDIR: ${rel} is not the folder it was, open '${made.path}'`), {
        code: 'ENOTDIR',
        syscall: 'open',
        path: made.path,
      });
    }
    this.worked.set(rel, { dev: made.dev, ino: made.ino });
    this.open.set(rel, made);
    if (this.open.size > MAX_OPEN) {
      const [oldest, folder] = this.open.entries().next().value as [string, Folder];
      this.open.delete(oldest);
      folder.close();
    }
    return made;
  }

  /** The folder holding `rel` and the name in it: `["a/b", "c.css"]` for "a/b/c.css". */
  parentOf(rel: string): [Folder, string] {
    const at = rel.lastIndexOf('/');
    return [this.folder(at < 0 ? '' : rel.slice(0, at)), at < 0 ? rel : rel.slice(at + 1)];
  }

  /** Forgets a folder (it was removed, or renamed): the next use opens it again. */
  forget(rel: string): void {
    for (const [key, folder] of this.open) {
      if (key === rel || key.startsWith(`${rel}/`)) {
        this.open.delete(key);
        folder.close();
      }
    }
    for (const key of [...this.worked.keys()]) if (key === rel || key.startsWith(`${rel}/`)) this.worked.delete(key);
  }

  /** Closes every folder it opened (not the top). */
  close(): void {
    for (const folder of this.open.values()) folder.close();
    this.open.clear();
  }
}

const MAX_OPEN = 64;

const PROC_FD = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/;

/**
 * An error of a call made through an open folder names `/proc/self/fd/<n>/...`: while the folder
 * is still open, its path and message are rewritten to the folder's real path, for the user.
 */
export function withRealPaths<T>(error: T): T {
  const errno = error as NodeJS.ErrnoException & { dest?: unknown };
  if (!(error instanceof Error)) return error;
  const real = (file: unknown): string | undefined => {
    if (typeof file !== 'string') return undefined;
    const match = PROC_FD.exec(file);
    if (!match) return undefined;
    try {
      return `${readlinkSync(`/proc/self/fd/${match[1]}`)}${match[2] ?? ''}`;
    } catch {
      return undefined;
    }
  };
  for (const key of ['path', 'dest'] as const) {
    const from = errno[key];
    const to = real(from);
    if (to !== undefined && typeof from === 'string') {
      errno[key] = to;
      errno.message = errno.message.split(from).join(to);
    }
  }
  return error;
}

/**
 * One writing run at a time per mediaRoot, so two runs at once end as one run
 * would: a lock file made with O_EXCL, released at the end.
 *
 * A lock whose process is gone (same machine, pid not running) or that has
 * not been refreshed for `staleMs` (another machine on a shared disk) is
 * broken. The lock sits in mediaRoot, which is public, so it holds only a
 * pid, a hash of the host name and a random token.
 *
 * Written here rather than with proper-lockfile: that library only knows
 * staleness by age, so after a `kill -9` the next run would wait out the
 * whole stale period; checking the pid frees it at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errors } from '../errors.js';
import { TOKEN } from './temp.js';
import { currentRunner } from './trust.js';

export const LOCK_FILE = '.app-media.lock';
/**
 * A lock's draft (the lock file's name, a dot, the run's token), or a lock moved aside when it
 * was broken (the same, then `.broken`: a draft left beside its lock is a hard link to the same
 * file, and rename() from one name of a file to another of the same file does nothing).
 */
const LEFTOVER = /^\.app-media\.lock\.([0-9a-f]{16})(?:\.broken)?$/;
/** A lock file is a line of JSON: anything bigger is not one of ours. */
const MAX_LOCK_BYTES = 4096;

interface LockInfo {
  pid: number;
  host: string;
  token: string;
}

export interface LockOptions {
  /** Give up waiting after this long (default 10 minutes: a big copy can take a while). */
  timeoutMs?: number;
  /** A lock not refreshed for this long is stale (default 30 s; the holder refreshes it every third of that). */
  staleMs?: number;
  /** Told once when the run has to wait. */
  onWait?: (holderPid: number) => void;
  /** The folder as messages name it. */
  display?: string;
}

export interface Lock {
  /** The run's token: its temporary files carry it (fs/temp.ts). */
  token: string;
  release(): Promise<void>;
}

const HOST = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 16);

export async function acquireLock(folder: string, options: LockOptions = {}): Promise<Lock> {
  const file = path.join(folder, LOCK_FILE);
  const staleMs = options.staleMs ?? 30_000;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  const mine: LockInfo = { pid: process.pid, host: HOST, token: randomBytes(8).toString('hex') };
  let told = false;
  let pause = 20;
  for (;;) {
    // Written whole under another name, then hard-linked into place (fails if a lock is there):
    // a run killed at any moment never leaves an empty lock behind.
    const draft = `${file}.${mine.token}`;
    try {
      await fs.writeFile(draft, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
    } catch (error) {
      // Made but not written whole (ENOSPC, EIO): a part of a lock reads as no lock of ours, and no
      // sweep would ever take it. Not on EEXIST: that name was not made by this run.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') await fs.unlink(draft).catch(() => undefined);
      throw error;
    }
    try {
      await fs.link(draft, file);
      return holding(file, mine, staleMs);
    } catch (error) {
      // EEXIST: held by another run. ENOENT: our draft was swept as a leftover: write it again.
      // Anything else, with the draft just written: this file system makes no hard links (EPERM on
      // FAT, some shares). Not an EPERM of a folder that cannot be written, on which a run goes on
      // unlocked to report (link/session.ts): this one could write, so it stops.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOENT')
        throw errors.lockUnsupported(
          options.display ? `${options.display}/${LOCK_FILE}` : file,
          error as NodeJS.ErrnoException,
        );
    } finally {
      // Only the draft file itself: whatever else took its name (a folder) is left as it is.
      await fs.unlink(draft).catch(() => undefined);
    }
    const read = readLock(file);
    if (read === 'foreign') throw errors.foreignLock(options.display ? `${options.display}/${LOCK_FILE}` : file);
    // Empty: linked into place whole, but its bytes never reached the disk (a power cut before
    // they were flushed). Broken at once, as a lock of a process that is gone.
    const holder = read === 'empty' ? { pid: 0, host: HOST, token: randomBytes(8).toString('hex') } : read;
    if (holder && (read === 'empty' || (await isStale(file, holder, staleMs)))) {
      await breakLock(file, holder, read === 'empty');
      continue;
    }
    if (Date.now() > deadline) {
      throw Object.assign(new Error(`another run has held ${file} for too long (pid ${holder?.pid ?? '?'})`), {
        code: 'ETIMEDOUT',
      });
    }
    if (!told && holder) {
      told = true;
      options.onWait?.(holder.pid);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 250);
  }
}

function holding(file: string, mine: LockInfo, staleMs: number): Lock {
  const refresh = setInterval(
    () => {
      const now = new Date();
      fs.lutimes(file, now, now).catch(() => undefined);
    },
    Math.max(1000, Math.floor(staleMs / 3)),
  );
  refresh.unref();
  return {
    token: mine.token,
    async release(): Promise<void> {
      clearInterval(refresh);
      // Only our own lock: if it was broken and taken by another run, it is theirs now.
      const current = readLock(file);
      if (typeof current === 'object' && current.token === mine.token) await fs.rm(file, { force: true });
    },
  };
}

/**
 * A lock file's contents: undefined when there is none, 'empty' for a draft a killed run left
 * unwritten, 'foreign' for anything that is not a lock of this tool (a link, a FIFO, a folder, a
 * file of someone's that happens to have the name): never taken for a lock, never removed.
 * Read without following a link and without blocking.
 */
function readLock(file: string): LockInfo | 'empty' | 'foreign' | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'foreign';
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_LOCK_BYTES) return 'foreign';
    // Written by a run of the runner's or root's, or it is not one of ours (anyone who can write
    // mediaRoot could put a lock there naming a token, to have the names of that token swept).
    const runner = currentRunner();
    if (runner && stat.uid !== runner.uid && stat.uid !== 0) return 'foreign';
    if (stat.size === 0) return 'empty';
    const buffer = Buffer.alloc(stat.size);
    const read = readSync(fd, buffer, 0, stat.size, 0);
    const info = JSON.parse(buffer.subarray(0, read).toString('utf8')) as Partial<LockInfo>;
    if (
      typeof info.pid === 'number' &&
      typeof info.host === 'string' &&
      typeof info.token === 'string' &&
      TOKEN.test(info.token)
    ) {
      return { pid: info.pid, host: info.host, token: info.token };
    }
    return 'foreign';
  } catch {
    return 'foreign';
  } finally {
    closeSync(fd);
  }
}

async function isStale(file: string, holder: LockInfo, staleMs: number): Promise<boolean> {
  if (holder.host === HOST && holder.pid > 0 && !isRunning(holder.pid)) return true;
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return false;
  return Date.now() - stat.mtimeMs > staleMs;
}

/**
 * The token of a lock left behind at `name` (a lock moved aside when it was broken, or the draft
 * of a run killed while taking the lock), when its run is gone: the sweep removes that run's
 * temporary files, then this file. Undefined for any other name, a live run's draft, or a file
 * that is not one of ours.
 */
export function leftoverLockToken(folder: string, name: string): string | undefined {
  const token = LEFTOVER.exec(name)?.[1];
  if (!token) return undefined;
  const info = readLock(path.join(folder, name));
  // Empty: a draft whose run was killed while writing it. (Were it a live run's draft being
  // written right now, that run finds it gone when it links it, and writes it again.)
  if (info === 'empty') return token;
  if (info === undefined || info === 'foreign' || info.token !== token) return undefined;
  if (info.host === HOST && info.pid > 0 && !isRunning(info.pid)) return token;
  return undefined;
}

/** The token of the lock in `folder` (held or left by a run), if there is one of ours. */
export function lockToken(folder: string): string | undefined {
  const info = readLock(path.join(folder, LOCK_FILE));
  return info !== undefined && info !== 'empty' && info !== 'foreign' ? info.token : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Breaks a stale lock, making sure it is still the one judged stale: it is moved aside first and
 * checked; a fresh lock moved by mistake is put back. The stale lock stays aside, under its own
 * token: the sweep that follows removes its run's temporary files, then it.
 */
async function breakLock(file: string, stale: LockInfo, empty = false): Promise<void> {
  const aside = `${file}.${stale.token}.broken`;
  try {
    await fs.rename(file, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = readLock(aside);
  if (
    empty
      ? moved !== 'empty'
      : moved === undefined || moved === 'foreign' || moved === 'empty' || moved.token !== stale.token
  ) {
    // Not the lock judged stale (a fresh one, taken meanwhile): put back, and the aside name freed.
    const temp = `${file}.${randomBytes(8).toString('hex')}`;
    await fs.rename(aside, temp).catch(() => undefined);
    await fs.link(temp, file).catch(() => undefined);
    await fs.rm(temp, { force: true });
  }
}

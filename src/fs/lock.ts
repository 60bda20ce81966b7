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
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LOCK_FILE = '.app-media.lock';

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
}

export interface Lock {
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
    await fs.writeFile(draft, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
    try {
      await fs.link(draft, file);
      return holding(file, mine, staleMs);
    } catch (error) {
      // EEXIST: held by another run. ENOENT: our draft was swept as a leftover: write it again.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOENT') throw error;
    } finally {
      await fs.rm(draft, { force: true });
    }
    const holder = await readLock(file);
    if (holder && (await isStale(file, holder, staleMs))) {
      await breakLock(file, holder);
      continue;
    }
    if (Date.now() > deadline) {
      throw Object.assign(new Error(`another run has held ${file} for too long (pid ${holder?.pid ?? '?'})`), { code: 'ETIMEDOUT' });
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
  const refresh = setInterval(() => {
    const now = new Date();
    fs.utimes(file, now, now).catch(() => undefined);
  }, Math.max(1000, Math.floor(staleMs / 3)));
  refresh.unref();
  return {
    async release(): Promise<void> {
      clearInterval(refresh);
      // Only our own lock: if it was broken and taken by another run, it is theirs now.
      const current = await readLock(file);
      if (current?.token === mine.token) await fs.rm(file, { force: true });
    },
  };
}

async function readLock(file: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<LockInfo>;
    if (typeof info.pid === 'number' && typeof info.host === 'string' && typeof info.token === 'string') return info as LockInfo;
    return { pid: 0, host: '', token: '' };
  } catch (error) {
    // Half-written by a run that was killed in the middle, or unreadable: treat as stale by age only.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { pid: 0, host: '', token: '' };
  }
}

async function isStale(file: string, holder: LockInfo, staleMs: number): Promise<boolean> {
  if (holder.host === HOST && holder.pid > 0 && !isRunning(holder.pid)) return true;
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return false;
  // Locks are written whole and then linked into place, so one without a token was never a lock.
  return holder.token === '' || Date.now() - stat.mtimeMs > staleMs;
}

/** A lock moved aside, or the draft of a run killed while taking the lock: its process is gone, or it is old. */
export async function isLeftoverLock(file: string): Promise<boolean> {
  const info = await readLock(file);
  if (!info) return false;
  // Empty or cut short: a draft whose run was killed while writing it. (Were it a live run's draft
  // being written right now, that run finds it gone when it links it, and writes it again.)
  if (info.token === '') return true;
  if (info.host === HOST && info.pid > 0 && !isRunning(info.pid)) return true;
  const stat = await fs.stat(file).catch(() => undefined);
  return stat !== undefined && Date.now() - stat.mtimeMs > 60_000;
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
 * Removes a stale lock, making sure it is still the one judged stale: it is
 * moved aside first and checked; a fresh lock moved by mistake is put back.
 */
async function breakLock(file: string, stale: LockInfo): Promise<void> {
  const aside = `${file}.${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = await readLock(aside);
  if (moved && moved.token !== stale.token) {
    await fs.link(aside, file).catch(() => undefined);
  }
  await fs.rm(aside, { force: true });
}

/**
 * Sweeps what an interrupted run left behind, at the top of mediaRoot: its temporary files and
 * folders, and its lock. A run's temporary names carry its lock's token (fs/temp.ts); a run
 * killed before it ended leaves its lock, which the next run breaks and keeps aside under that
 * token (fs/lock.ts). Only names of such runs are removed: never a name a person happened to
 * give a file, never a live run's. Runs only while holding the lock.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { leftoverLockToken, LOCK_FILE } from './lock.js';
import { pause } from './pause.js';
import { currentRunner } from './trust.js';
import { removeExact, unlinkEach } from './remove-exact.js';
import { tokenOfTemp } from './temp.js';
import { removeOwnTree, type Workspace } from './workspace.js';

export interface Swept {
  /** Temporary files and folders removed. */
  removed: number;
  /**
   * Temporary folders left where they are: in a mediaRoot others may write (`sharedMediaRoot`),
   * a folder at a temporary name may have been put there by someone else, so it is not emptied.
   */
  left: string[];
  /**
   * Files and links at a killed run's names left where they are: in a shared mediaRoot, one that is
   * not the runner's (put there by someone else), or one that unlink(2) refused.
   */
  leftFiles: string[];
}

export async function sweepLeftovers(ws: Workspace, shared: boolean): Promise<Swept> {
  const names = ws.root.list().map((entry) => entry.name);
  // A killed run may leave both its draft and its lock broken aside: one token, two names.
  const dead = new Map<string, string[]>();
  for (const name of names) {
    const token = leftoverLockToken(ws.root.here(), name);
    if (token) dead.set(token, [...(dead.get(token) ?? []), name]);
  }
  const swept: Swept = { removed: 0, left: [], leftFiles: [] };
  if (dead.size === 0) return swept;
  const keep = new Set<string>();
  const whole: string[] = [];
  const runner = currentRunner();
  for (const name of names) {
    const token = tokenOfTemp(name);
    if (!token || !dead.has(token)) continue;
    pause('sweep', name);
    const stat = lstatSync(ws.root.at(name), { throwIfNoEntry: false });
    if (!stat) continue;
    if (stat.isDirectory()) {
      // A folder the run made is the runner's and private (0700); anything else at its name was
      // put there (or renamed there) by someone else: left, and said.
      const theirs = runner !== undefined && (stat.uid !== runner.uid || (stat.mode & 0o077) !== 0);
      if (shared || theirs) {
        swept.left.push(name);
        keep.add(token);
        continue;
      }
      // A folder, through open folders: never through a link at any depth (fs/workspace.ts).
      removeOwnTree(ws.root, name);
    } else {
      // In a shared mediaRoot, a file or link at the name that is not the runner's was put there by
      // someone else: left, and said (as a folder is).
      if (shared && runner !== undefined && stat.uid !== runner.uid) {
        swept.leftFiles.push(name);
        keep.add(token);
        continue;
      }
      whole.push(name);
    }
    swept.removed++;
  }
  if (shared) {
    // Others may write here: one unlink(2) a name, never a recursive remove (remove-exact.ts).
    for (const name of unlinkEach(ws.root, whole)) {
      swept.leftFiles.push(name);
      swept.removed--;
      const token = tokenOfTemp(name);
      if (token) keep.add(token);
    }
  } else {
    // Files and links at the killed run's names: by exact name, with `del`.
    await removeExact(ws.root.here(), whole);
  }
  // The lock stays aside while a folder of its run is left: it still vouches for that name.
  for (const [token, left] of dead) if (!keep.has(token)) for (const name of left) unlinkIfThere(ws, name);
  return swept;
}

function unlinkIfThere(ws: Workspace, name: string): void {
  try {
    unlinkSync(ws.root.at(name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Whether mediaRoot holds what a run left to sweep (a lock, a lock left aside by a killed run, a
 * temporary name of such a run): then even a run with nothing else to do takes the lock and sweeps.
 */
export function hasTraces(names: readonly string[], folder: string): boolean {
  return names.some((name) => name === LOCK_FILE || leftoverLockToken(folder, name) !== undefined);
}

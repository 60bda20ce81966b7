/**
 * Folder stamps of a copy: what lets a re-run skip listing the copy's folders.
 *
 * Adding, removing or renaming anything in a folder sets the folder's mtime to
 * the current time. Once the tool has written a copy, it sets each folder's
 * mtime to a time a few seconds in the past, reads it back and lists the
 * folder once: if the folder holds exactly the names its record lists, the
 * mtime read back is its stamp. A later run that finds the same mtime knows
 * the names without listing the folder; any change since has moved the mtime
 * to "now", which is never the stamp, and the folder is listed again.
 *
 * A stamp only spares a listing. Every file is still looked at, and every
 * write or delete looks again right before it (link/copy.ts), so a stamp that
 * were wrong could hide a file added by hand from the report, never expose it
 * to a write.
 */
import { lstatSync, type Stats } from 'node:fs';
import path from 'node:path';
import { listingOf, recordedListing, type CopyRecord } from '../records.js';
import { walkStart } from './change-times.js';
import { FolderTree, type Folder } from './folder.js';
import type { TreeFacts } from './walk.js';

/**
 * The stamp time: a whole, even second (file systems with 2-second times keep
 * it as it is) at least two seconds before now, so a change made now, even on
 * such a file system, gives another time.
 */
export function stampTime(now = Date.now()): number {
  return (Math.floor(now / 2000) - 1) * 2;
}

/**
 * Stamps the folders of the copy just written at `name` in mediaRoot (`root`, open), per
 * `record`, and returns the stamps of those that hold exactly the recorded names. A folder
 * that holds anything else (a file added by hand), or that cannot be stamped, gets none and is
 * listed by every run, as without stamps.
 *
 * `previous`: the stamps of the record still on disk until this run saves its
 * own. A folder never gets its previous stamp back: if the run were killed
 * before saving, the old record would otherwise vouch for names that changed.
 */
export function stampCopy(
  root: Folder,
  name: string,
  record: CopyRecord,
  previous: Readonly<Record<string, number>> = {},
  now = Date.now(),
): Record<string, number> | undefined {
  let entry: Folder;
  try {
    entry = root.open(name);
  } catch {
    return undefined; // not a plain folder any more: no stamps, listed as before
  }
  const tree = new FolderTree(entry);
  const stamps: Array<[string, number]> = [];
  try {
    // Parents before their folders; each folder opened through its parent, never through a
    // link put there meanwhile, and its time set through the open folder.
    const depth = (rel: string): number => (rel === '.' ? 0 : rel.split('/').length);
    const folders = [...recordedListing(record)].sort(([a], [b]) => depth(a) - depth(b) || byName(a, b));
    for (const [rel, names] of folders) {
      try {
        const folder = tree.folder(rel === '.' ? '' : rel);
        // Stamp, then list: a change after the read-back moves the mtime off the stamp; one before
        // it shows in the listing.
        const stamp = newStamp(folder, previous[rel], now);
        if (stamp === undefined) continue;
        const listed = folder.list();
        if (listed.length !== names.size || !listed.every((entry) => names.has(entry.name))) continue;
        stamps.push([rel, stamp]);
      } catch {
        // Not stamped: listed as before.
      }
    }
  } finally {
    tree.close();
    entry.close();
  }
  return stamps.length > 0 ? Object.fromEntries(stamps.sort(([a], [b]) => byName(a, b))) : undefined;
}

/**
 * Sets a folder's time to `seconds` (through the open folder) and reads it back: the stamp, or undefined when the time
 * read back is not the one set: a change landed in between (its time is now, which a later change in the same clock
 * tick would leave as it is), or the file system kept a time of its own.
 */
export function stampFolder(folder: Folder, seconds: number): number | undefined {
  folder.setTimes(seconds);
  const time = folder.stat().mtimeMs;
  return time === seconds * 1000 ? time : undefined;
}

/**
 * A new stamp for a folder (its time set through the open folder, read back): never `before`, its previous stamp,
 * nor within two seconds of it, so an old record or index never vouches for what the folder holds now. Without a
 * stamp (stampFolder), the folder's time is set to now: surely not the old stamp either.
 */
export function newStamp(folder: Folder, before: number | undefined, now = Date.now()): number | undefined {
  let seconds = stampTime(now);
  while (before !== undefined && Math.abs(seconds * 1000 - before) < 2000) seconds -= 2;
  const stamp = stampFolder(folder, seconds);
  if (stamp === undefined) folder.setTimes(now / 1000);
  return stamp;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The source stamps a copy's record keeps (core/fs/walk.ts, SourceStamps): for each folder of the app's
 * media folder `mediaDir` whose names, as the walk `tree` gave them, are exactly the names the record
 * lists in that folder of the copy (no file ignored, no link, nothing the record keeps that the source
 * lacks), its ctime now, if that is older than the walk's start by two seconds or more (the start as
 * the monotonic clock measures it back from now, if the wall clock stepped back meanwhile): then no
 * name in it changed since the walk began (a change gives a ctime of its own time), and any later
 * change gives a newer ctime. Only on the walk's device, and only where the walk found a file system
 * whose ctimes can vouch for names (core/fs/change-times.ts). A folder whose ctime is more recent gets
 * no stamp and is listed by every run, as without. Read-only: it only looks (`lstat`) at the
 * source's folders.
 */
export function sourceStamps(
  mediaDir: string,
  record: CopyRecord,
  tree: TreeFacts,
): Record<string, number> | undefined {
  if (tree.walkedAt === undefined || tree.walkedTick === undefined || tree.rootDev === undefined) return undefined;
  const before = walkStart(tree.walkedAt, tree.walkedTick) - 2000;
  const recorded = recordedListing(record);
  const listed = listingOf(tree.files.keys(), tree.dirs);
  const stamps: Array<[string, number]> = [];
  for (const rel of [...recorded.keys()].sort(byName)) {
    const mine = recorded.get(rel);
    const theirs = listed.get(rel);
    if (tree.mixed?.has(rel) || !mine || !theirs || !sameNames(mine, theirs)) continue;
    let stat: Stats | undefined;
    try {
      stat = lstatSync(rel === '.' ? mediaDir : path.join(mediaDir, ...rel.split('/')), { throwIfNoEntry: false });
    } catch {
      continue; // not stamped: listed as before
    }
    if (stat?.isDirectory() && stat.dev === tree.rootDev && stat.ctimeMs < before) stamps.push([rel, stat.ctimeMs]);
  }
  return stamps.length > 0 ? Object.fromEntries(stamps) : undefined;
}

function sameNames(a: ReadonlyMap<string, 'file' | 'dir'>, b: ReadonlyMap<string, 'file' | 'dir'>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, kind] of a) if (b.get(name) !== kind) return false;
  return true;
}

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
 * write or delete looks again right before it (fs/copy.ts), so a stamp that
 * were wrong could hide a file added by hand from the report, never expose it
 * to a write.
 */
import { lstatSync, lutimesSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { recordedListing, type CopyRecord } from '../ownership.js';

/**
 * The stamp time: a whole, even second (file systems with 2-second times keep
 * it as it is) at least two seconds before now, so a change made now, even on
 * such a file system, gives another time.
 */
export function stampTime(now = Date.now()): number {
  return (Math.floor(now / 2000) - 1) * 2;
}

/**
 * Stamps the folders of a copy just written (`entryPath`, per `record`), and
 * returns the stamps of those that hold exactly the recorded names. A folder
 * that holds anything else (a file added by hand), or that cannot be stamped,
 * gets none and is listed by every run, as without stamps.
 *
 * `previous`: the stamps of the record still on disk until this run saves its
 * own. A folder never gets its previous stamp back: if the run were killed
 * before saving, the old record would otherwise vouch for names that changed.
 */
export function stampCopy(entryPath: string, record: CopyRecord, previous: Readonly<Record<string, number>> = {}, now = Date.now()): Record<string, number> | undefined {
  const stamps: Array<[string, number]> = [];
  // Parents before their folders: a folder is touched only below folders seen to be plain folders,
  // and itself only once seen to be one, with lutimes (never through a link put there meanwhile).
  const depth = (rel: string): number => (rel === '.' ? 0 : rel.split('/').length);
  const folders = [...recordedListing(record)].sort(([a], [b]) => depth(a) - depth(b) || byName(a, b));
  const plain = new Set<string>();
  for (const [rel, names] of folders) {
    const parent = rel === '.' ? undefined : rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '.';
    if (parent !== undefined && !plain.has(parent)) continue;
    const dir = rel === '.' ? entryPath : path.join(entryPath, ...rel.split('/'));
    const before = previous[rel];
    let seconds = stampTime(now);
    while (before !== undefined && Math.abs(seconds * 1000 - before) < 2000) seconds -= 2;
    try {
      if (!lstatSync(dir).isDirectory()) continue;
      plain.add(rel);
      lutimesSync(dir, seconds, seconds);
      // Read back, then list: a change after the read-back moves the mtime off the stamp;
      // one before it shows in the listing.
      const stat = lstatSync(dir);
      if (!stat.isDirectory()) continue;
      if (stat.mtimeMs === before) {
        lutimesSync(dir, now / 1000, now / 1000); // a file system that kept only part of the time: no stamp, and not the old one
        continue;
      }
      const listed = readdirSync(dir);
      if (listed.length !== names.size || !listed.every((name) => names.has(name))) continue;
      stamps.push([rel, stat.mtimeMs]);
    } catch {
      // Not stamped: listed as before.
    }
  }
  return stamps.length > 0 ? Object.fromEntries(stamps.sort(([a], [b]) => byName(a, b))) : undefined;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What is in collectRoot now: a walk of the whole folder (never entering a
 * link), and the digest of each folder's names that lets a no-change re-run
 * check a folder with one listing instead of a look at each file; with a
 * stamp on the folder (as copy mode stamps a copy's folders, core/fs/stamp.ts),
 * with one look at the folder instead of a listing.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { FolderTree, type Folder } from '../core/fs/folder.js';
import { LOCK_FILE } from '../core/fs/lock.js';
import { newStamp } from '../core/fs/stamp.js';
import { INDEX_FILE, TEMP_MARK } from './names.js';

export interface FileFacts {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface OutputTree {
  /** Whether collectRoot is there (a folder). */
  exists: boolean;
  files: Map<string, FileFacts>;
  dirs: Set<string>;
  /** Links, FIFOs, sockets, devices: never the tool's, never entered or touched. */
  others: Map<string, string>;
  /** Each folder's names ("" for the top), for the listing digests. */
  listings: Map<string, string[]>;
}

function vanished(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function walkOutputs(root: string): OutputTree {
  const tree: OutputTree = { exists: false, files: new Map(), dirs: new Set(), others: new Map(), listings: new Map() };
  const top = lstatSync(root, { throwIfNoEntry: false });
  if (!top) return tree;
  if (!top.isDirectory())
    throw Object.assign(new Error(`ENOTDIR: collectRoot is not a folder: ${root}`), {
      code: 'ENOTDIR',
      syscall: 'scandir',
      path: root,
    });
  tree.exists = true;
  const visit = (dir: string, rel: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (rel !== '' && vanished(error)) return;
      throw error;
    }
    tree.listings.set(
      rel,
      entries.map((entry) => entry.name),
    );
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      // Names the tool reserves at the top: the lock, and a run's temporary names (its private
      // staging folder, core/fs/temp.ts), swept only when their run was killed (core/fs/sweep.ts). Anywhere
      // else, a name that looks like one of them is a file like any other (a person's).
      if (rel === '' && (entry.name.startsWith(LOCK_FILE) || entry.name.startsWith(TEMP_MARK))) continue;
      if (entry.isDirectory()) {
        tree.dirs.add(childRel);
        visit(`${dir}${path.sep}${entry.name}`, childRel);
      } else if (entry.isFile()) {
        try {
          const stat = lstatSync(`${dir}${path.sep}${entry.name}`);
          if (stat.isFile()) tree.files.set(childRel, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino });
          else tree.others.set(childRel, 'not a regular file');
        } catch (error) {
          if (!vanished(error)) throw error;
        }
      } else {
        tree.others.set(childRel, entry.isSymbolicLink() ? 'a symbolic link' : 'not a regular file');
      }
    }
  };
  visit(root, '');
  return tree;
}

/**
 * Names that come and go without a build changing: the lock, a run's temporary names, and the index (written after the
 * digests).
 */
function counted(rel: string, name: string): boolean {
  return rel !== '' || !(name.startsWith(LOCK_FILE) || name.startsWith(TEMP_MARK) || name === INDEX_FILE);
}

/** A digest of a folder's names (order does not matter). */
export function listingDigest(rel: string, names: readonly string[]): string {
  const kept = names.filter((name) => counted(rel, name)).sort();
  return createHash('sha1').update(kept.join('\0')).digest('hex').slice(0, 20);
}

/** The digest of a folder's names as they are now; undefined when it is not a plain folder. */
export function currentDigest(root: string, rel: string): string | undefined {
  try {
    return listingDigest(rel, readdirSync(rel === '' ? root : path.join(root, ...rel.split('/'))));
  } catch {
    return undefined;
  }
}

/**
 * The digests of these folders of collectRoot (`root`, open), each of them but the top stamped first, as copy mode
 * stamps a copy's folders (core/fs/stamp.ts): its mtime set, through the folder opened without following a link, to
 * a time at least two seconds past; read back; then its names listed and digested. A later run that finds a folder
 * still at that mtime knows it holds the same names without listing it: adding, removing or renaming anything in it
 * since has set its mtime to the time of the change. A stamp only spares a listing (the quick look, which writes
 * nothing); every write still looks right before it.
 *
 * `previous`: the stamps and digests of the index still on disk. A folder still at its previous stamp keeps it and
 * its digest (it is not listed again); one that changed since never gets its stamp back: were the run killed before
 * its index is written, the old index would vouch for names that changed. A folder that cannot be opened as a plain
 * folder (not through a link) gets no digest, and is not looked at by the quick look; one that cannot be stamped gets
 * a digest only, and is listed. (A quick look writes nothing, so it stamps nothing: a folder whose time moved while
 * its names stayed the same is listed by each quick look until a run writes the index again.)
 */
export function stampFolders(
  root: Folder,
  rels: Iterable<string>,
  previous: { stamps: ReadonlyMap<string, number>; dirs: ReadonlyMap<string, string> },
  now = Date.now(),
): { dirs: Map<string, string>; stamps: Map<string, number> } {
  const dirs = new Map<string, string>();
  const stamps = new Map<string, number>();
  const tree = new FolderTree(root);
  try {
    for (const rel of rels) {
      let folder: Folder;
      try {
        folder = rel === '' ? root : tree.folder(rel);
      } catch {
        continue;
      }
      let stamp: number | undefined;
      if (rel !== '') {
        const before = previous.stamps.get(rel);
        try {
          // Still at its stamp: nothing in it changed since it was stamped, and it keeps the stamp (its time is
          // left alone: a run that changes nothing in a folder changes nothing of it).
          stamp = folder.stat().mtimeMs;
          if (stamp !== before) stamp = newStamp(folder, before, now);
        } catch {
          stamp = undefined;
        }
      }
      // At its previous stamp, a folder holds the names its previous digest was made from: not listed again.
      const known = stamp !== undefined && stamp === previous.stamps.get(rel) ? previous.dirs.get(rel) : undefined;
      if (known !== undefined) {
        dirs.set(rel, known);
        stamps.set(rel, stamp as number);
        continue;
      }
      let names: string[];
      try {
        names = folder.list().map((entry) => entry.name);
      } catch {
        continue;
      }
      dirs.set(rel, listingDigest(rel, names));
      if (stamp !== undefined) stamps.set(rel, stamp);
    }
  } finally {
    tree.close();
  }
  return { dirs, stamps };
}

/** Whether the folder `rel` of collectRoot is still at its stamp (so still holds the names it was digested with). */
export function atStamp(root: string, rel: string, stamp: number | undefined): boolean {
  if (stamp === undefined || rel === '') return false;
  try {
    const stat = lstatSync(path.join(root, ...rel.split('/')));
    return stat.isDirectory() && stat.mtimeMs === stamp;
  } catch {
    return false;
  }
}

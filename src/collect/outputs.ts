/**
 * What is in collectRoot now: a walk of the whole folder (never entering a
 * link), and the digest of each folder's names that lets a no-change re-run
 * check a folder with one listing instead of a look at each file.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { LOCK_FILE } from '../core/fs/lock.js';
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

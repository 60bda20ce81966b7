/** Read-only walks of a folder tree: what files it holds, with size and mtime. */
import { lstatSync, readdirSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { isPlainName } from '../util/names.js';
import { changeTimesOf } from './change-times.js';
import { vanished } from './look.js';

export interface FileFacts {
  size: number;
  mtimeMs: number;
  mode: number;
  /**
   * Device and inode of the file as the walk saw it: a copy opens the file without following
   * links and checks it is this very file before it copies a byte (fs/source.ts).
   */
  dev: number;
  ino: number;
  /** SHA-256 of the contents, filled only when comparing contents (`--checksum`). */
  hash?: string;
  /**
   * The file's relative path, set by the walks: a copy plan lists the walk's own object
   * for a file it writes, instead of a copy of it per file (young objects that outlive
   * a scavenge make V8 grow its young generation, and the run's peak memory with it).
   */
  rel?: string;
}

export interface TreeFacts {
  /** Relative paths (with "/") of regular files (and of links to files inside the tree, followed). */
  files: Map<string, FileFacts>;
  /** Relative paths of folders, parents first. */
  dirs: string[];
  /** Links that lead outside the tree (never copied). */
  escapes: string[];
  /** Entries matched by an ignore glob. */
  ignored: number;
  /** Anything else skipped: sockets, links to folders... */
  skipped: string[];
  /** Of `files`, those that are links to a file inside the tree, with the real path they lead to. */
  links?: Map<string, string>;
  /**
   * With `WalkOptions.sourceStamps`, on a file system whose ctimes can vouch for names
   * (core/fs/change-times.ts): when the walk began (Date.now() and performance.now()), the device of
   * the root (a folder on another, a mount point, is never stamped), and the folders ("." for the
   * root) that held anything but plain files and folders, or a name an ignore glob left out: what a
   * record may stamp (core/fs/stamp.ts, sourceStamps).
   */
  walkedAt?: number;
  walkedTick?: number;
  rootDev?: number;
  mixed?: Set<string>;
}

export interface WalkOptions {
  ignore?: readonly string[];
  /** Follow links to files that stay inside the tree (source side); false on the copy side. */
  followInternalLinks?: boolean;
  /** The root's real path when the caller already has it (saves one `realpath`). */
  realRoot?: string;
  /**
   * A copy's folder stamps and the names its record lists (copy side only: no ignore, no
   * links followed). A folder whose mtime is still its stamp holds just those names: they are
   * looked at one by one (`lstat`) instead of listing the folder. Any surprise (a name gone,
   * or of another kind) and the folder is listed after all.
   */
  known?: KnownFolders;
  /** Source side: what a record's source stamps need (`walkedAt`, `mixed`), and the stamps to use. */
  sourceStamps?: SourceStamps;
}

/**
 * Folder stamps of a copy's source (an app's media folder, which the tool does not own, so it cannot
 * stamp it as it stamps its copies: it only reads). A folder's change time (ctime) moves to the current
 * time whenever a name in it is added, removed or renamed, and also when its times are set: no user can
 * put it back. A copy's record keeps, per folder of the source, the ctime it had when the copy was
 * written, where that ctime was already older than the walk that gave the folder's names (core/fs/stamp.ts,
 * sourceStamps). A later walk that finds the same ctime knows the folder still holds those names, which
 * the record gives (the names of the copy's folder), and looks at each of them (`lstat`) instead of
 * listing the folder. Any surprise (a name gone, or of another kind) and it is listed after all. Every
 * file is still looked at, so a file changed in place is seen as before.
 */
export interface SourceStamps {
  /**
   * Whether a folder of the source may be case-folded, so that a stamped folder must be checked for it:
   * by default, what its file system and the kernel allow (core/fs/change-times.ts).
   */
  mayFoldCase?: boolean;
  /** Stamps a record kept, with the names each of those folders held then. */
  known?: {
    stamps: Readonly<Record<string, number>>;
    listing: ReadonlyMap<string, ReadonlyMap<string, 'file' | 'dir'>>;
  };
}

export interface KnownFolders {
  stamps: Readonly<Record<string, number>>;
  listing: ReadonlyMap<string, ReadonlyMap<string, 'file' | 'dir'>>;
  /** The root's mtime when the caller has just looked at it. */
  rootMtimeMs?: number;
}

export type IgnoreMatcher = (relPath: string) => boolean;

/** Globs are matched against the base name and against the whole relative path, like Django's ignore patterns. */
const matchers = new Map<string, IgnoreMatcher>();

export function ignoreMatcher(globs: readonly string[]): IgnoreMatcher {
  if (globs.length === 0) return () => false;
  const key = globs.join('\0');
  const known = matchers.get(key);
  if (known) return known;
  const made = compileMatcher(globs);
  matchers.set(key, made);
  return made;
}

/**
 * picomatch is loaded on first use: a run that matches no globs (links, or an up-to-date
 * project with no copy) starts without it (it is a third of the command's bundle).
 */
function compileMatcher(globs: readonly string[]): IgnoreMatcher {
  const picomatch = createRequire(import.meta.url)('picomatch') as typeof import('picomatch');
  const match = picomatch([...globs], { dot: true });
  const baseName = (relPath: string): string => relPath.slice(relPath.lastIndexOf('/') + 1);
  // Globs of plain characters, `*`, `?` and `{a,b}` (the defaults: `.*`, `*~`) never match across
  // a "/": a path below the top can only match by its base name, so one test is enough.
  if (globs.every((glob) => /^[^/\\[\]!()@+]*$/.test(glob) && !glob.includes('**')))
    return (relPath) => match(baseName(relPath));
  return (relPath) => match(relPath) || match(baseName(relPath));
}

/** The same walk as `walkTreeSync`, awaited (so callers may run several at once). */
export async function walkTree(root: string, options: WalkOptions = {}): Promise<TreeFacts> {
  await Promise.resolve();
  return walkTreeSync(root, options);
}

/**
 * Walks a tree with synchronous calls, one folder after another. It reads
 * only names and stats, never contents: on a local disk that is faster than
 * thousands of small promises, with flat memory (bench/ keeps the figures).
 */
export function walkTreeSync(root: string, options: WalkOptions = {}): TreeFacts {
  const ignored = ignoreMatcher(options.ignore ?? []);
  const facts: TreeFacts = { files: new Map(), dirs: [], escapes: [], ignored: 0, skipped: [] };
  const realRoot = options.followInternalLinks ? (options.realRoot ?? realpathSync(root)) : root;

  /** Something removed while the walk was looking at it (another process at work) is simply not there. */
  /** Whether the entry was a plain file or folder, not ignored (its folder may then get a ctime stamp). */
  function look(dir: string, rel: string, entry: Dirent): boolean {
    try {
      return lookAt(dir, rel, entry);
    } catch (error) {
      if (!vanished(error)) throw error;
      return false;
    }
  }

  function lookAt(dir: string, rel: string, entry: Dirent): boolean {
    const childRel = rel ? `${rel}/${entry.name}` : entry.name;
    const full = `${dir}${path.sep}${entry.name}`;
    if (ignored(childRel)) {
      facts.ignored++;
    } else if (entry.isDirectory()) {
      facts.dirs.push(childRel);
      visit(full, childRel);
      return true;
    } else if (entry.isFile()) {
      facts.files.set(childRel, factsOf(lstatSync(full), childRel));
      return true;
    } else if (!entry.isSymbolicLink() || !options.followInternalLinks) {
      facts.skipped.push(childRel);
    } else {
      followLink(full, childRel);
    }
    return false;
  }

  function followLink(full: string, childRel: string): void {
    let real: string;
    try {
      real = realpathSync(full);
    } catch {
      facts.skipped.push(childRel); // dangling or a loop
      return;
    }
    if (!isInside(realRoot, real)) {
      facts.escapes.push(childRel);
      return;
    }
    const stat = statSync(full);
    if (!stat.isFile()) {
      facts.skipped.push(childRel);
      return;
    }
    facts.files.set(childRel, factsOf(stat, childRel));
    (facts.links ??= new Map()).set(childRel, real);
  }

  /** `stats`: the folder's own `lstat`, when the caller has just taken it. */
  function visit(dir: string, rel: string, stats?: Stats): void {
    if (options.known && visitKnown(options.known, dir, rel, stats?.mtimeMs)) return;
    if (stamped && visitStamped(stamped, dir, rel, stats)) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (rel !== '' && vanished(error)) return; // a subfolder removed meanwhile; the root must exist
      throw error;
    }
    // Name order, files and folders alike: the same tree always gives the same facts, in the same order.
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) if (!look(dir, rel, entry) && mixed) mixed.add(rel === '' ? '.' : rel);
  }

  /** A source folder with a stamp: taken from the record when its ctime is still the stamp. */
  function visitStamped(
    known: NonNullable<SourceStamps['known']>,
    dir: string,
    rel: string,
    stats: Stats | undefined,
  ): boolean {
    const key = rel === '' ? '.' : rel;
    const stamp = known.stamps[key];
    if (stamp === undefined) return false;
    let own: Stats | undefined;
    try {
      own = stats ?? lstatSync(dir, { throwIfNoEntry: false });
    } catch (error) {
      if (!vanished(error)) throw error;
    }
    // The root may be reached through a link (a media folder that is one): it is listed then. So is a
    // folder on another device than the root (a mount point: its file system was not checked).
    return (
      own !== undefined &&
      own.isDirectory() &&
      own.dev === facts.rootDev &&
      own.ctimeMs === stamp &&
      visitUnchanged(known, dir, rel)
    );
  }

  /**
   * A source folder whose ctime is still its stamp: the names it held then, each looked at (ignore globs
   * applied as a listing's names would be); false when it must be listed. Nothing is added to the facts
   * until every name has been found as it was.
   */
  function visitUnchanged(known: NonNullable<SourceStamps['known']>, dir: string, rel: string): boolean {
    const key = rel === '' ? '.' : rel;
    const names = known.listing.get(key);
    // Nor a name with a default-ignorable code point, which some kernels' case folding drops (a
    // zero-width joiner before `.env` would find `.env` in a case-folded folder).
    if (!names || [...names.keys()].some((name) => IGNORABLE.test(name))) return false;
    const seen = lookAtRecorded(dir, rel, names, ignored);
    // A case-folded folder (ext4's casefold, xfs's ascii-ci) finds a file by any name of the same fold
    // (other case, ß for ss): a forged record could name an ignored file so. Such a folder is listed
    // instead: one recorded name is looked at in another case (a folder is case-folded whole).
    // (Only where one may be: change-times.ts, mayFoldCase.)
    if (!seen || (mayFoldCase && foldsCase(dir, seen))) return false;
    if (seen.some(([, , stats]) => !stats)) mixed?.add(key); // a name now ignored: a record made now would not list it
    addRecorded(dir, seen);
    return true;
  }

  /** A stamped folder that still has its stamp: its recorded names, each looked at; false when it must be listed. */
  function visitKnown(known: KnownFolders, dir: string, rel: string, mtimeMs: number | undefined): boolean {
    const key = rel === '' ? '.' : rel;
    const stamp = known.stamps[key];
    const names = known.listing.get(key);
    if (typeof stamp !== 'number' || !names) return false;
    const mtime =
      mtimeMs ?? (rel === '' ? known.rootMtimeMs : undefined) ?? lstatSync(dir, { throwIfNoEntry: false })?.mtimeMs;
    if (mtime !== stamp) return false;
    const seen = lookAtRecorded(dir, rel, names);
    if (!seen) return false;
    addRecorded(dir, seen);
    return true;
  }

  /**
   * The names a record gives for the folder `dir` (at `rel`), in name order, each looked at (`lstat`;
   * one `skip` matches is not, and has no stats): undefined when the folder must be listed instead. The
   * names come from the records file, which anyone who can write mediaRoot can edit: only plain names,
   * as a listing gives them (a "../" could lead the walk, and a delete, outside), each still there and
   * of the recorded kind.
   */
  function lookAtRecorded(
    dir: string,
    rel: string,
    names: ReadonlyMap<string, 'file' | 'dir'>,
    skip: (relPath: string) => boolean = () => false,
  ): Array<[string, string, Stats | undefined]> | undefined {
    const ordered = [...names.keys()].sort();
    if (!ordered.every(isPlainName)) return undefined;
    const seen: Array<[string, string, Stats | undefined]> = [];
    try {
      for (const name of ordered) {
        const childRel = rel ? `${rel}/${name}` : name;
        if (skip(childRel)) {
          seen.push([name, childRel, undefined]);
          continue;
        }
        const stats = lstatSync(`${dir}${path.sep}${name}`, { throwIfNoEntry: false });
        if (!stats || (names.get(name) === 'dir' ? !stats.isDirectory() : !stats.isFile())) return undefined;
        seen.push([name, childRel, stats]);
      }
    } catch (error) {
      if (vanished(error)) return undefined; // listed instead, which says what is there now
      throw error;
    }
    return seen;
  }

  /** What `lookAtRecorded` saw, into the facts (a name it skipped counts as ignored); folders walked in turn. */
  function addRecorded(dir: string, seen: ReadonlyArray<[string, string, Stats | undefined]>): void {
    for (const [name, childRel, stats] of seen) {
      if (!stats) {
        facts.ignored++;
      } else if (stats.isDirectory()) {
        facts.dirs.push(childRel);
        visit(`${dir}${path.sep}${name}`, childRel, stats);
      } else {
        facts.files.set(childRel, factsOf(stats, childRel));
      }
    }
  }

  let mixed: Set<string> | undefined;
  // Only on a file system whose ctimes vouch for names (any more): else every folder is listed.
  let stamped: NonNullable<SourceStamps['known']> | undefined;
  let rootStats: Stats | undefined;
  const changeTimes = options.sourceStamps ? changeTimesOf(root) : undefined;
  // Whether a stamped folder must be checked for case folding (see visitUnchanged).
  const mayFoldCase = options.sourceStamps?.mayFoldCase ?? changeTimes?.mayFoldCase ?? true;
  if (options.sourceStamps && changeTimes?.keep) {
    // The root's own lstat serves its stamp too; a root that is a link is followed for its device.
    rootStats = lstatSync(root, { throwIfNoEntry: false });
    const rootDev = rootStats?.isDirectory() ? rootStats.dev : statSync(root, { throwIfNoEntry: false })?.dev;
    if (!rootStats?.isDirectory()) rootStats = undefined;
    if (rootDev !== undefined) {
      facts.walkedAt = Date.now();
      facts.walkedTick = performance.now();
      facts.rootDev = rootDev;
      mixed = facts.mixed = new Set();
      stamped = options.sourceStamps.known;
    }
  }
  visit(root, '', rootStats);
  return facts;
}

/** A default-ignorable code point (a zero-width joiner...): some kernels' case folding drops them. */
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;

/**
 * Whether a folder finds a file by a name of other case: the first of the names just looked at that
 * has one (`seen`: name, path, lstat) is looked at again so; the same file means yes. A folder is
 * case-folded whole, so one name tells.
 */
function foldsCase(dir: string, seen: ReadonlyArray<[string, string, Stats | undefined]>): boolean {
  for (const [name, , stats] of seen) {
    if (!stats) continue;
    const upper = name.toUpperCase();
    const other = upper !== name ? upper : name.toLowerCase();
    if (other === name) continue;
    let found: Stats | undefined;
    try {
      found = lstatSync(`${dir}${path.sep}${other}`, { throwIfNoEntry: false });
    } catch (error) {
      if (vanished(error)) return true; // changed meanwhile: listed, which says what is there now
      throw error;
    }
    return found !== undefined && found.dev === stats.dev && found.ino === stats.ino;
  }
  return false;
}

/** Whether a walk saw nothing at all in the folder. */
export function isEmptyTree(tree: TreeFacts): boolean {
  return (
    tree.files.size === 0 &&
    tree.dirs.length === 0 &&
    tree.escapes.length === 0 &&
    tree.skipped.length === 0 &&
    tree.ignored === 0
  );
}

function factsOf(stat: import('node:fs').Stats, rel: string): FileFacts {
  return { rel, size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode & 0o7777, dev: stat.dev, ino: stat.ino };
}

/**
 * Whether `child` is `parent` or below it (both absolute, already resolved: no `..`, no trailing separator but a
 * root's).
 */
export function isInside(parent: string, child: string): boolean {
  // POSIX paths compare as strings (path.relative does the same, with more work); Windows
  // paths need path.relative, which ignores case and knows drive letters.
  if (path.sep === '/') return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`);
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

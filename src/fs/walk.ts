/** Read-only walks of a folder tree: what files it holds, with size and mtime. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { TEMP_MARK } from './temp.js';

export interface FileFacts {
  size: number;
  mtimeMs: number;
  mode: number;
  /** SHA-256 of the contents, filled only when comparing contents (`--checksum`). */
  hash?: string;
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
  /** Temporary files of a run (`.app-media-tmp-*`), never content: in progress, or left by a crash. */
  temporary?: number;
}

export interface WalkOptions {
  ignore?: readonly string[];
  /** Follow links to files that stay inside the tree (source side); false on the copy side. */
  followInternalLinks?: boolean;
}

export type IgnoreMatcher = (relPath: string) => boolean;

/** Globs are matched against the base name and against the whole relative path, like Django's ignore patterns. */
export function ignoreMatcher(globs: readonly string[]): IgnoreMatcher {
  if (globs.length === 0) return () => false;
  const match = picomatch([...globs], { dot: true });
  return (relPath) => match(relPath) || match(relPath.slice(relPath.lastIndexOf('/') + 1));
}

export async function walkTree(root: string, options: WalkOptions = {}): Promise<TreeFacts> {
  const ignored = ignoreMatcher(options.ignore ?? []);
  const facts: TreeFacts = { files: new Map(), dirs: [], escapes: [], ignored: 0, skipped: [] };
  const realRoot = options.followInternalLinks ? await fs.realpath(root) : root;

  type Found =
    | { kind: 'file'; rel: string; facts: FileFacts; real?: string }
    | { kind: 'dir'; rel: string; full: string }
    | { kind: 'escape' | 'skip'; rel: string }
    | { kind: 'ignored' | 'temp' };

  async function look(dir: string, rel: string, entry: import('node:fs').Dirent): Promise<Found> {
    const childRel = rel ? `${rel}/${entry.name}` : entry.name;
    const full = path.join(dir, entry.name);
    // A run's temporary file (in progress, or left by a crash and swept by the next run) is never content.
    if (entry.name.startsWith(TEMP_MARK)) return { kind: 'temp' };
    if (ignored(childRel)) return { kind: 'ignored' };
    if (entry.isDirectory()) return { kind: 'dir', rel: childRel, full };
    if (entry.isFile()) return { kind: 'file', rel: childRel, facts: factsOf(await fs.lstat(full)) };
    if (!entry.isSymbolicLink() || !options.followInternalLinks) return { kind: 'skip', rel: childRel };
    let real: string;
    try {
      real = await fs.realpath(full);
    } catch {
      return { kind: 'skip', rel: childRel }; // dangling or a loop
    }
    if (!isInside(realRoot, real)) return { kind: 'escape', rel: childRel };
    const stat = await fs.stat(full);
    return stat.isFile() ? { kind: 'file', rel: childRel, facts: factsOf(stat), real } : { kind: 'skip', rel: childRel };
  }

  async function visit(dir: string, rel: string): Promise<void> {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Looked at in parallel, recorded in name order: the same tree always gives the same facts.
    const found = await Promise.all(entries.map((entry) => look(dir, rel, entry)));
    const subdirs: Array<{ rel: string; full: string }> = [];
    for (const item of found) {
      switch (item.kind) {
        case 'file':
          facts.files.set(item.rel, item.facts);
          if (item.real !== undefined) (facts.links ??= new Map()).set(item.rel, item.real);
          break;
        case 'dir': subdirs.push(item); break;
        case 'escape': facts.escapes.push(item.rel); break;
        case 'skip': facts.skipped.push(item.rel); break;
        case 'ignored': facts.ignored++; break;
        case 'temp': facts.temporary = (facts.temporary ?? 0) + 1; break;
      }
    }
    for (const sub of subdirs) {
      facts.dirs.push(sub.rel);
      await visit(sub.full, sub.rel);
    }
  }

  await visit(root, '');
  return facts;
}

function factsOf(stat: import('node:fs').Stats): FileFacts {
  return { size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode & 0o7777 };
}

/** Whether `child` is `parent` or below it (both absolute, already resolved). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

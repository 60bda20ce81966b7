/** Read-only walks of a folder tree: what files it holds, with size and mtime. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';

export interface FileFacts {
  size: number;
  mtimeMs: number;
  mode: number;
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

  async function visit(dir: string, rel: string): Promise<void> {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: Array<[string, string]> = [];
    await Promise.all(entries.map(async (entry) => {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(dir, entry.name);
      if (ignored(childRel)) {
        facts.ignored++;
        return;
      }
      if (entry.isDirectory()) {
        subdirs.push([full, childRel]);
      } else if (entry.isFile()) {
        const stat = await fs.lstat(full);
        facts.files.set(childRel, { size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode & 0o7777 });
      } else if (entry.isSymbolicLink() && options.followInternalLinks) {
        await visitLink(full, childRel);
      } else {
        facts.skipped.push(childRel);
      }
    }));
    subdirs.sort((a, b) => (a[1] < b[1] ? -1 : 1));
    for (const [full, childRel] of subdirs) {
      facts.dirs.push(childRel);
      await visit(full, childRel);
    }
  }

  async function visitLink(full: string, childRel: string): Promise<void> {
    let real: string;
    try {
      real = await fs.realpath(full);
    } catch {
      facts.skipped.push(childRel); // dangling or a loop
      return;
    }
    if (!isInside(realRoot, real)) {
      facts.escapes.push(childRel);
      return;
    }
    const stat = await fs.stat(full);
    if (stat.isFile()) facts.files.set(childRel, { size: stat.size, mtimeMs: stat.mtimeMs, mode: stat.mode & 0o7777 });
    else facts.skipped.push(childRel);
  }

  await visit(root, '');
  return facts;
}

/** Whether `child` is `parent` or below it (both absolute, already resolved). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

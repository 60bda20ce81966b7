/**
 * The names collect gives and accepts in collectRoot: hashed names, the
 * files of its own that sit at the top, and the rule every name read back
 * from disk must pass (a plain relative path) before it is ever joined to a
 * folder.
 */
import { TEMP_MARK } from '../core/fs/temp.js';

/** The tool's records of what it wrote in collectRoot (docs/collect-format.md). */
export const RECORDS_FILE = '.app-media-collect.json';
/** A compact summary of the last run, so a no-change re-run needs no more than a stat walk. */
export const INDEX_FILE = '.app-media-collect-index.json';
/** What a writing run is about to write (names, sizes, hashes): a run killed mid-way is proven by it. */
export const PENDING_FILE = '.app-media-collect-pending.json';
export const MANIFEST_NAME = 'manifest.json';
export const REV_MANIFEST_NAME = 'rev-manifest.json';
/** Every name of the tool's own starts with this: publish never uploads them, servers may deny them. */
export const OWN_PREFIX = '.app-media';

/**
 * A plain relative path: "/"-separated segments, none empty, "." or "..", none holding "\" or
 * NUL. Every name read from the records, the index or a manifest must pass this before it is
 * used; one that does not makes the whole file unusable.
 */
export function isPlainRelPath(value: unknown): value is string {
  if (typeof value !== 'string' || value === '' || value.length > 4096) return false;
  // The same rule as a per-segment check, without splitting (it runs on every name of the records).
  if (
    value.includes('\\') ||
    value.includes('\0') ||
    value.includes('//') ||
    value.startsWith('/') ||
    value.endsWith('/')
  )
    return false;
  if (
    value === '.' ||
    value === '..' ||
    value.startsWith('./') ||
    value.startsWith('../') ||
    value.endsWith('/.') ||
    value.endsWith('/..')
  )
    return false;
  return !value.includes('/./') && !value.includes('/../');
}

/** `blog/css/site.css` + `3f2a1b9c0d` → `blog/css/site.3f2a1b9c0d.css` (no extension: `LICENSE.3f2a1b9c0d`). */
export function hashedPath(logical: string, hash: string): string {
  const slash = logical.lastIndexOf('/');
  const base = logical.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return `${logical}.${hash}`;
  return `${logical.slice(0, slash + 1)}${base.slice(0, dot)}.${hash}${base.slice(dot)}`;
}

/** The folder part of a relative path ("" at the top). */
export function dirOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
}

/** Every folder on the way to `rel`, parents first: `a/b/c.css` → `a`, `a/b`. */
export function foldersOf(rel: string): string[] {
  const out: string[] = [];
  for (let at = rel.indexOf('/'); at !== -1; at = rel.indexOf('/', at + 1)) out.push(rel.slice(0, at));
  return out;
}

export { TEMP_MARK };

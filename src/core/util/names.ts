/**
 * Names read from disk (the records file, a folder stamp's listing) are untrusted: only plain
 * names, as a folder listing gives them, may ever be joined to a path the tool acts on.
 */
import path from 'node:path';
import { MAX_NAME_LENGTH, NAME_PATTERN } from '../options.js';

/**
 * A name a folder listing can give: not empty, not "." or "..", no separator, no NUL (and no "\" or ":" on Windows).
 */
export function isPlainName(name: string): boolean {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return false;
  return path.sep === '/' || !(name.includes('\\') || name.includes(':'));
}

const WINDOWS = path.sep !== '/';

/**
 * "a/b/c.css": plain names joined by "/", none of them "." or "..". (What `rel.split('/').every(isPlainName)` says, in
 * one pass over the characters: the records file holds a path for every file of every copy, checked on each run.)
 */
export function isPlainPath(rel: string): boolean {
  return plainParts(rel, WINDOWS, WINDOWS);
}

/**
 * `rel` split at "/" gives parts none of which is empty, "." or "..", or holds NUL (nor "\\" with `backslash`, nor
 * ":" with `colon`): one pass over the characters, no split, for the checks that run once per recorded path.
 */
export function plainParts(rel: string, backslash: boolean, colon: boolean): boolean {
  const length = rel.length;
  if (length === 0) return false;
  let start = 0;
  for (let index = 0; index <= length; index++) {
    const code = index < length ? rel.charCodeAt(index) : SLASH;
    if (code === SLASH) {
      const size = index - start;
      if (size === 0) return false;
      if (size <= 2 && rel.charCodeAt(start) === DOT && (size === 1 || rel.charCodeAt(start + 1) === DOT)) return false;
      start = index + 1;
    } else if (code === 0 || (backslash && code === BACKSLASH) || (colon && code === COLON)) {
      return false;
    }
  }
  return true;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** An entry of mediaRoot the tool may make: an app name (letters, digits, ".", "_", "-"; never ".."). */
export function isEntryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

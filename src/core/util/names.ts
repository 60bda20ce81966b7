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

/** "a/b/c.css": plain names joined by "/", none of them "." or "..". */
export function isPlainPath(rel: string): boolean {
  return rel !== '' && rel.split('/').every(isPlainName);
}

/** An entry of mediaRoot the tool may make: an app name (letters, digits, ".", "_", "-"; never ".."). */
export function isEntryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

/**
 * How the tool proves an entry in mediaRoot is its own: a record in
 * `<mediaRoot>/.app-media.json`, written after each entry is made, that must
 * still match the entry on disk. The file holds no absolute path, user name or
 * other machine detail (mediaRoot is public): link targets are kept as a hash,
 * plus the source's path relative to the project root.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { EntryMode } from './types.js';

export const MANIFEST_FILE = '.app-media.json';
export const MANIFEST_VERSION = 1;

export interface LinkRecord {
  kind: 'symlink' | 'junction';
  /** `sha256:<hex>` of the link's text, as written. */
  target: string;
  /** The app's media folder relative to the project root, "/" separated. */
  source: string;
}

export interface CopyRecord {
  kind: 'copy';
  source: string;
  /** Every file the tool wrote: relative path → [size, whole-ms mtime]. */
  files: Record<string, [number, number]>;
}

export type OwnRecord = LinkRecord | CopyRecord;

export interface Manifest {
  tool: 'gulp-app-media';
  version: number;
  entries: Record<string, OwnRecord>;
}

export function emptyManifest(): Manifest {
  return { tool: 'gulp-app-media', version: MANIFEST_VERSION, entries: {} };
}

export function hashTarget(linkText: string): string {
  return `sha256:${createHash('sha256').update(normalizeLinkText(linkText)).digest('hex')}`;
}

/** Windows may hand back `\\?\C:\...` for junctions; compare the plain form. */
export function normalizeLinkText(linkText: string): string {
  return linkText.replace(/^\\\\\?\\/, '').replace(/[\\/]+$/, '');
}

/**
 * The source folder as the records keep it: relative to the project root.
 * Outside the project (a hoisted or stored package) only the part from the
 * last node_modules/ on is kept, else a hash: names of folders on the
 * machine (a user name in a home path) never reach the public folder.
 */
export function recordedSource(relPath: string): string {
  const outside = relPath === '..' || relPath.startsWith('../') || isAbsoluteAnywhere(relPath);
  if (!outside) return relPath;
  const at = relPath.lastIndexOf('node_modules/');
  if (at === 0 || (at > 0 && relPath[at - 1] === '/')) return relPath.slice(at);
  return `sha256:${createHash('sha256').update(relPath).digest('hex')}`;
}

export function linkRecord(kind: 'symlink' | 'junction', linkText: string, source: string): LinkRecord {
  return { kind, target: hashTarget(linkText), source };
}

/**
 * A link is the tool's own when its text is the one recorded. An absolute
 * link also counts when the project moved away from under it: it dangles and
 * its text still ends with the recorded source path. A link that leads
 * somewhere real with another text (a hand-made link to another checkout of
 * the same app) is not the tool's.
 */
export function ownsLink(record: OwnRecord | undefined, linkText: string, dangling = false): record is LinkRecord {
  if (!record || record.kind === 'copy') return false;
  if (record.target === hashTarget(linkText)) return true;
  if (!dangling || !isAbsoluteAnywhere(linkText)) return false;
  const tail = record.source.replace(/^(\.\.\/)+/, '');
  const text = normalizeLinkText(linkText).split(/[\\/]+/).join('/');
  return tail !== '' && text.endsWith(`/${tail}`);
}

export function ownsCopy(record: OwnRecord | undefined): record is CopyRecord {
  return record?.kind === 'copy';
}

export function recordMode(record: OwnRecord): EntryMode {
  return record.kind;
}

function isAbsoluteAnywhere(text: string): boolean {
  return path.posix.isAbsolute(text) || path.win32.isAbsolute(text);
}

/** Parses the manifest file's text; anything unreadable proves nothing (an empty manifest). */
export function parseManifest(text: string | undefined): Manifest {
  if (text === undefined) return emptyManifest();
  try {
    const raw = JSON.parse(text) as Partial<Manifest>;
    if (raw.tool !== 'gulp-app-media' || typeof raw.entries !== 'object' || raw.entries === null) return emptyManifest();
    const entries: Record<string, OwnRecord> = Object.create(null) as Record<string, OwnRecord>;
    for (const [name, record] of Object.entries(raw.entries)) {
      if (isRecord(record)) entries[name] = record;
    }
    return { tool: 'gulp-app-media', version: MANIFEST_VERSION, entries };
  } catch {
    return emptyManifest();
  }
}

function isRecord(value: unknown): value is OwnRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (typeof record['source'] !== 'string') return false;
  if (record['kind'] === 'copy') return typeof record['files'] === 'object' && record['files'] !== null;
  return (record['kind'] === 'symlink' || record['kind'] === 'junction') && typeof record['target'] === 'string';
}

export function serializeManifest(manifest: Manifest): string {
  const entries: Record<string, OwnRecord> = {};
  for (const name of Object.keys(manifest.entries).sort()) entries[name] = manifest.entries[name] as OwnRecord;
  return `${JSON.stringify({ tool: manifest.tool, version: manifest.version, entries }, null, 1)}\n`;
}

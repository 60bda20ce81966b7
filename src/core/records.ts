/**
 * How the tool proves an entry in mediaRoot is its own: a record in
 * `<mediaRoot>/.app-media.json`, written after each entry is made, that must
 * still match the entry on disk. The file holds no absolute path, user name or
 * other machine detail (mediaRoot is public): link targets are kept as a hash,
 * plus the source's path relative to the project root.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { toDisplay } from './display.js';
import type { EntryMode } from './types.js';
import { isEntryName, isPlainPath } from './util/names.js';

export const RECORDS_FILE = '.app-media.json';
export const RECORDS_VERSION = 1;

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
  /** Folders the tool made in the copy (those holding recorded files count anyway). */
  dirs?: string[];
  /**
   * Folder stamps: folder ("." for the copy itself) → its mtime, set by the tool to a time in
   * the past once the folder held exactly the recorded names. Adding, removing or renaming
   * anything in a folder sets its mtime to now, so while the stamp still matches, the folder's
   * names are the recorded ones and a re-run need not list it (fs/stamp.ts).
   */
  stamps?: Record<string, number>;
  /**
   * Source folder stamps: folder of the app's media folder ("." for itself) → its ctime when it was
   * listed, for folders whose names were then just the names this record lists in that folder of the
   * copy (no file ignored, no link). While a folder's ctime is still that, a re-run takes its names from
   * here instead of listing it (fs/walk.ts, CtimeStamps).
   */
  sourceStamps?: Record<string, number>;
}

/**
 * Written just before an entry is made, replaced by the real record once it
 * is: if the run is killed in between, the next run can still tell the entry
 * is its own. A link is proven by one of the expected texts; a folder by every
 * file in it being identical to the app's source file.
 */
export interface PendingRecord {
  kind: 'pending';
  source: string;
  /** Hashes of the link texts the run may write, or that were there before (symlink text, junction text, old text). */
  targets: string[];
  /** The files of the copy that was there before (a copy being replaced by a link). */
  files?: Record<string, [number, number]>;
}

export type OwnRecord = LinkRecord | CopyRecord | PendingRecord;

export interface Records {
  tool: 'gulp-app-media';
  version: number;
  entries: Record<string, OwnRecord>;
  /**
   * What the file held that the tool did not take (not written back): entries under names that
   * are not app names, or whose record is malformed. Anyone who can write mediaRoot can write the
   * file, so no name from it is ever joined to a path unless it is a plain name.
   */
  ignored?: string[];
}

/** Why a records file is not the tool's (it is then never used, nor overwritten), or undefined. */
export type ForeignReason = string | undefined;

export function emptyRecords(): Records {
  return {
    tool: 'gulp-app-media',
    version: RECORDS_VERSION,
    entries: Object.create(null) as Record<string, OwnRecord>,
  };
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

/** An app's media folder as its record names it. */
export function recordedSourceOf(projectRoot: string, mediaDir: string): string {
  return recordedSource(toDisplay(projectRoot, mediaDir));
}

export function linkRecord(kind: 'symlink' | 'junction', linkText: string, source: string): LinkRecord {
  return { kind, target: hashTarget(linkText), source };
}

/**
 * A link is the tool's own when its text is the one recorded (or, while a
 * change is pending, one of the texts the run meant to write). A moved project
 * keeps its links' texts, so the hashes still match; a link with any other
 * text is not the tool's, wherever it leads.
 */
export function ownsLink(record: OwnRecord | undefined, linkText: string): record is LinkRecord | PendingRecord {
  if (!record || record.kind === 'copy') return false;
  if (record.kind === 'pending') return record.targets.includes(hashTarget(linkText));
  return record.target === hashTarget(linkText);
}

/** The record may claim a folder; whether this folder is provably its own is for the planner (provesCopy). */
export function ownsCopy(record: OwnRecord | undefined): record is CopyRecord | PendingRecord {
  return record?.kind === 'copy' || record?.kind === 'pending';
}

/** Folders the tool made in a copy: listed ones and those its recorded files are in. */
export function recordedDirs(record: OwnRecord | undefined): Set<string> {
  const listed = record?.kind === 'copy' ? (record.dirs ?? []) : [];
  const dirs = new Set<string>();
  for (const file of Object.keys(recordedFiles(record))) {
    // Each file's folders, deepest first; once one is known, so are the ones above it.
    for (let at = file.lastIndexOf('/'); at > 0; at = file.lastIndexOf('/', at - 1)) {
      const dir = file.slice(0, at);
      if (dirs.has(dir)) break;
      dirs.add(dir);
    }
  }
  for (const dir of listed) dirs.add(dir);
  return dirs;
}

/** The files a record says the tool wrote (none for a pending record). */
export function recordedFiles(record: OwnRecord | undefined): Record<string, [number, number]> {
  if (record?.kind === 'copy') return record.files;
  return record?.kind === 'pending' ? (record.files ?? {}) : {};
}

export function pendingRecord(
  source: string,
  linkTexts: readonly string[],
  previous: OwnRecord | undefined,
): PendingRecord {
  const targets = new Set(linkTexts.filter((text) => text !== '').map(hashTarget));
  if (previous?.kind === 'symlink' || previous?.kind === 'junction') targets.add(previous.target);
  if (previous?.kind === 'pending') for (const target of previous.targets) targets.add(target);
  const pending: PendingRecord = { kind: 'pending', source, targets: [...targets] };
  const files = recordedFiles(previous);
  if (Object.keys(files).length > 0) pending.files = files;
  return pending;
}

/** How an entry with this record was made; a pending one is judged by what is on disk. */
export function recordMode(record: OwnRecord, onDisk: 'symlink' | 'dir'): EntryMode {
  if (record.kind === 'pending') return onDisk === 'dir' ? 'copy' : 'symlink';
  return record.kind;
}

function isAbsoluteAnywhere(text: string): boolean {
  return path.posix.isAbsolute(text) || path.win32.isAbsolute(text);
}

/**
 * Parses the records file's text (undefined: there is none). A file that is not the tool's
 * format is `foreign`: the caller refuses to use it or write over it. Within the tool's format,
 * an entry whose name is not an app name, or whose record is malformed, is left out and named
 * in `ignored`: it proves nothing, and nothing is done with it.
 */
export function parseRecords(text: string | undefined): { records: Records; foreign?: string } {
  if (text === undefined) return { records: emptyRecords() };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { records: emptyRecords(), foreign: 'it is not JSON' };
  }
  const top = raw as Partial<Records> | null;
  if (
    typeof top !== 'object' ||
    top === null ||
    Array.isArray(top) ||
    top.tool !== 'gulp-app-media' ||
    typeof top.entries !== 'object' ||
    top.entries === null ||
    Array.isArray(top.entries)
  ) {
    return { records: emptyRecords(), foreign: 'it is not in the format app-media writes' };
  }
  if (typeof top.version !== 'number' || top.version > RECORDS_VERSION) {
    return {
      records: emptyRecords(),
      foreign: `it has version ${JSON.stringify(top.version)}, which this app-media does not know`,
    };
  }
  const entries: Record<string, OwnRecord> = Object.create(null) as Record<string, OwnRecord>;
  const ignored: string[] = [];
  for (const [name, record] of Object.entries(top.entries)) {
    if (!isEntryName(name)) ignored.push(`${shown(name)} (not an app name)`);
    else if (!isRecord(record)) ignored.push(`${shown(name)} (its record is malformed)`);
    else entries[name] = withValidStamps(record);
  }
  const records: Records = { tool: 'gulp-app-media', version: RECORDS_VERSION, entries };
  if (ignored.length > 0) records.ignored = ignored;
  return { records };
}

/** A name from the file as a message may show it: quoted, control characters escaped, cut short. */
function shown(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length > 60 ? `${quoted.slice(0, 57)}..."` : quoted;
}

/** Stamps that are not a map of numbers prove nothing: dropped, the record kept (its folders are listed). */
function withValidStamps(record: OwnRecord): OwnRecord {
  if (record.kind !== 'copy') return record;
  let kept = record;
  if (record.stamps !== undefined && !isStampMap(record.stamps)) {
    const { stamps: _dropped, ...rest } = kept;
    kept = rest;
  }
  if (record.sourceStamps !== undefined && !isStampMap(record.sourceStamps)) {
    const { sourceStamps: _dropped, ...rest } = kept;
    kept = rest;
  }
  return kept;
}

/** `{ ".": 1700000000000, "css": ... }`: folders as plain relative paths, each with a finite time. */
function isStampMap(stamps: unknown): boolean {
  return (
    typeof stamps === 'object' &&
    stamps !== null &&
    !Array.isArray(stamps) &&
    Object.entries(stamps).every(
      ([rel, value]) => (rel === '.' || isPlainPath(rel)) && typeof value === 'number' && Number.isFinite(value),
    )
  );
}

/**
 * The names each folder of a copy holds by its record: folder ("." for the copy) →
 * child name → file or folder. What a stamped folder is taken to hold.
 */
export function recordedListing(record: CopyRecord): Map<string, Map<string, 'file' | 'dir'>> {
  return listingOf(Object.keys(record.files), record.dirs ?? []);
}

/** The names each folder holds ("." for the top), from the paths of the files and of the folders below it. */
export function listingOf(files: Iterable<string>, dirs: Iterable<string>): Map<string, Map<string, 'file' | 'dir'>> {
  const listing = new Map<string, Map<string, 'file' | 'dir'>>([['.', new Map()]]);
  const folder = (rel: string): Map<string, 'file' | 'dir'> => {
    let names = listing.get(rel);
    if (!names) {
      names = new Map();
      listing.set(rel, names);
      const at = rel.lastIndexOf('/');
      folder(at < 0 ? '.' : rel.slice(0, at)).set(at < 0 ? rel : rel.slice(at + 1), 'dir');
    }
    return names;
  };
  for (const rel of files) {
    const at = rel.lastIndexOf('/');
    folder(at < 0 ? '.' : rel.slice(0, at)).set(at < 0 ? rel : rel.slice(at + 1), 'file');
  }
  for (const dir of dirs) folder(dir);
  return listing;
}

const HASH = /^sha256:[0-9a-f]{64}$/;
const MAX_SOURCE = 4096;

/**
 * A record of the tool's format, every path in it a plain relative path (so no name from it can
 * lead a walk, a write or a delete outside its entry), every number a number.
 */
function isRecord(value: unknown): value is OwnRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  if (typeof record['source'] !== 'string' || record['source'].length > MAX_SOURCE) return false;
  if (record['kind'] === 'copy') {
    return (
      isFileMap(record['files']) &&
      (record['dirs'] === undefined ||
        (Array.isArray(record['dirs']) && record['dirs'].every((dir) => typeof dir === 'string' && isPlainPath(dir))))
    );
  }
  if (record['kind'] === 'pending') {
    return (
      Array.isArray(record['targets']) &&
      record['targets'].every((target) => typeof target === 'string' && HASH.test(target)) &&
      (record['files'] === undefined || isFileMap(record['files']))
    );
  }
  return (
    (record['kind'] === 'symlink' || record['kind'] === 'junction') &&
    typeof record['target'] === 'string' &&
    HASH.test(record['target'])
  );
}

/** `{ "css/site.css": [size, mtime] }`: plain relative paths, a whole non-negative size, a finite time. */
function isFileMap(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const map = value as Record<string, unknown>;
  // for...in over a parsed object: its own keys (JSON.parse sets no prototype), without a pair per file.
  for (const rel in map) {
    const facts = map[rel];
    if (!isPlainPath(rel) || !Array.isArray(facts) || facts.length !== 2) return false;
    const [size, mtime] = facts as unknown[];
    if (
      typeof size !== 'number' ||
      !Number.isInteger(size) ||
      size < 0 ||
      typeof mtime !== 'number' ||
      !Number.isFinite(mtime)
    )
      return false;
  }
  return true;
}

/**
 * The records file's text: one line per entry field and one per copied file
 * (`"css/site.css": [1024, 1700000000000]`), so it reads and diffs well and
 * stays small to parse on every run.
 */
export function serializeRecords(records: Records): string {
  const lines = ['{', ` "tool": ${JSON.stringify(records.tool)},`, ` "version": ${records.version},`, ' "entries": {'];
  const names = Object.keys(records.entries).sort();
  names.forEach((name, index) => {
    const record = records.entries[name] as OwnRecord;
    const fields = Object.entries(record).map(([key, value]) => {
      if (key !== 'files' || typeof value !== 'object' || value === null || Array.isArray(value))
        return `   ${JSON.stringify(key)}: ${JSON.stringify(value)}`;
      const files = Object.entries(value as Record<string, unknown>).map(
        ([rel, facts]) => `    ${JSON.stringify(rel)}: ${JSON.stringify(facts)}`,
      );
      return files.length === 0 ? '   "files": {}' : `   "files": {\n${files.join(',\n')}\n   }`;
    });
    lines.push(`  ${JSON.stringify(name)}: {`, fields.join(',\n'), `  }${index < names.length - 1 ? ',' : ''}`);
  });
  lines.push(' }', '}');
  return `${lines.join('\n')}\n`;
}

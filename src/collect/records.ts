/**
 * The files collect keeps about its own work in collectRoot, each read as
 * untrusted input (anyone who can write collectRoot can write them):
 *
 * - the records (`.app-media-collect.json`, format in docs/collect-format.md):
 *   every file the tool wrote and still owns, and the builds. A records file
 *   that is not the tool's is a conflict: never overwritten, nothing removed;
 * - the pending list (`.app-media-collect-pending.json`): what a writing run is
 *   about to write, written before the first file and removed after the
 *   records; a run killed in between leaves files the next run proves its own
 *   by their size and SHA-256;
 * - the index (`.app-media-collect-index.json`): a compact summary of the last
 *   build (each source's size, time and hashes, each CSS file's references,
 *   each output folder's listing), so that a no-change re-run is a stat walk.
 *   It only ever spares work: an index that does not match leads to a full look.
 *
 * Every name in them must be a plain relative path, every size a whole number,
 * every hash lowercase hex of its length, or the whole file is unusable.
 */
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { Workspace } from '../core/fs/workspace.js';
import { lookIn, NotAFile, placeFile, readRegular, unlinkIn, writeNew } from './disk.js';
import * as names from './names.js';

export const TOOL = 'gulp-app-media';
/** The biggest records or index file read (a million files is about 200 MiB of records). */
const LIMIT = 512 * 1024 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX16 = /^[0-9a-f]{16}$/;

export interface FileRecord {
  size: number;
  mtimeMs: number;
  sha256: string;
  /** Fingerprinted names and their variants: the content never changes under that name. */
  immutable: boolean;
  /** A pre-compressed variant: its encoding, and the file it is a variant of. */
  encoding?: 'br' | 'gzip';
  of?: string;
}

export interface BuildRecord {
  id: string;
  at: string;
  files: string[];
}

/** The tool's own files at the top of collectRoot, with what they held when written. */
export interface OwnFileRecord {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export const OWN_FILES = [names.MANIFEST_NAME, names.REV_MANIFEST_NAME] as const;
export type OwnFileName = (typeof OWN_FILES)[number];

export interface Records {
  files: Map<string, FileRecord>;
  /** Newest first: builds[0] is the build manifest.json describes. */
  builds: BuildRecord[];
  /** Folders the tool made (the only ones it may remove, once empty). */
  dirs: Set<string>;
  own: Map<OwnFileName, OwnFileRecord>;
}

export function emptyRecords(): Records {
  return { files: new Map(), builds: [], dirs: new Set(), own: new Map() };
}

/** What is at a name of the tool's own: nothing, the tool's file, or something else (never written over). */
export type ReadResult<T> =
  { state: 'missing' } | { state: 'ours'; value: T; stat: Stats } | { state: 'foreign'; why: string; stat?: Stats };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A name a build may hold: a plain relative path, none of the tool's own top-level names. */
export function isBuildName(value: unknown): value is string {
  if (!names.isPlainRelPath(value)) return false;
  if (!value.includes('/')) return false; // every published file is inside an app's folder
  return true;
}

function isOwnTopName(name: string): boolean {
  return name.startsWith(names.OWN_PREFIX) || name === names.MANIFEST_NAME || name === names.REV_MANIFEST_NAME;
}

/** Reads a JSON file of the tool's at `file`: missing, parsed, or something that is not a regular file / not JSON. */
function readJson(file: string): ReadResult<unknown> {
  let read: { data: Buffer; stat: Stats };
  try {
    read = readRegular(file, LIMIT);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'missing' };
    if (error instanceof NotAFile) return { state: 'foreign', why: `it is ${error.kind}` };
    if (code === 'EFBIG') return { state: 'foreign', why: "it is too big to be app-media's" };
    throw error;
  }
  try {
    return { state: 'ours', value: JSON.parse(read.data.toString('utf8')), stat: read.stat };
  } catch {
    return { state: 'foreign', why: 'it is not JSON', stat: read.stat };
  }
}

/** Checks a parsed records file; the reason it is not the tool's, or the records. */
export function parseRecords(raw: unknown): Records | string {
  if (!isRecord(raw)) return 'it is not a JSON object';
  if (raw['tool'] !== TOOL) return `its "tool" is not "${TOOL}"`;
  if (raw['kind'] !== 'collect') return 'its "kind" is not "collect"';
  if (raw['version'] !== 1)
    return `its "version" ${JSON.stringify(raw['version'])} is not one this version of app-media reads`;
  const records = emptyRecords();
  if (!isRecord(raw['files'])) return '"files" is not an object';
  for (const [name, entry] of Object.entries(raw['files'])) {
    if (!isBuildName(name) || isOwnTopName(name))
      return `"files" holds a name that is not a plain relative path inside an app's folder: ${JSON.stringify(name)}`;
    if (!isRecord(entry)) return `"files"."${name}" is not an object`;
    const { size, mtimeMs, sha256, immutable, encoding, of } = entry;
    if (
      !isSize(size) ||
      !isTime(mtimeMs) ||
      typeof sha256 !== 'string' ||
      !HEX64.test(sha256) ||
      typeof immutable !== 'boolean'
    ) {
      return `"files"."${name}" does not have a size, an mtimeMs, a sha256 and immutable`;
    }
    const record: FileRecord = { size, mtimeMs, sha256, immutable };
    if (encoding !== undefined || of !== undefined) {
      if ((encoding !== 'br' && encoding !== 'gzip') || !isBuildName(of))
        return `"files"."${name}" has a bad "encoding" or "of"`;
      record.encoding = encoding;
      record.of = of;
    }
    records.files.set(name, record);
  }
  if (!Array.isArray(raw['builds'])) return '"builds" is not an array';
  for (const build of raw['builds']) {
    if (
      !isRecord(build) ||
      typeof build['id'] !== 'string' ||
      !HEX16.test(build['id']) ||
      typeof build['at'] !== 'string' ||
      !Array.isArray(build['files'])
    ) {
      return 'a build is not { id: <16 hex>, at, files: [...] }';
    }
    const files = build['files'] as unknown[];
    if (!files.every((name) => isBuildName(name) && !isOwnTopName(name)))
      return `build ${build['id']} lists a name that is not a plain relative path`;
    records.builds.push({ id: build['id'], at: build['at'], files: files as string[] });
  }
  if (raw['dirs'] !== undefined) {
    if (!Array.isArray(raw['dirs']) || !raw['dirs'].every((dir) => names.isPlainRelPath(dir) && !isOwnTopName(dir)))
      return '"dirs" is not a list of plain relative paths';
    for (const dir of raw['dirs'] as string[]) records.dirs.add(dir);
  }
  if (raw['own'] !== undefined) {
    if (!isRecord(raw['own'])) return '"own" is not an object';
    for (const [name, entry] of Object.entries(raw['own'])) {
      if (!(OWN_FILES as readonly string[]).includes(name))
        return `"own" names ${JSON.stringify(name)}, not a file of app-media's`;
      if (
        !isRecord(entry) ||
        !isSize(entry['size']) ||
        !isTime(entry['mtimeMs']) ||
        typeof entry['sha256'] !== 'string' ||
        !HEX64.test(entry['sha256'])
      ) {
        return `"own"."${name}" does not have a size, an mtimeMs and a sha256`;
      }
      records.own.set(name as OwnFileName, { size: entry['size'], mtimeMs: entry['mtimeMs'], sha256: entry['sha256'] });
    }
  }
  return records;
}

export function readRecords(root: string): ReadResult<Records> {
  const read = readJson(path.join(root, names.RECORDS_FILE));
  if (read.state !== 'ours') return read;
  const parsed = parseRecords(read.value);
  return typeof parsed === 'string'
    ? { state: 'foreign', why: parsed, stat: read.stat }
    : { state: 'ours', value: parsed, stat: read.stat };
}

/**
 * The records as the contract writes them: compact JSON, files and folders in name order, as pieces of text in order
 * (50,000 files would be 50,000 objects; their text is written out piece by piece, never held whole).
 */
export function* recordsText(records: Records): Generator<string> {
  yield `{"tool":"${TOOL}","kind":"collect","version":1,"files":{`;
  let first = true;
  for (const name of [...records.files.keys()].sort()) {
    const record = records.files.get(name) as FileRecord;
    yield (
      `${first ? '' : ','}${JSON.stringify(name)}:{"size":${record.size},"mtimeMs":${record.mtimeMs},` +
      `"sha256":"${record.sha256}","immutable":${record.immutable}` +
      `${record.encoding ? `,"encoding":"${record.encoding}","of":${JSON.stringify(record.of)}` : ''}}`
    );
    first = false;
  }
  yield '},"builds":[';
  let index = 0;
  for (const build of records.builds) {
    yield `${index++ === 0 ? '' : ','}{"id":"${build.id}","at":${JSON.stringify(build.at)},"files":[`;
    let firstFile = true;
    for (const name of build.files) {
      yield `${firstFile ? '' : ','}${JSON.stringify(name)}`;
      firstFile = false;
    }
    yield ']}';
  }
  const own: Record<string, OwnFileRecord> = {};
  for (const name of [...records.own.keys()].sort()) own[name] = records.own.get(name) as OwnFileRecord;
  yield `],"dirs":${JSON.stringify([...records.dirs].sort())},"own":${JSON.stringify(own)}}\n`;
}

/** The records' text whole (recordsText joined). */
export function serializeRecords(records: Records): string {
  return [...recordsText(records)].join('');
}

/** Whether two records say the same (what a run compares instead of writing them out twice). */
export function sameRecords(a: Records, b: Records): boolean {
  if (
    a.files.size !== b.files.size ||
    a.dirs.size !== b.dirs.size ||
    a.own.size !== b.own.size ||
    a.builds.length !== b.builds.length
  )
    return false;
  for (const [name, record] of a.files) {
    const other = b.files.get(name);
    if (other === record) continue;
    if (
      !other ||
      other.size !== record.size ||
      other.mtimeMs !== record.mtimeMs ||
      other.sha256 !== record.sha256 ||
      other.immutable !== record.immutable ||
      other.encoding !== record.encoding ||
      other.of !== record.of
    )
      return false;
  }
  for (const dir of a.dirs) if (!b.dirs.has(dir)) return false;
  for (const [name, record] of a.own) {
    const other = b.own.get(name);
    if (!other || other.size !== record.size || other.mtimeMs !== record.mtimeMs || other.sha256 !== record.sha256)
      return false;
  }
  return a.builds.every((build, index) => {
    const other = b.builds[index] as BuildRecord;
    return (
      other.id === build.id &&
      other.at === build.at &&
      other.files.length === build.files.length &&
      other.files.every((name, at) => name === build.files[at])
    );
  });
}

/** The facts of a file as read or written: what a later look compares against. */
export interface Seen {
  size: number;
  mtimeMs: number;
  ino: number;
}

export function seenOf(stat: Stats): Seen {
  return { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
}

/**
 * Writes a file of the tool's at the top of collectRoot (held open: `ws.root`), made in the run's
 * private staging folder and renamed into place after a look at what is there: it must still be
 * what this run read (or wrote) last, or nothing; anything else was put there by someone else
 * meanwhile, and is left as it is.
 */
export function replaceOwnFile(
  ws: Workspace,
  name: string,
  text: string | Iterable<string>,
  expected: Seen | undefined,
): Stats {
  const stage = ws.stage();
  const staged = ws.stagedName('collect', name);
  const stat = writeNew(stage, staged, text);
  const now = lookIn(ws.root, name);
  const same =
    now === undefined
      ? true
      : expected !== undefined &&
        now.isFile() &&
        now.size === expected.size &&
        now.mtimeMs === expected.mtimeMs &&
        now.ino === expected.ino;
  if (!same) {
    unlinkIn(stage, staged);
    throw new OwnFileChanged(name);
  }
  placeFile(stage, staged, ws.root, name);
  return stat;
}

/** A file of the tool's was changed by someone else during the run: it is left as it is. */
export class OwnFileChanged extends Error {
  constructor(readonly fileName: string) {
    super(`${fileName} was changed by someone else during the run; it was left as it is`);
  }
}

// --- The pending list ---------------------------------------------------------------------------

export interface PendingFile {
  size: number;
  sha256: string;
  immutable?: boolean;
  encoding?: 'br' | 'gzip';
  of?: string;
}

export interface Pending {
  files: Map<string, PendingFile>;
  dirs: Set<string>;
}

export function readPending(root: string): ReadResult<Pending> {
  const read = readJson(path.join(root, names.PENDING_FILE));
  if (read.state !== 'ours') return read;
  const raw = read.value;
  if (
    !isRecord(raw) ||
    raw['tool'] !== TOOL ||
    raw['kind'] !== 'collect-pending' ||
    raw['version'] !== 1 ||
    !isRecord(raw['files']) ||
    !Array.isArray(raw['dirs'])
  ) {
    return { state: 'foreign', why: "it is not app-media's pending list", stat: read.stat };
  }
  const pending: Pending = { files: new Map(), dirs: new Set() };
  for (const [name, entry] of Object.entries(raw['files'])) {
    const topOwn = (OWN_FILES as readonly string[]).includes(name) || name === names.INDEX_FILE;
    if (
      !(topOwn || (isBuildName(name) && !isOwnTopName(name))) ||
      !isRecord(entry) ||
      !isSize(entry['size']) ||
      typeof entry['sha256'] !== 'string' ||
      !HEX64.test(entry['sha256'])
    ) {
      return { state: 'foreign', why: 'its "files" are not plain names with a size and a sha256', stat: read.stat };
    }
    const file: PendingFile = { size: entry['size'], sha256: entry['sha256'] };
    if (typeof entry['immutable'] === 'boolean') file.immutable = entry['immutable'];
    if (entry['encoding'] !== undefined || entry['of'] !== undefined) {
      if ((entry['encoding'] !== 'br' && entry['encoding'] !== 'gzip') || !isBuildName(entry['of']))
        return { state: 'foreign', why: 'a pending variant has a bad "encoding" or "of"', stat: read.stat };
      file.encoding = entry['encoding'];
      file.of = entry['of'];
    }
    pending.files.set(name, file);
  }
  for (const dir of raw['dirs']) {
    if (!names.isPlainRelPath(dir) || isOwnTopName(dir))
      return { state: 'foreign', why: 'its "dirs" are not plain relative paths', stat: read.stat };
    pending.dirs.add(dir);
  }
  return { state: 'ours', value: pending, stat: read.stat };
}

export function serializePending(pending: Pending): string {
  const files: Record<string, PendingFile> = {};
  for (const name of [...pending.files.keys()].sort()) files[name] = pending.files.get(name) as PendingFile;
  return (
    JSON.stringify({ tool: TOOL, kind: 'collect-pending', version: 1, files, dirs: [...pending.dirs].sort() }) + '\n'
  );
}

// --- The index ----------------------------------------------------------------------------------

/**
 * One source file as the last build saw it: its size and time, then the SHA-256 of its own
 * bytes, the SHA-256 of its final bytes (after CSS references were rewritten: the same for any
 * other file) and the hash its name got (differs only inside a CSS import cycle), the final
 * size, the SRI integrity, and the sizes of its .br and .gz variants (-1: none, not smaller).
 */
export type IndexSource = [
  size: number,
  mtimeMs: number,
  sourceSha: string,
  finalSha: string,
  nameHash: string,
  finalSize: number,
  integrity: string,
  br: number,
  gz: number,
];

export interface IndexCss {
  /** Every file it references (logical paths), found or not. */
  deps: string[];
  /** References to files that are not there: [line, reference as written]. */
  missing: Array<[number, string]>;
  /** Why it could not be parsed (copied unchanged), with the line. */
  unparsed?: [number, string];
}

export interface Index {
  settings: string;
  build: string;
  /** The facts of the records, manifest.json and rev-manifest.json when the index was written. */
  records: [number, number] | null;
  manifest: [number, number] | null;
  revManifest: [number, number] | null;
  /** Each source's size and mtime: all a no-change re-run compares. */
  facts: Map<string, [number, number]>;
  /** Each source's hashes and sizes (IndexSource), read only when a run has something to do. */
  sources(): Map<string, IndexSource>;
  css: Map<string, IndexCss>;
  /** Each folder of collectRoot the tool writes in ("" for the top) → a digest of its names. */
  dirs: Map<string, string>;
  /**
   * The folders stamped when the index was written (outputs.ts, stampFolders) → the mtime they were stamped to: one
   * found at it holds the names its digest was made from, and is not listed.
   */
  stamps: Map<string, number>;
  /** Files in collectRoot not made by the tool, as last seen (reported by every run). */
  foreign: string[];
}

function isFacts(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && isSize(value[0]) && isTime(value[1]);
}

const INTEGRITY = /^sha384-[A-Za-z0-9+/]{64}$/;
const NAME_HASH = /^[0-9a-f]{8,64}$/;

/**
 * The hashes of every source, packed in one string (a line per source, tab-separated): a
 * no-change re-run parses the index without making an object per source for them.
 */
function unpackSources(packed: string, facts: Map<string, [number, number]>): Map<string, IndexSource> {
  const out = new Map<string, IndexSource>();
  if (packed === '') return out;
  for (const line of packed.split('\n')) {
    const [name, sourceSha, finalSha, nameHash, finalSize, integrity, br, gz] = line.split('\t');
    const fact = name === undefined ? undefined : facts.get(name);
    const size = Number(finalSize);
    const brSize = Number(br);
    const gzSize = Number(gz);
    if (
      !fact ||
      !sourceSha ||
      !HEX64.test(sourceSha) ||
      !finalSha ||
      !HEX64.test(finalSha) ||
      !nameHash ||
      !NAME_HASH.test(nameHash) ||
      !isSize(size) ||
      !integrity ||
      !INTEGRITY.test(integrity) ||
      !Number.isSafeInteger(brSize) ||
      !Number.isSafeInteger(gzSize) ||
      brSize < -1 ||
      gzSize < -1
    )
      return new Map();
    out.set(name as string, [fact[0], fact[1], sourceSha, finalSha, nameHash, size, integrity, brSize, gzSize]);
  }
  return out;
}

export function readIndex(root: string): Index | undefined {
  const read = readJson(path.join(root, names.INDEX_FILE));
  if (read.state !== 'ours') return undefined;
  const raw = read.value;
  if (!isRecord(raw) || raw['tool'] !== TOOL || raw['kind'] !== 'collect-index' || raw['version'] !== 2)
    return undefined;
  const { settings, build, records, manifest, revManifest, facts, hashes, css, dirs, stamps, foreign } = raw;
  if (
    typeof settings !== 'string' ||
    typeof build !== 'string' ||
    !isRecord(facts) ||
    typeof hashes !== 'string' ||
    !isRecord(css) ||
    !isRecord(dirs) ||
    (stamps !== undefined && !isRecord(stamps)) ||
    !Array.isArray(foreign)
  )
    return undefined;
  for (const one of [records, manifest, revManifest]) if (one !== null && !isFacts(one)) return undefined;
  const factMap = new Map<string, [number, number]>();
  // Names here are only compared with the names of a walk, never joined to a folder.
  for (const [name, fact] of Object.entries(facts)) {
    if (!isFacts(fact)) return undefined;
    factMap.set(name, fact);
  }
  let unpacked: Map<string, IndexSource> | undefined;
  const index: Index = {
    settings,
    build,
    records: records as [number, number] | null,
    manifest: manifest as [number, number] | null,
    revManifest: revManifest as [number, number] | null,
    facts: factMap,
    sources: () => (unpacked ??= unpackSources(hashes, factMap)),
    css: new Map(),
    dirs: new Map(),
    stamps: new Map(),
    foreign: [],
  };
  for (const [name, entry] of Object.entries(css)) {
    if (!isRecord(entry) || !Array.isArray(entry['deps']) || !Array.isArray(entry['missing'])) return undefined;
    const deps = entry['deps'] as unknown[];
    if (!deps.every((dep) => isBuildName(dep))) return undefined;
    const missing = entry['missing'] as unknown[];
    if (
      !missing.every(
        (item) => Array.isArray(item) && item.length === 2 && isSize(item[0]) && typeof item[1] === 'string',
      )
    )
      return undefined;
    const unparsed = entry['unparsed'];
    if (
      unparsed !== undefined &&
      !(Array.isArray(unparsed) && unparsed.length === 2 && isSize(unparsed[0]) && typeof unparsed[1] === 'string')
    )
      return undefined;
    index.css.set(name, {
      deps,
      missing: missing as Array<[number, string]>,
      ...(unparsed ? { unparsed: unparsed as [number, string] } : {}),
    });
  }
  // Folder names are joined to collectRoot (one listing each): plain relative paths only.
  for (const [dir, digest] of Object.entries(dirs)) {
    if ((dir !== '' && !names.isPlainRelPath(dir)) || typeof digest !== 'string') return undefined;
    index.dirs.set(dir, digest);
  }
  // A stamp is only ever compared with a folder's mtime, and only for a folder with a digest.
  for (const [dir, time] of isRecord(stamps) ? Object.entries(stamps) : []) {
    if (!index.dirs.has(dir) || dir === '' || !isTime(time)) return undefined;
    index.stamps.set(dir, time);
  }
  if (!foreign.every((name) => names.isPlainRelPath(name))) return undefined;
  index.foreign = foreign;
  return index;
}

export interface IndexInput {
  settings: string;
  build: string;
  records: [number, number] | null;
  manifest: [number, number] | null;
  revManifest: [number, number] | null;
  sources: Map<string, IndexSource>;
  css: Map<string, IndexCss>;
  dirs: Map<string, string>;
  stamps: Map<string, number>;
  foreign: string[];
}

export function* indexText(index: IndexInput): Generator<string> {
  // The same text as JSON.stringify of { tool, kind, version, settings, build, records, manifest, revManifest, facts,
  // hashes, css, dirs, stamps, foreign }, written piece by piece: 10,000 sources would be an object of 10,000 keys and
  // a string of megabytes, held at once.
  yield `{"tool":${JSON.stringify(TOOL)},"kind":"collect-index","version":2,`;
  yield `"settings":${JSON.stringify(index.settings)},`;
  yield `"build":${JSON.stringify(index.build)},"records":${JSON.stringify(index.records)},`;
  yield `"manifest":${JSON.stringify(index.manifest)},"revManifest":${JSON.stringify(index.revManifest)},"facts":{`;
  const names = [...index.sources.keys()].sort();
  let first = true;
  for (const name of names) {
    const [size, mtimeMs] = index.sources.get(name) as IndexSource;
    yield `${first ? '' : ','}${JSON.stringify(name)}:[${JSON.stringify(size)},${JSON.stringify(mtimeMs)}]`;
    first = false;
  }
  yield '},"hashes":"';
  first = true;
  for (const name of names) {
    const [, , sourceSha, finalSha, nameHash, finalSize, integrity, br, gz] = index.sources.get(name) as IndexSource;
    // One line of the "hashes" string, escaped as JSON escapes it (its quotes taken off); lines joined by "\n".
    const line = `${name}\t${sourceSha}\t${finalSha}\t${nameHash}\t${finalSize}\t${integrity}\t${br}\t${gz}`;
    yield `${first ? '' : '\\n'}${JSON.stringify(line).slice(1, -1)}`;
    first = false;
  }
  yield '","css":{';
  first = true;
  for (const name of [...index.css.keys()].sort()) {
    yield `${first ? '' : ','}${JSON.stringify(name)}:${JSON.stringify(index.css.get(name))}`;
    first = false;
  }
  const dirs: Record<string, string> = {};
  for (const name of [...index.dirs.keys()].sort()) dirs[name] = index.dirs.get(name) as string;
  const stamps: Record<string, number> = {};
  for (const name of [...index.stamps.keys()].sort()) stamps[name] = index.stamps.get(name) as number;
  yield `},"dirs":${JSON.stringify(dirs)},"stamps":${JSON.stringify(stamps)},`;
  yield `"foreign":${JSON.stringify(index.foreign)}}\n`;
}

/** The index's text whole (indexText joined). */
export function serializeIndex(index: IndexInput): string {
  return [...indexText(index)].join('');
}

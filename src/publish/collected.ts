/**
 * Reads what media:collect wrote in collectRoot (docs/collect-format.md, with its
 * notes from the implementation): `.app-media-collect.json` (the records),
 * `manifest.json` and, when present, `rev-manifest.json`. Every field is untrusted
 * input: a path must be plain and relative, sizes whole numbers, hashes lowercase hex
 * of their length, the build id the hash of the manifest's entries, a variant as
 * immutable as the file it is of; anything else makes the whole file unusable
 * (APP_MEDIA_BAD_COLLECT_OUTPUT), before any path is joined or any key is built from
 * it. A collect that did not finish (its pending list still there, or manifest.json
 * one build ahead of the records) is APP_MEDIA_COLLECT_UNFINISHED: run it again.
 * Fields the contract does not name (`dirs`, `own`) are ignored.
 */
import { createHash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { errors } from '../core/errors.js';
import { plainParts } from '../core/util/names.js';

export const RECORDS_FILE = '.app-media-collect.json';
export const MANIFEST_FILE = 'manifest.json';
export const REV_MANIFEST_FILE = 'rev-manifest.json';
/** What a writing collect is about to write; there only while it runs, or after it was killed. */
export const PENDING_FILE = '.app-media-collect-pending.json';
/** Names the tool keeps for itself: never published. */
export const OWN_MARK = '.app-media';

/** The records and manifests are read whole: a file bigger than this is not collect's. */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

export interface CollectedFile {
  /** The path relative to collectRoot (and to the prefix), `/`-separated, validated. */
  rel: string;
  size: number;
  sha256: string;
  immutable: boolean;
  /** A `.br` / `.gz` variant: its encoding. */
  encoding?: 'br' | 'gzip';
}

/** manifest.json or rev-manifest.json: read whole, so what is hashed is what is uploaded. */
export interface CollectedDocument {
  rel: string;
  bytes: Buffer;
  size: number;
  sha256: string;
}

export interface ManifestEntry {
  /** The logical path (`blog/css/site.css`). */
  name: string;
  path: string;
  size: number;
  integrity: string;
  encodings: { br?: number; gzip?: number };
}

export interface CollectedBuild {
  /** collectRoot as given (absolute). */
  root: string;
  /** builds[0].id of the records, which manifest.json describes. */
  id: string;
  /** Every file of builds[0] that is published (names starting `.app-media` are not), sorted. */
  files: CollectedFile[];
  manifest: CollectedDocument & { entries: ManifestEntry[] };
  revManifest: CollectedDocument | undefined;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const SRI = /^sha(256|384|512)-[A-Za-z0-9+/]+={0,2}$/;

/**
 * A plain relative path: `/`-separated segments, none empty, `.` or `..`, no `\` or NUL, at most 1,024 characters.
 * (What `value.split('/').every((segment) => /^[^/\\\0]+$/.test(segment) && segment !== '.' && segment !== '..')`
 * says, in one pass over the characters: a re-publish checks every path of the records and both manifests.)
 */
export function isPlainRelative(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 1024 && plainParts(value, true, false);
}

/** A name the tool keeps for itself (records, temporary files): never uploaded, never deleted. */
export function isOwnName(rel: string): boolean {
  // Some segment starts with the mark: the first, or one after a "/".
  return rel.startsWith(OWN_MARK) || rel.includes(`/${OWN_MARK}`);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isSize = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Reads and checks collectRoot's records and manifests. Throws a coded error on anything off-contract. */
export async function readCollected(collectRoot: string, display: string): Promise<CollectedBuild> {
  const recordsText = await readSmall(collectRoot, RECORDS_FILE, display);
  if (recordsText === undefined) throw errors.nothingCollected(display, RECORDS_FILE);
  const manifestBytes = await readSmall(collectRoot, MANIFEST_FILE, display);
  if (manifestBytes === undefined) throw errors.nothingCollected(display, MANIFEST_FILE);
  const revBytes = await readSmall(collectRoot, REV_MANIFEST_FILE, display);
  // A collect killed mid-way (or running now) may already have replaced original names with the next build's bytes.
  if (await present(collectRoot, PENDING_FILE)) {
    throw errors.collectUnfinished(
      display,
      `${PENDING_FILE} is there: a media:collect run is writing, or was stopped before it finished`,
    );
  }

  const recordsFile = `${display}/${RECORDS_FILE}`;
  const { id, files } = checkRecords(parse(recordsText, recordsFile), recordsFile);
  const manifestFile = `${display}/${MANIFEST_FILE}`;
  const entries = checkManifest(parse(manifestBytes, manifestFile), manifestFile, id, files, display);
  if (revBytes !== undefined)
    checkRevManifest(parse(revBytes, `${display}/${REV_MANIFEST_FILE}`), `${display}/${REV_MANIFEST_FILE}`, files);
  return {
    root: collectRoot,
    id,
    files: [...files.values()]
      .filter((file) => !isOwnName(file.rel))
      .sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)),
    manifest: { ...document(MANIFEST_FILE, manifestBytes), entries },
    revManifest: revBytes === undefined ? undefined : document(REV_MANIFEST_FILE, revBytes),
  };
}

/** Whether a name exists in collectRoot (of any kind: a link or a folder counts too). */
async function present(root: string, name: string): Promise<boolean> {
  try {
    await fs.lstat(path.join(root, name));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** JSON with the keys of every object sorted, no whitespace: what collect hashes for the build id. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value))
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

function document(rel: string, bytes: Buffer): CollectedDocument {
  return { rel, bytes, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A top-level file of collectRoot, read whole if it is a regular file of bounded size; undefined when absent. */
async function readSmall(root: string, name: string, display: string): Promise<Buffer | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path.join(root, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP')
      throw errors.badCollectOutput(`${display}/${name}`, '', 'it is a symbolic link, not a file collect wrote');
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw errors.badCollectOutput(`${display}/${name}`, '', 'it is not a regular file');
    if (stat.size > MAX_JSON_BYTES)
      throw errors.badCollectOutput(
        `${display}/${name}`,
        '',
        `it is ${stat.size} bytes, more than collect ever writes`,
      );
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function parse(bytes: Buffer, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw errors.badCollectOutput(
      file,
      '',
      `malformed JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

function checkRecords(raw: unknown, file: string): { id: string; files: Map<string, CollectedFile> } {
  const bad = (field: string, why: string): never => {
    throw errors.badCollectOutput(file, field, why);
  };
  if (!isRecord(raw)) return bad('', 'not a JSON object');
  if (raw['tool'] !== 'gulp-app-media' || raw['kind'] !== 'collect')
    bad('tool', "not the records of app-media's collect");
  if (raw['version'] !== 1)
    bad('version', `version ${JSON.stringify(raw['version'])} is not one this version of app-media reads`);
  const rawFiles = raw['files'];
  if (!isRecord(rawFiles)) return bad('files', 'not an object');
  const files = new Map<string, CollectedFile>();
  // Once per file on every publish: no [key, value] pair per entry, and the field's name made only for a message.
  for (const rel in rawFiles) {
    const value = rawFiles[rel];
    const field = (): string => `files[${JSON.stringify(rel)}]`;
    if (!isPlainRelative(rel)) bad(field(), 'not a plain relative path');
    if (!isRecord(value)) return bad(field(), 'not an object');
    if (!isSize(value['size'])) bad(`${field()}.size`, 'not a whole number of bytes');
    if (typeof value['mtimeMs'] !== 'number' || !Number.isFinite(value['mtimeMs']))
      bad(`${field()}.mtimeMs`, 'not a time');
    if (typeof value['sha256'] !== 'string' || !HEX64.test(value['sha256']))
      bad(`${field()}.sha256`, 'not 64 lowercase hex digits');
    if (typeof value['immutable'] !== 'boolean') bad(`${field()}.immutable`, 'not true or false');
    const encoding = value['encoding'];
    if (encoding !== undefined && encoding !== 'br' && encoding !== 'gzip')
      bad(`${field()}.encoding`, 'not "br" or "gzip"');
    const of = value['of'];
    if ((encoding === undefined) !== (of === undefined))
      bad(`${field()}.of`, 'a variant names both its encoding and the file it is of');
    if (
      of !== undefined &&
      (!isPlainRelative(of) || !Object.hasOwn(rawFiles, of) || rel !== `${of}.${encoding === 'br' ? 'br' : 'gz'}`)
    ) {
      bad(`${field()}.of`, 'not the recorded file this variant sits beside');
    }
    const checked: CollectedFile = {
      rel,
      size: value['size'] as number,
      sha256: value['sha256'] as string,
      immutable: value['immutable'] as boolean,
    };
    if (encoding !== undefined) checked.encoding = encoding as 'br' | 'gzip';
    files.set(rel, checked);
  }
  // A variant has its file's lifetime: of a fingerprinted name immutable, of an original name not.
  for (const rel in rawFiles) {
    const value = rawFiles[rel] as Record<string, unknown>;
    const of = value['of'];
    if (typeof of === 'string' && files.get(of)?.immutable !== value['immutable']) {
      bad(`files[${JSON.stringify(rel)}].immutable`, `not the same as that of ${of}, the file this variant is of`);
    }
  }
  const builds = raw['builds'];
  if (!Array.isArray(builds) || builds.length === 0) return bad('builds', 'no build recorded');
  const current: unknown = builds[0];
  if (!isRecord(current)) return bad('builds[0]', 'not an object');
  const id = current['id'];
  if (typeof id !== 'string' || !HEX16.test(id)) return bad('builds[0].id', 'not 16 lowercase hex digits');
  const listed = current['files'];
  if (!Array.isArray(listed)) return bad('builds[0].files', 'not a list');
  const inBuild = new Map<string, CollectedFile>();
  listed.forEach((rel: unknown, index) => {
    if (!isPlainRelative(rel)) return bad(`builds[0].files[${index}]`, 'not a plain relative path');
    const recorded = files.get(rel);
    if (!recorded) return bad(`builds[0].files[${index}]`, `${rel} is not among the recorded files`);
    inBuild.set(rel, recorded);
    return undefined;
  });
  return { id, files: inBuild };
}

function checkManifest(
  raw: unknown,
  file: string,
  id: string,
  files: ReadonlyMap<string, CollectedFile>,
  display: string,
): ManifestEntry[] {
  const bad = (field: string, why: string): never => {
    throw errors.badCollectOutput(file, field, why);
  };
  if (!isRecord(raw)) return bad('', 'not a JSON object');
  if (raw['version'] !== 1)
    bad('version', `version ${JSON.stringify(raw['version'])} is not one this version of app-media reads`);
  const build = raw['build'];
  if (typeof build !== 'string' || !HEX16.test(build)) return bad('build', 'not 16 lowercase hex digits');
  const entries = raw['files'];
  if (!isRecord(entries)) return bad('files', 'not an object');
  // The id names these very entries: the first 16 hex of the SHA-256 of "files" as compact JSON, keys sorted.
  const computed = createHash('sha256').update(canonicalJson(entries)).digest('hex').slice(0, 16);
  if (computed !== build)
    bad(
      'build',
      `build ${build} is not the id of the entries it lists (${computed}): the file was changed after collect wrote it`,
    );
  // collect writes manifest.json, then its records: a run stopped between the two leaves the records a build behind.
  if (build !== id) {
    throw errors.collectUnfinished(
      display,
      `${MANIFEST_FILE} describes build ${build}, but the newest build of ${RECORDS_FILE} is ${id}: ` +
        `a media:collect run was stopped before it finished`,
    );
  }
  const out: ManifestEntry[] = [];
  for (const name in entries) {
    const value = entries[name];
    const field = (): string => `files[${JSON.stringify(name)}]`;
    if (!isPlainRelative(name)) bad(field(), 'not a plain relative path');
    if (!isRecord(value)) return bad(field(), 'not an object');
    const target = value['path'];
    if (!isPlainRelative(target)) return bad(`${field()}.path`, 'not a plain relative path');
    const recorded = files.get(target);
    // Pages must never reference an object that is not uploaded with this build.
    if (!recorded || isOwnName(target)) return bad(`${field()}.path`, `${target} is not a file of build ${id}`);
    if (!recorded.immutable)
      bad(`${field()}.path`, `${target} is recorded as an original name, not a fingerprinted one (immutable false)`);
    if (!isSize(value['size']) || value['size'] !== recorded.size)
      bad(`${field()}.size`, 'not the recorded size of the file');
    if (typeof value['integrity'] !== 'string' || !SRI.test(value['integrity']))
      bad(`${field()}.integrity`, 'not an SRI hash');
    const encodings: ManifestEntry['encodings'] = {};
    const rawEncodings = value['encodings'];
    if (rawEncodings !== undefined) {
      if (!isRecord(rawEncodings)) return bad(`${field()}.encodings`, 'not an object');
      for (const [encoding, size] of Object.entries(rawEncodings)) {
        if (encoding !== 'br' && encoding !== 'gzip')
          return bad(`${field()}.encodings`, `unknown encoding ${JSON.stringify(encoding)}`);
        const variant = files.get(`${target}.${encoding === 'br' ? 'br' : 'gz'}`);
        if (!isSize(size) || !variant || variant.size !== size)
          bad(`${field()}.encodings.${encoding}`, 'not a recorded variant of the file with that size');
        encodings[encoding] = size as number;
      }
    }
    out.push({ name, path: target, size: recorded.size, integrity: value['integrity'] as string, encodings });
  }
  return out;
}

function checkRevManifest(raw: unknown, file: string, files: ReadonlyMap<string, CollectedFile>): void {
  if (!isRecord(raw)) throw errors.badCollectOutput(file, '', 'not a JSON object');
  for (const [name, target] of Object.entries(raw)) {
    if (!isPlainRelative(name) || !isPlainRelative(target) || !files.has(target)) {
      throw errors.badCollectOutput(file, JSON.stringify(name), 'not a name mapped to a file of the current build');
    }
  }
}

/**
 * Opens a collected file for reading, without following a link at its last
 * name, and only if every folder on the way stays inside collectRoot (its real
 * path is checked once per folder). Returns the handle of a regular file.
 */
export async function openCollected(
  realRoot: string,
  rel: string,
  folders: Map<string, Promise<boolean>>,
): Promise<fs.FileHandle> {
  if (!isPlainRelative(rel)) throw new Error(`internal: unchecked path ${rel as string}`);
  const segments = rel.split('/');
  const folder = segments.slice(0, -1).join('/');
  let inside = folders.get(folder);
  if (!inside) {
    inside = fs.realpath(path.join(realRoot, ...segments.slice(0, -1))).then(
      (real) => real === realRoot || real.startsWith(`${realRoot}${path.sep}`),
      () => true, // absent: the open below fails with ENOENT and says so
    );
    folders.set(folder, inside);
  }
  const file = path.join(realRoot, ...segments);
  if (!(await inside))
    throw Object.assign(new Error(`${rel}: a folder on the way leads outside collectRoot`), {
      code: 'EXDEV',
      syscall: 'open',
      path: file,
    });
  const handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  const stat = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!stat.isFile()) {
    await handle.close();
    throw Object.assign(new Error(`${rel} is not a regular file`), { code: 'EINVAL', syscall: 'open', path: file });
  }
  return handle;
}

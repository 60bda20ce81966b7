/**
 * The publish record: one object under the prefix, `<prefix>/.app-media-publish.json`,
 * that lists every object this tool uploaded there (its sha256, size and the ETag
 * the store gave it) and the builds published, newest first. It is how a re-publish
 * with no change costs one request, and how publish proves an object is its own
 * before it overwrites or deletes it.
 *
 * The record is read from the bucket, so it is untrusted input like any file on
 * disk: a record that is not app-media's is a conflict (never overwritten), and
 * one of ours with a single field off the format is refused whole. Names in it
 * are plain relative paths under the prefix; nothing in it is ever joined into a
 * key without that check.
 */
import { isOwnName, isPlainRelative, MANIFEST_FILE, REV_MANIFEST_FILE } from './collected.js';

export const RECORD_NAME = '.app-media-publish.json';
/** The user metadata every uploaded object carries: the sha256 of its bytes (`x-amz-meta-app-media-sha256`). */
export const SHA_METADATA = 'app-media-sha256';

export interface RecordedObject {
  sha256: string;
  size: number;
  /** The ETag the store answered the upload with (quotes included). */
  etag: string;
}

export interface PublishedBuild {
  id: string;
  at: string;
  /** Every key of the build, relative to the prefix (never the manifests or the record). */
  keys: string[];
}

/** Written before the first upload of a run: what it is about to upload, so a run after a kill can tell. */
export interface PendingBuild extends PublishedBuild {
  /** sha256 of the manifest.json this run will upload last: tells whether the build went live. */
  manifest: string;
  objects: Record<string, { sha256: string; size: number }>;
}

export interface RemoteRecord {
  objects: Record<string, RecordedObject>;
  builds: PublishedBuild[];
  pending?: PendingBuild;
}

export const emptyRecord = (): RemoteRecord => ({ objects: nameMap(), builds: [] });

/**
 * A map of object names (read from the bucket, which others may write) with no prototype: a name
 * such as `__proto__` or `toString` is an entry like any other, never an inherited property.
 */
function nameMap<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Never deleted by publish, whatever a record says: the pages' manifests. */
export const DOCUMENTS: ReadonlySet<string> = new Set([MANIFEST_FILE, REV_MANIFEST_FILE]);

const HEX16 = /^[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;
/** An ETag as stores send it: quoted, printable, short. */
const ETAG = /^"?[\x21\x23-\x7e]{1,200}"?$/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isSize = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

export type RecordCheck = { ok: true; record: RemoteRecord } | { ok: false; why: string };

/** A key the record may name: plain, relative, not one of the tool's own names. */
function isObjectName(value: unknown): value is string {
  return isPlainRelative(value) && !isOwnName(value);
}

/** Checks a record read from the bucket. Anything off the format refuses the whole record. */
export function checkRecord(text: string): RecordCheck {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  if (!isRecord(raw) || raw['tool'] !== 'gulp-app-media' || raw['kind'] !== 'publish')
    return { ok: false, why: 'not written by app-media publish' };
  if (raw['version'] !== 1)
    return { ok: false, why: `record version ${JSON.stringify(raw['version'])} is not one this version reads` };
  const objects = nameMap<RecordedObject>();
  const rawObjects = raw['objects'];
  if (!isRecord(rawObjects)) return { ok: false, why: 'objects: not an object' };
  // Once per object on every publish: no [key, value] pair per entry.
  for (const rel in rawObjects) {
    const value = rawObjects[rel];
    if (!isObjectName(rel))
      return {
        ok: false,
        why: `objects: ${JSON.stringify(rel).slice(0, 80)} is not a plain relative name under the prefix`,
      };
    if (
      !isRecord(value) ||
      typeof value['sha256'] !== 'string' ||
      !HEX64.test(value['sha256']) ||
      !isSize(value['size']) ||
      typeof value['etag'] !== 'string' ||
      !ETAG.test(value['etag'])
    ) {
      return { ok: false, why: `objects[${JSON.stringify(rel)}]: not { sha256, size, etag }` };
    }
    objects[rel] = { sha256: value['sha256'], size: value['size'], etag: value['etag'] };
  }
  const builds: PublishedBuild[] = [];
  if (!Array.isArray(raw['builds'])) return { ok: false, why: 'builds: not a list' };
  for (const [index, value] of (raw['builds'] as unknown[]).entries()) {
    const build = checkBuild(value);
    if (typeof build === 'string') return { ok: false, why: `builds[${index}]: ${build}` };
    builds.push(build);
  }
  const record: RemoteRecord = { objects, builds };
  const pending = raw['pending'];
  if (pending !== undefined) {
    const build = checkBuild(pending);
    if (typeof build === 'string') return { ok: false, why: `pending: ${build}` };
    if (
      !isRecord(pending) ||
      typeof pending['manifest'] !== 'string' ||
      !HEX64.test(pending['manifest']) ||
      !isRecord(pending['objects'])
    ) {
      return { ok: false, why: 'pending: not { id, at, keys, manifest, objects }' };
    }
    const pendingObjects: PendingBuild['objects'] = nameMap();
    for (const [rel, value] of Object.entries(pending['objects'])) {
      if (!isObjectName(rel))
        return {
          ok: false,
          why: `pending.objects: ${JSON.stringify(rel).slice(0, 80)} is not a plain relative name under the prefix`,
        };
      if (
        !isRecord(value) ||
        typeof value['sha256'] !== 'string' ||
        !HEX64.test(value['sha256']) ||
        !isSize(value['size'])
      ) {
        return { ok: false, why: `pending.objects[${JSON.stringify(rel)}]: not { sha256, size }` };
      }
      pendingObjects[rel] = { sha256: value['sha256'], size: value['size'] };
    }
    record.pending = { ...build, manifest: pending['manifest'], objects: pendingObjects };
  }
  return { ok: true, record };
}

function checkBuild(value: unknown): PublishedBuild | string {
  if (!isRecord(value)) return 'not an object';
  const { id, at, keys } = value;
  if (typeof id !== 'string' || !HEX16.test(id)) return 'id: not 16 lowercase hex digits';
  if (typeof at !== 'string' || at.length > 40) return 'at: not a time';
  if (!Array.isArray(keys) || !keys.every((key) => isObjectName(key) && !DOCUMENTS.has(key)))
    return 'keys: not a list of plain relative names';
  return { id, at, keys: (keys as string[]).slice() };
}

/** The record as stored: stable key order, so an unchanged record is byte-identical. */
export function serializeRecord(record: RemoteRecord): string {
  const objects = nameMap<RecordedObject>();
  for (const rel of Object.keys(record.objects).sort()) {
    const value = record.objects[rel] as RecordedObject;
    objects[rel] = { sha256: value.sha256, size: value.size, etag: value.etag };
  }
  const out: Record<string, unknown> = {
    tool: 'gulp-app-media',
    kind: 'publish',
    version: 1,
    objects,
    builds: record.builds.map((build) => ({ id: build.id, at: build.at, keys: [...build.keys].sort() })),
  };
  if (record.pending) {
    const pending = record.pending;
    const pendingObjects: PendingBuild['objects'] = nameMap();
    for (const rel of Object.keys(pending.objects).sort())
      pendingObjects[rel] = pending.objects[rel] as { sha256: string; size: number };
    out['pending'] = {
      id: pending.id,
      at: pending.at,
      keys: [...pending.keys].sort(),
      manifest: pending.manifest,
      objects: pendingObjects,
    };
  }
  return `${JSON.stringify(out)}\n`;
}

/**
 * What a publish does, decided without any I/O: which objects to upload (the
 * changed ones only), in which order (every asset, then rev-manifest.json, then
 * manifest.json last), which objects of builds older than the newest `keep` to
 * delete (only ones the record says this tool uploaded), and the builds the
 * record lists afterwards.
 */
import type { CollectedBuild, CollectedDocument } from './collected.js';
import { headersFor, type CacheControl, type ObjectHeaders } from './headers.js';
import { DOCUMENTS, type PublishedBuild, type RecordedObject, type RemoteRecord } from './remote-record.js';

export interface PlannedUpload {
  rel: string;
  /** The app it belongs to (the first name of its path), or the document's own name. */
  app: string;
  size: number;
  sha256: string;
  headers: ObjectHeaders;
  /** A manifest, uploaded from the bytes read and hashed (not a file opened again). */
  document?: CollectedDocument;
  /** The tool's own object this overwrites (with the ETag it must still have); none for a new key. */
  replaces?: RecordedObject;
}

export interface PlannedDelete {
  rel: string;
  app: string;
  recorded: RecordedObject;
}

export interface PublishPlan {
  build: PublishedBuild;
  /** Every changed file of the build; uploaded before any document. */
  assets: PlannedUpload[];
  /** rev-manifest.json (if present), then manifest.json: uploaded last, and only if every asset is in place. */
  documents: PlannedUpload[];
  /** Objects already in the bucket with the same bytes. */
  unchanged: Array<{ rel: string; app: string; size: number }>;
  /** Objects of builds no longer kept that the record says the tool uploaded. */
  deletes: PlannedDelete[];
  /** The record's builds after this publish: this one first, then at most `keep` earlier ones. */
  builds: PublishedBuild[];
  /** Whether the run writes anything at all (objects, deletes, or the record). */
  writes: boolean;
}

export interface PlanInput {
  collected: CollectedBuild;
  record: RemoteRecord;
  /** How many earlier builds stay in the bucket. */
  keep: number;
  cacheControl: CacheControl;
  /** The time stamped on the build (ISO). */
  now: string;
}

export function appOf(rel: string): string {
  const slash = rel.indexOf('/');
  return slash === -1 ? rel : rel.slice(0, slash);
}

export function planPublish(input: PlanInput): PublishPlan {
  const { collected, record, keep, cacheControl } = input;
  const keys = collected.files.map((file) => file.rel);
  const build: PublishedBuild = {
    id: collected.id,
    at: record.builds[0]?.id === collected.id ? record.builds[0].at : input.now,
    keys,
  };
  const assets: PlannedUpload[] = [];
  const unchanged: PublishPlan['unchanged'] = [];
  for (const file of collected.files) {
    const recorded = record.objects[file.rel];
    if (recorded && recorded.sha256 === file.sha256 && recorded.size === file.size) {
      unchanged.push({ rel: file.rel, app: appOf(file.rel), size: file.size });
      continue;
    }
    assets.push({
      rel: file.rel,
      app: appOf(file.rel),
      size: file.size,
      sha256: file.sha256,
      headers: headersFor(file.rel, file.immutable, cacheControl, file.encoding),
      ...(recorded ? { replaces: recorded } : {}),
    });
  }
  // Hashed names (and their variants) first, plain names after: both before any manifest.
  assets.sort(
    (a, b) =>
      Number(a.headers.cacheControl !== cacheControl.immutable) -
        Number(b.headers.cacheControl !== cacheControl.immutable) || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0),
  );

  const documents: PlannedUpload[] = [];
  for (const document of [collected.revManifest, collected.manifest]) {
    if (!document) continue;
    const recorded = record.objects[document.rel];
    if (recorded && recorded.sha256 === document.sha256 && recorded.size === document.size) {
      unchanged.push({ rel: document.rel, app: document.rel, size: document.size });
      continue;
    }
    documents.push({
      rel: document.rel,
      app: document.rel,
      size: document.size,
      sha256: document.sha256,
      headers: headersFor(document.rel, false, cacheControl),
      document,
      ...(recorded ? { replaces: recorded } : {}),
    });
  }

  // This build first, then the earlier ones (a re-published build keeps its place only once).
  const history = [build, ...record.builds.filter((earlier) => earlier.id !== build.id)];
  const builds = history.slice(0, keep + 1);
  const referenced = new Set(builds.flatMap((kept) => kept.keys));
  const deletes: PlannedDelete[] = [];
  for (const [rel, recorded] of Object.entries(record.objects)) {
    if (referenced.has(rel) || DOCUMENTS.has(rel)) continue;
    deletes.push({ rel, app: appOf(rel), recorded });
  }
  deletes.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

  const sameBuilds =
    builds.length === record.builds.length && builds.every((kept, index) => kept.id === record.builds[index]?.id);
  return {
    build,
    assets,
    documents,
    unchanged,
    deletes,
    builds,
    writes:
      assets.length > 0 || documents.length > 0 || deletes.length > 0 || !sameBuilds || record.pending !== undefined,
  };
}

/**
 * Carries out a publish against the store, in the order that keeps pages whole:
 *
 * 1. read the record (one GET); a record left `pending` by a run that was killed is
 *    settled first (a HEAD per object it was about to upload, and one for the manifest);
 * 2. plan (pure); a run with nothing to change stops here;
 * 3. check that every new key is free (a listing page per thousand keys, or a HEAD
 *    each when few): an object someone else put there is a `conflict`, never overwritten;
 *    and that every object of ours about to be overwritten still has the ETag we recorded;
 * 4. write the record with the run's intent (`pending`), then upload every changed
 *    asset, bounded in concurrency, each file hashed again and checked against the
 *    collect records, sent with Content-MD5 and x-amz-checksum-sha256;
 * 5. if every asset is in place: rev-manifest.json, then manifest.json, then the record;
 * 6. delete the objects of builds no longer kept, each only if it still has the ETag and
 *    sha256 the record gives it (HEAD, then DELETE If-Match); then the record again.
 *
 * A dry run does every read of this and none of the writes.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import pMap from 'p-map';
import { AppMediaError, errors, isAppMediaError } from '../core/errors.js';
import { collectGarbage } from '../core/util/memory.js';
import { openCollected, type CollectedBuild } from './collected.js';
import { PreconditionFailed, type HeadResult, type Store, type PutInput } from './client.js';
import type { CacheControl } from './headers.js';
import { planPublish, type PlannedUpload, type PublishPlan } from './plan.js';
import { checkRecord, emptyRecord, RECORD_NAME, serializeRecord, type RemoteRecord } from './remote-record.js';

export interface ApplyInput {
  store: Store;
  collected: CollectedBuild;
  /** collectRoot's real path (files are opened below it only). */
  realRoot: string;
  keep: number;
  cacheControl: CacheControl;
  dryRun: boolean;
  onProgress?: (progress: PublishProgress) => void;
}

export interface PublishProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

export interface ObjectNote {
  rel: string;
  app: string;
  reason: string;
}

export interface PublishOutcome {
  plan: PublishPlan;
  /** Uploaded by this run (or, in a dry run, that would be). */
  uploaded: Array<{ rel: string; app: string; size: number }>;
  /** New keys found already holding the same bytes, uploaded by app-media: taken as they are. */
  adopted: Array<{ rel: string; app: string; size: number }>;
  /** Keys in the way: someone else's object, never overwritten. */
  conflicts: ObjectNote[];
  /** Files that could not be uploaded (changed since collect, unreadable). */
  failures: ObjectNote[];
  /** Objects of builds no longer kept, deleted (or, in a dry run, that would be). */
  deleted: Array<{ rel: string; app: string }>;
  /** Objects of old builds left in place: changed since app-media uploaded them, so no longer its own. */
  released: ObjectNote[];
  /** Whether manifest.json was held back because an asset is not in place. */
  held: boolean;
  /** What was settled of a run killed earlier. */
  recovered: { pending: number; live: boolean } | undefined;
  warnings: string[];
}

/**
 * Files up to this size are read whole and sent from memory; each upload in flight takes a buffer of this size from
 * its run's `Buffers` and gives it back when done (at most one per upload in flight, let go with the run; none
 * allocated per file: a fresh buffer per file left ten thousand of them for the garbage collector).
 */
const WHOLE_FILE = 1024 * 1024;
/** Bigger files are hashed in chunks of this size (read into buffers kept the same way), then streamed. */
const HASH_CHUNK = 256 * 1024;

/** A run's buffers for reading files, by size: taken by an upload, given back when it is done. */
class Buffers {
  private readonly free = new Map<number, Buffer[]>();

  take(size: number): Buffer {
    return this.free.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
  }

  give(buffer: Buffer): void {
    const list = this.free.get(buffer.length) ?? [];
    list.push(buffer);
    this.free.set(buffer.length, list);
  }
}

/** Uploads between two full garbage collections (core/util/memory.ts: keeps peak memory flat as files add up). */
const COLLECT_EVERY = 256;
/** Up to this many new keys are checked with a HEAD each; more with listing pages. */
const HEAD_LIMIT = 8;

export async function applyPublish(input: ApplyInput): Promise<PublishOutcome> {
  const { store, collected, dryRun } = input;
  const fetched = await store.getRecord();
  let record: RemoteRecord = emptyRecord();
  let recordEtag: string | undefined;
  if (fetched) {
    const checked = checkRecord(fetched.text);
    if (!checked.ok) throw errors.recordConflict(store.url(RECORD_NAME), checked.why);
    record = checked.record;
    recordEtag = fetched.etag;
  }
  const recovered = record.pending ? await settlePending(store, record) : undefined;

  const plan = planPublish({
    collected,
    record,
    keep: input.keep,
    cacheControl: input.cacheControl,
    now: new Date().toISOString(),
  });
  const outcome: PublishOutcome = {
    plan,
    uploaded: [],
    adopted: [],
    conflicts: [],
    failures: [],
    deleted: [],
    released: [],
    held: false,
    recovered,
    warnings: [],
  };
  if (recovered) {
    outcome.warnings.push(
      `settled an interrupted publish (build ` +
        `${record.builds[0]?.id ?? '?'}${recovered.live ? ', whose manifest had gone live' : ''}): ` +
        `${recovered.pending} object${recovered.pending === 1 ? '' : 's'} checked`,
    );
  }
  if (!plan.writes) return outcome;

  // 3. Every key about to be written: free, or still ours as recorded.
  const uploads = [...plan.assets, ...plan.documents];
  const fresh = uploads.filter((upload) => !upload.replaces).map((upload) => upload.rel);
  const taken = await existing(store, fresh);
  const replacing = uploads.filter((upload) => upload.replaces);
  const current = new Map<string, HeadResult | undefined>();
  await pMap(
    replacing,
    async (upload) => {
      current.set(upload.rel, await store.head(upload.rel));
    },
    { concurrency: store.settings.concurrency },
  );

  const ready: PlannedUpload[] = [];
  for (const upload of uploads) {
    if (upload.replaces) {
      const now = current.get(upload.rel);
      if (now === undefined) {
        // Ours, deleted by someone since: a new key again.
        const { replaces: _gone, ...rest } = upload;
        delete record.objects[upload.rel];
        ready.push(rest);
      } else if (now.etag === upload.replaces.etag) {
        ready.push(upload);
      } else {
        delete record.objects[upload.rel]; // changed by someone: no longer ours
        outcome.conflicts.push({
          rel: upload.rel,
          app: upload.app,
          reason: 'changed in the bucket since app-media uploaded it',
        });
      }
      continue;
    }
    const head = taken.get(upload.rel);
    if (head === undefined) {
      ready.push(upload);
    } else if (head.sha256 === upload.sha256 && head.size === upload.size) {
      // The same bytes, uploaded by app-media (a run whose record was lost): taken as they are.
      record.objects[upload.rel] = { sha256: upload.sha256, size: upload.size, etag: head.etag };
      outcome.adopted.push({ rel: upload.rel, app: upload.app, size: upload.size });
    } else {
      outcome.conflicts.push({
        rel: upload.rel,
        app: upload.app,
        reason: 'an object app-media did not upload is at this key',
      });
    }
  }
  const assets = ready.filter((upload) => !upload.document);
  const documents = ready.filter((upload) => upload.document);

  if (dryRun) {
    outcome.uploaded.push(...assets.map(({ rel, app, size }) => ({ rel, app, size })));
    outcome.held = outcome.conflicts.length > 0;
    if (!outcome.held) {
      outcome.uploaded.push(...documents.map(({ rel, app, size }) => ({ rel, app, size })));
      await checkDeletes(store, plan, record, outcome, true);
    }
    return outcome;
  }

  // 4. The intent first: a run killed from here on is settled by the next.
  record.pending = {
    id: plan.build.id,
    at: plan.build.at,
    keys: plan.build.keys,
    manifest: collected.manifest.sha256,
    objects: Object.fromEntries(ready.map((upload) => [upload.rel, { sha256: upload.sha256, size: upload.size }])),
  };
  recordEtag = await writeRecord(store, record, recordEtag);

  const progress: PublishProgress = {
    files: 0,
    bytes: 0,
    totalFiles: ready.length,
    totalBytes: ready.reduce((sum, upload) => sum + upload.size, 0),
  };
  const folders = new Map<string, Promise<boolean>>();
  const buffers = new Buffers();
  let sent = 0;
  const send = async (upload: PlannedUpload): Promise<void> => {
    let etag: string;
    try {
      etag = await uploadOne(store, input.realRoot, upload, folders, buffers);
    } catch (error) {
      if (error instanceof PreconditionFailed) {
        outcome.conflicts.push({
          rel: upload.rel,
          app: upload.app,
          reason: upload.replaces
            ? 'changed in the bucket since app-media uploaded it'
            : 'an object app-media did not upload is at this key',
        });
        if (upload.replaces) delete record.objects[upload.rel];
        return;
      }
      if (error instanceof LocalFileError) {
        outcome.failures.push({ rel: upload.rel, app: upload.app, reason: error.message });
        return;
      }
      throw error;
    }
    record.objects[upload.rel] = { sha256: upload.sha256, size: upload.size, etag };
    outcome.uploaded.push({ rel: upload.rel, app: upload.app, size: upload.size });
    if (++sent % COLLECT_EVERY === 0) collectGarbage();
    progress.files++;
    progress.bytes += upload.size;
    input.onProgress?.(progress);
  };
  await pMap(assets, send, { concurrency: store.settings.concurrency });

  // 5. The manifests only over a complete set of assets.
  outcome.held = outcome.conflicts.length > 0 || outcome.failures.length > 0;
  if (!outcome.held) {
    for (const document of documents) await send(document);
    outcome.held = outcome.conflicts.length > 0 || outcome.failures.length > 0;
  }
  delete record.pending;
  if (!outcome.held) record.builds = plan.builds;
  recordEtag = await writeRecord(store, record, recordEtag);

  // 6. Older builds' objects, once pages no longer need them.
  if (!outcome.held && (await checkDeletes(store, plan, record, outcome, false))) {
    await writeRecord(store, record, recordEtag);
  }
  return outcome;
}

/** The record, written only if it is still the one this run read or wrote last. */
async function writeRecord(store: Store, record: RemoteRecord, etag: string | undefined): Promise<string> {
  try {
    return await store.putRecord(serializeRecord(record), etag);
  } catch (error) {
    if (error instanceof PreconditionFailed) throw errors.publishBusy(store.url(RECORD_NAME));
    throw error;
  }
}

/**
 * Deletes (or, in a dry run, checks) the objects of builds no longer kept: each only while it
 * still has the ETag and sha256 recorded when the tool uploaded it. Returns whether the record changed.
 */
async function checkDeletes(
  store: Store,
  plan: PublishPlan,
  record: RemoteRecord,
  outcome: PublishOutcome,
  dryRun: boolean,
): Promise<boolean> {
  let changed = false;
  await pMap(
    plan.deletes,
    async (candidate) => {
      /** No longer the tool's: kept in the bucket, forgotten by the record, and said why. */
      const release = (reason: string): void => {
        delete record.objects[candidate.rel];
        changed = true;
        outcome.released.push({ rel: candidate.rel, app: candidate.app, reason });
      };
      const head = await store.head(candidate.rel);
      if (head === undefined) {
        // Already gone (a run killed mid-way, or removed by hand): forget it.
        delete record.objects[candidate.rel];
        changed = true;
        return;
      }
      if (head.etag !== candidate.recorded.etag || head.sha256 !== candidate.recorded.sha256) {
        release('changed in the bucket since app-media uploaded it: kept, and no longer its own');
        return;
      }
      if (!dryRun) {
        try {
          await store.delete(candidate.rel, head.etag);
        } catch (error) {
          if (!(error instanceof PreconditionFailed)) throw error;
          release('changed in the bucket just before it was deleted: kept, and no longer its own');
          return;
        }
        delete record.objects[candidate.rel];
        changed = true;
      }
      outcome.deleted.push({ rel: candidate.rel, app: candidate.app });
    },
    { concurrency: store.settings.concurrency },
  );
  outcome.deleted.sort((a, b) => (a.rel < b.rel ? -1 : 1));
  return changed;
}

/**
 * Settles the intent of a run that was killed: which of the objects it meant to upload are
 * there (HEAD: our sha256 metadata), and whether its manifest went live (then its build is
 * published and its objects are kept like any build's).
 */
async function settlePending(store: Store, record: RemoteRecord): Promise<{ pending: number; live: boolean }> {
  const pending = record.pending;
  if (!pending) return { pending: 0, live: false };
  const rels = Object.keys(pending.objects);
  await pMap(
    rels,
    async (rel) => {
      const meant = pending.objects[rel] as { sha256: string; size: number };
      const head = await store.head(rel);
      const before = record.objects[rel];
      if (head && head.sha256 === meant.sha256 && head.size === meant.size) {
        record.objects[rel] = { sha256: meant.sha256, size: meant.size, etag: head.etag };
      } else if (!head || !before || head.etag !== before.etag) {
        // Not there, or not what either the record or the run knew: not provably ours.
        delete record.objects[rel];
      }
    },
    { concurrency: store.settings.concurrency },
  );
  const manifest = record.objects['manifest.json'];
  const live = manifest !== undefined && manifest.sha256 === pending.manifest;
  if (live)
    record.builds = [
      { id: pending.id, at: pending.at, keys: pending.keys },
      ...record.builds.filter((build) => build.id !== pending.id),
    ];
  delete record.pending;
  return { pending: rels.length, live };
}

/**
 * Which of `rels` (new keys) already hold an object, with its HEAD. Few are checked with a
 * HEAD each; many with listing pages from just before each unresolved key (a thousand keys
 * a page), falling back to HEADs where the prefix is crowded with other keys. Never a
 * listing of the whole prefix.
 */
async function existing(store: Store, rels: string[]): Promise<Map<string, HeadResult>> {
  const found = new Map<string, HeadResult>();
  const sorted = [...rels].sort(byteOrder);
  const heads = async (list: string[]): Promise<void> => {
    await pMap(
      list,
      async (rel) => {
        const head = await store.head(rel);
        if (head) found.set(rel, head);
      },
      { concurrency: store.settings.concurrency },
    );
  };
  let index = 0;
  const listed: string[] = [];
  if (sorted.length > HEAD_LIMIT) {
    while (index < sorted.length) {
      const first = sorted[index] as string;
      let page: { rels: string[]; truncated: boolean };
      try {
        page = await store.list(first.length > 1 ? first.slice(0, -1) : undefined);
      } catch (error) {
        // Credentials without s3:ListBucket: a HEAD for each key does the same job.
        if (isAppMediaError(error) && error.code === 'APP_MEDIA_PUBLISH_ACCESS_DENIED') break;
        throw error;
      }
      const names = new Set(page.rels);
      const last = page.truncated ? page.rels[page.rels.length - 1] : undefined;
      let resolved = 0;
      while (index < sorted.length && (last === undefined || byteOrder(sorted[index] as string, last) <= 0)) {
        const rel = sorted[index] as string;
        if (names.has(rel)) listed.push(rel);
        index++;
        resolved++;
      }
      // A page that settles few of our keys: the prefix is crowded with others; HEAD the rest.
      if (resolved < 16) break;
    }
  }
  await heads([...listed, ...sorted.slice(index)]);
  return found;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A collected file that cannot be uploaded as recorded: that file fails, the run goes on. */
class LocalFileError extends Error {}

/** Hashes the file again (it must still be the bytes collect recorded), then uploads it. */
async function uploadOne(
  store: Store,
  realRoot: string,
  upload: PlannedUpload,
  folders: Map<string, Promise<boolean>>,
  buffers: Buffers,
): Promise<string> {
  const conditional = upload.replaces ? { ifMatch: upload.replaces.etag } : { ifNoneMatch: true };
  if (upload.document) {
    const bytes = upload.document.bytes;
    return store.put(upload.rel, {
      size: bytes.length,
      md5: md5Of(bytes),
      sha256: upload.sha256,
      headers: upload.headers,
      body: () => bytes,
      ...conditional,
    });
  }
  let handle: FileHandle;
  try {
    handle = await openCollected(realRoot, upload.rel, folders);
  } catch (error) {
    throw new LocalFileError(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    const stat = await handle.stat();
    if (stat.size !== upload.size)
      throw new LocalFileError(
        `is ${stat.size} bytes, not the ${upload.size} collect recorded: changed since media:collect (run it again)`,
      );
    const put = (md5: string, body: PutInput['body']): Promise<string> =>
      store.put(upload.rel, {
        size: upload.size,
        md5,
        sha256: upload.sha256,
        headers: upload.headers,
        body,
        ...conditional,
      });
    if (upload.size <= WHOLE_FILE) {
      // Read whole into a buffer kept for the next file: the bytes hashed are the bytes sent.
      const buffer = buffers.take(WHOLE_FILE);
      try {
        const bytes = await readWhole(handle, buffer, upload.size);
        checkBytes(createHash('sha256').update(bytes).digest('hex'), upload);
        return await put(md5Of(bytes), () => bytes);
      } finally {
        buffers.give(buffer);
      }
    }
    const { md5, sha256 } = await hashStream(handle, buffers);
    checkBytes(sha256, upload);
    return await put(md5, () =>
      handle.createReadStream({ start: 0, end: upload.size - 1, autoClose: false, emitClose: false }),
    );
  } catch (error) {
    if (error instanceof LocalFileError || error instanceof AppMediaError || error instanceof PreconditionFailed)
      throw error;
    if (typeof (error as NodeJS.ErrnoException).syscall === 'string')
      throw new LocalFileError(`cannot be read: ${(error as NodeJS.ErrnoException).code}`);
    throw error;
  } finally {
    await handle.close();
  }
}

/** Reads the first `size` bytes of the file into `buffer`; a file shorter than that has changed since collect. */
async function readWhole(handle: FileHandle, buffer: Buffer, size: number): Promise<Buffer> {
  let read = 0;
  while (read < size) {
    const { bytesRead } = await handle.read(buffer, read, size - read, read);
    if (bytesRead === 0)
      throw new LocalFileError(
        `is ${read} bytes, not the ${size} collect recorded: changed since media:collect (run it again)`,
      );
    read += bytesRead;
  }
  return buffer.subarray(0, size);
}

/** The bytes about to be sent must be the ones collect recorded. */
function checkBytes(sha256: string, upload: PlannedUpload): void {
  if (sha256 !== upload.sha256)
    throw new LocalFileError('its bytes are not the ones collect recorded: changed since media:collect (run it again)');
}

function md5Of(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

async function hashStream(handle: FileHandle, buffers: Buffers): Promise<{ md5: string; sha256: string }> {
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  // Read into a buffer kept between files (one per upload in flight), not a stream's fresh chunk per read: a
  // thousand files of 10 MiB would otherwise leave ten gigabytes of chunks for the garbage collector.
  const buffer = buffers.take(HASH_CHUNK);
  try {
    for (let position = 0; ;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      md5.update(chunk);
      sha.update(chunk);
      position += bytesRead;
    }
  } finally {
    buffers.give(buffer);
  }
  return { md5: md5.digest('hex'), sha256: sha.digest('hex') };
}

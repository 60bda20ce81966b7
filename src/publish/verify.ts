/**
 * media:verify --published: read-only. Every entry of the manifest.json in the
 * bucket (and each of its .br/.gz variants) must be there with its size, the ETag
 * the publish record gave it, and the Content-Type, Cache-Control and
 * Content-Encoding publish sets. One line per app, as verify always prints.
 */
import { realpath } from 'node:fs/promises';
import pMap from 'p-map';
import { loadConfig } from '../core/config/load.js';
import { toDisplay } from '../core/display.js';
import { errors } from '../core/errors.js';
import { buildReport, logReport } from '../core/report.js';
import type { AppReport, Report, RunOptions } from '../core/types.js';
import { isPlainRelative, MANIFEST_FILE, readCollected } from './collected.js';
import { Store, type HeadResult } from './client.js';
import { headersFor, type ObjectHeaders } from './headers.js';
import { appOf } from './plan.js';
import { checkRecord, RECORD_NAME, type RemoteRecord } from './remote-record.js';
import { publishSettings } from './settings.js';

interface Expected {
  rel: string;
  size: number;
  headers: ObjectHeaders;
}

type Found = 'ok' | 'missing' | 'drift' | 'wrong-headers';
const RANK: Record<Found, number> = { ok: 0, 'wrong-headers': 1, drift: 2, missing: 3 };

export async function verifyPublished(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const config = await loadConfig(options);
  const settings = publishSettings(config);
  const store = await Store.open(settings.store);
  const warnings: string[] = [];
  const apps = new Map<string, { status: Found; notes: string[]; files: number }>();
  const note = (app: string, status: Found, text?: string): void => {
    const found = apps.get(app) ?? { status: 'ok' as Found, notes: [], files: 0 };
    if (RANK[status] > RANK[found.status]) found.status = status;
    if (text) found.notes.push(text);
    apps.set(app, found);
  };
  try {
    let record: RemoteRecord | undefined;
    const fetched = await store.getRecord();
    if (fetched) {
      const checked = checkRecord(fetched.text);
      if (!checked.ok) throw errors.recordConflict(store.url(RECORD_NAME), checked.why);
      record = checked.record;
    } else {
      warnings.push(
        `no publish record at ${store.url(RECORD_NAME)}: ETags cannot be checked (was this ` +
          `prefix published by media:publish?)`,
      );
    }
    const bytes = await store.getBytes(MANIFEST_FILE);
    const manifest = bytes === undefined ? undefined : remoteManifest(bytes);
    if (bytes === undefined) note(MANIFEST_FILE, 'missing', `${store.url(MANIFEST_FILE)} is not in the bucket`);
    else if (!manifest)
      note(MANIFEST_FILE, 'drift', `${store.url(MANIFEST_FILE)} is not a manifest media:collect writes`);
    else {
      note(MANIFEST_FILE, 'ok');
      const local = await localBuild(settings.collectRoot, toDisplay(config.projectRoot, settings.collectRoot));
      if (local !== undefined && local !== manifest.build) {
        note(
          MANIFEST_FILE,
          'drift',
          `the bucket serves build ${manifest.build}, collectRoot holds build ${local}: run media:publish`,
        );
      }
      const head = await store.head(MANIFEST_FILE);
      if (head)
        check(
          MANIFEST_FILE,
          head,
          { rel: MANIFEST_FILE, size: bytes.length, headers: headersFor(MANIFEST_FILE, false, settings.cacheControl) },
          record,
          note,
        );
      const expected: Expected[] = [];
      for (const entry of manifest.entries) {
        const base = {
          rel: entry.path,
          size: entry.size,
          headers: headersFor(entry.path, true, settings.cacheControl),
        };
        expected.push(base);
        if (entry.br !== undefined)
          expected.push({
            rel: `${entry.path}.br`,
            size: entry.br,
            headers: headersFor(`${entry.path}.br`, true, settings.cacheControl, 'br'),
          });
        if (entry.gzip !== undefined)
          expected.push({
            rel: `${entry.path}.gz`,
            size: entry.gzip,
            headers: headersFor(`${entry.path}.gz`, true, settings.cacheControl, 'gzip'),
          });
      }
      await pMap(
        expected,
        async (object) => {
          const found = await store.head(object.rel);
          const app = appOf(object.rel);
          const entry = apps.get(app) ?? { status: 'ok' as Found, notes: [], files: 0 };
          entry.files++;
          apps.set(app, entry);
          if (!found) note(app, 'missing', `${object.rel}: not in the bucket`);
          else check(object.rel, found, object, record, note);
        },
        { concurrency: store.settings.concurrency },
      );
    }
  } finally {
    store.close();
  }
  const reports: AppReport[] = [...apps.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, app]) => ({
      name,
      status: app.status,
      mode: null,
      source: null,
      target: name === MANIFEST_FILE ? store.url(name) : `${store.url(name)}/`,
      files: 0,
      bytes: 0,
      reason:
        app.notes.length > 0
          ? [...app.notes.slice(0, 5), ...(app.notes.length > 5 ? [`and ${app.notes.length - 5} more`] : [])].join(
              '\n             ',
            )
          : null,
      hint:
        app.status === 'ok'
          ? null
          : app.status === 'wrong-headers'
            ? 'set those headers in the bucket, or delete those objects by hand and follow the next hint'
            : `to upload them again, delete ${store.url(RECORD_NAME)} and run media:publish: ` +
              `the objects it uploaded are recognised by their sha256 metadata and kept, ` +
              `missing ones are uploaded (objects of older builds are then no longer pruned)`,
    }));
  const report = buildReport({
    task: 'verify',
    dryRun: false,
    projectRoot: config.projectRoot,
    mediaRoot: settings.collectRoot,
    started,
    warnings,
    apps: reports,
  });
  report.destination = store.url();
  logReport(report, options.logger, options.verbose ?? false);
  return report;
}

function check(
  rel: string,
  found: HeadResult,
  expected: Expected,
  record: RemoteRecord | undefined,
  note: (app: string, status: Found, text?: string) => void,
): void {
  const app = appOf(rel);
  if (found.size !== expected.size) note(app, 'drift', `${rel}: ${found.size} bytes, not ${expected.size}`);
  const recorded = record?.objects[rel];
  if (recorded && recorded.etag !== found.etag)
    note(app, 'drift', `${rel}: ETag ${found.etag}, not the ${recorded.etag} media:publish recorded`);
  if (record && !recorded) note(app, 'drift', `${rel}: not uploaded by media:publish (not in its record)`);
  if (recorded && found.sha256 !== undefined && found.sha256 !== recorded.sha256)
    note(app, 'drift', `${rel}: its sha256 is not the one media:publish recorded`);
  const wrong: string[] = [];
  if (found.contentType !== expected.headers.contentType)
    wrong.push(
      `Content-Type ${JSON.stringify(found.contentType ?? null)}, not ${JSON.stringify(expected.headers.contentType)}`,
    );
  if (found.cacheControl !== expected.headers.cacheControl)
    wrong.push(
      `Cache-Control ${JSON.stringify(found.cacheControl ?? null)}, ` +
        `not ${JSON.stringify(expected.headers.cacheControl)}`,
    );
  if ((found.contentEncoding ?? undefined) !== expected.headers.contentEncoding)
    wrong.push(
      `Content-Encoding ${JSON.stringify(found.contentEncoding ?? null)}, ` +
        `not ${JSON.stringify(expected.headers.contentEncoding ?? null)}`,
    );
  if (wrong.length > 0) note(app, 'wrong-headers', `${rel}: ${wrong.join('; ')}`);
}

/** The manifest in the bucket, checked as untrusted input (undefined when it is not one). */
function remoteManifest(
  bytes: Buffer,
): { build: string; entries: Array<{ path: string; size: number; br?: number; gzip?: number }> } | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const isRecord = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  const isSize = (value: unknown): value is number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  if (
    !isRecord(raw) ||
    raw['version'] !== 1 ||
    typeof raw['build'] !== 'string' ||
    !/^[0-9a-f]{16}$/.test(raw['build']) ||
    !isRecord(raw['files'])
  )
    return undefined;
  const entries: Array<{ path: string; size: number; br?: number; gzip?: number }> = [];
  for (const value of Object.values(raw['files'])) {
    if (!isRecord(value) || !isPlainRelative(value['path']) || !isSize(value['size'])) return undefined;
    const encodings = value['encodings'] ?? {};
    if (
      !isRecord(encodings) ||
      Object.entries(encodings).some(([name, size]) => (name !== 'br' && name !== 'gzip') || !isSize(size))
    )
      return undefined;
    entries.push({
      path: value['path'],
      size: value['size'],
      ...(encodings['br'] !== undefined ? { br: encodings['br'] as number } : {}),
      ...(encodings['gzip'] !== undefined ? { gzip: encodings['gzip'] as number } : {}),
    });
  }
  return { build: raw['build'], entries };
}

/** The build collectRoot holds, when it holds a usable one (verify --published also runs where it does not). */
async function localBuild(collectRoot: string, display: string): Promise<string | undefined> {
  try {
    await realpath(collectRoot);
    return (await readCollected(collectRoot, display)).id;
  } catch {
    return undefined;
  }
}

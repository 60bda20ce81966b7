/**
 * media:verify --collect: read-only checks of a collect build, as a deploy
 * step would want them: every file manifest.json names is there with its
 * size and SRI integrity (and its original name holds the same bytes), each
 * .br/.gz decompresses to its file, no stylesheet references a file that is
 * not there; with --url, the server answers each fingerprinted URL with 2xx
 * and the Content-Type its extension calls for.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import pMap from 'p-map';
import { loadConfig } from '../core/config/load.js';
import { discoverApps } from '../core/discover.js';
import { realPaths } from '../core/fs/real-paths.js';
import { realpathOfPath } from '../core/fs/real-paths.js';
import { sourceFacts } from '../core/media-folder.js';
import { appReport, logReport, verifyReport } from '../core/report.js';
import { checkBaseUrl, servedUrl } from '../core/served-url.js';
import type { AppReport, Report, RunOptions, VerifyStatus } from '../core/types.js';
import { listSome } from '../core/util/list.js';
import { lookAt, readRegular } from './disk.js';
import { findReferences, resolveReference } from './css-references.js';
import { readManifestFile, type ManifestEntry } from './manifest.js';
import { MANIFEST_NAME } from './names.js';
import { extensionOf, isStylesheet } from './plan.js';
import { HashFailure, WorkPool, type FileHashes } from './pool.js';
import { collectSettings } from './settings.js';

/** The Content-Type (essence) a server should send for each extension; several are accepted for some. */
const CONTENT_TYPES: Record<string, readonly string[]> = {
  css: ['text/css'],
  js: ['text/javascript', 'application/javascript', 'application/x-javascript'],
  mjs: ['text/javascript', 'application/javascript'],
  json: ['application/json'],
  map: ['application/json', 'application/octet-stream'],
  svg: ['image/svg+xml'],
  png: ['image/png'],
  jpg: ['image/jpeg'],
  jpeg: ['image/jpeg'],
  gif: ['image/gif'],
  webp: ['image/webp'],
  avif: ['image/avif'],
  ico: ['image/x-icon', 'image/vnd.microsoft.icon'],
  woff: ['font/woff', 'application/font-woff'],
  woff2: ['font/woff2', 'application/font-woff2'],
  ttf: ['font/ttf', 'application/x-font-ttf', 'font/sfnt'],
  otf: ['font/otf', 'application/x-font-opentype', 'font/sfnt'],
  html: ['text/html'],
  txt: ['text/plain'],
  xml: ['application/xml', 'text/xml'],
  wasm: ['application/wasm'],
  webmanifest: ['application/manifest+json'],
};

export function expectedContentTypes(name: string): readonly string[] | undefined {
  return CONTENT_TYPES[extensionOf(name)];
}

interface AppFinding {
  status: VerifyStatus;
  problems: string[];
  files: number;
  bytes: number;
}

const RANK: Record<string, number> = { ok: 0, unserved: 1, drift: 2, missing: 3, escape: 4 };

export async function verifyCollect(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  if (options.url !== undefined) checkBaseUrl(options.url);
  const config = await loadConfig(options);
  const settings = collectSettings(config, options);
  const apps = discoverApps(config);
  const root = settings.realRoot;
  const manifest = readManifestFile(path.join(root, MANIFEST_NAME), `${settings.shown}/${MANIFEST_NAME}`);
  const findings = new Map<string, AppFinding>();
  const finding = (name: string): AppFinding => {
    let found = findings.get(name);
    if (!found) {
      found = { status: 'ok', problems: [], files: 0, bytes: 0 };
      findings.set(name, found);
    }
    return found;
  };
  const flag = (app: string, status: VerifyStatus, problem: string): void => {
    const found = finding(app);
    if ((RANK[status] ?? 0) > (RANK[found.status] ?? 0)) found.status = status;
    found.problems.push(problem);
  };
  const at = (rel: string): string => path.join(root, ...rel.split('/'));
  const published = new Set<string>();
  for (const entry of manifest.files.values()) published.add(entry.path);

  const pool = new WorkPool();
  try {
    await pMap(
      [...manifest.files],
      async ([logical, entry]) => {
        const app = logical.split('/')[0] as string;
        finding(app);
        let hashes: FileHashes;
        try {
          hashes = await pool.hashFile(at(entry.path), entry.size);
        } catch (error) {
          if (error instanceof HashFailure && error.code === 'ENOENT') flag(app, 'missing', `${entry.path} is missing`);
          else
            flag(
              app,
              'drift',
              `${entry.path}: ` +
                `${error instanceof HashFailure && error.kind ? `is ${error.kind}` : String((error as Error).message)}`,
            );
          return;
        }
        const found = finding(app);
        found.files++;
        found.bytes += hashes.size;
        if (hashes.size !== entry.size || hashes.integrity !== entry.integrity) {
          flag(
            app,
            'drift',
            `${entry.path} does not match the manifest (` +
              `${hashes.size !== entry.size ? `${hashes.size} bytes, not ${entry.size}` : 'its integrity differs'})`,
          );
          return;
        }
        if (settings.keepOriginals) {
          const original = lookAt(at(logical));
          if (!original) flag(app, 'missing', `${logical} (the original name) is missing`);
          else if (!original.isFile() || original.size !== entry.size || sha256Of(at(logical)) !== hashes.sha256)
            flag(app, 'drift', `${logical} (the original name) does not hold the same bytes as ${entry.path}`);
        }
        checkVariants(app, logical, entry, hashes.sha256, settings.keepOriginals, at, flag);
        if (isStylesheet(logical)) checkReferences(app, entry, settings.mediaUrl, at, published, flag);
      },
      { concurrency: 16 },
    );
  } finally {
    await pool.close();
  }

  // A media folder that leads out of its app (a link) is never collected; what the build holds of
  // it came from somewhere else, or from before: reported as link's verify does.
  const realOf = realPaths([[path.resolve(config.projectRoot), realpathOfPath(config.projectRoot)]]);
  for (const app of apps) {
    const source = sourceFacts(app, realOf);
    if (source.kind === 'escape') {
      flag(
        app.name,
        'escape',
        `${app.mediaDirname}/${app.name}/ leads outside the app's folder (to ${source.real ?? '?'}): ` +
          `media:collect publishes nothing of it`,
      );
      continue;
    }
    if (findings.has(app.name)) continue;
    const media = lookAt(app.mediaDir);
    if (media) flag(app.name, 'missing', 'none of its files is in the build: run media:collect');
  }
  if (options.url !== undefined) await checkUrls(manifest.files, options.url, config.mediaUrl, flag);

  const configured = new Set(apps.map((app) => app.name));
  const reports: AppReport[] = [...findings]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, found]) =>
      appReport(config.projectRoot, settings.collectRoot, {
        name,
        status: found.status,
        mode: null,
        source: apps.find((app) => app.name === name)?.mediaDir ?? null,
        files: found.files,
        bytes: found.bytes,
        reason:
          found.problems.length > 0
            ? listSome(found.problems)
            : configured.has(name)
              ? null
              : 'in the build, but no longer configured',
        hint:
          found.status === 'ok'
            ? null
            : found.status === 'escape'
              ? 'replace the link with the folder itself, inside the app, then run media:collect'
              : found.status === 'unserved'
                ? 'check that the server serves collectRoot at mediaUrl, with its own Content-Type for each extension'
                : 'run media:collect to write the build again (a file changed by hand is kept: move it away first)',
      }),
    );
  const report = verifyReport(config, started, reports);
  report.collectRoot = settings.shown;
  report.build = manifest.build;
  logReport(report, options.logger, options.verbose ?? false);
  return report;
}

function sha256Of(file: string): string | undefined {
  try {
    return createHash('sha256').update(readRegular(file).data).digest('hex');
  } catch {
    return undefined;
  }
}

function checkVariants(
  app: string,
  logical: string,
  entry: ManifestEntry,
  sha256: string,
  originals: boolean,
  at: (rel: string) => string,
  flag: (app: string, status: VerifyStatus, problem: string) => void,
): void {
  for (const [encoding, size] of Object.entries(entry.encodings ?? {})) {
    const suffix = encoding === 'br' ? '.br' : '.gz';
    for (const name of [`${entry.path}${suffix}`, ...(originals ? [`${logical}${suffix}`] : [])]) {
      let data: Buffer;
      try {
        data = readRegular(at(name)).data;
      } catch (error) {
        flag(
          app,
          (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'drift',
          `${name} is ` +
            `${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'not a readable regular file'}`,
        );
        continue;
      }
      if (name === `${entry.path}${suffix}` && data.length !== size) {
        flag(app, 'drift', `${name} is ${data.length} bytes, the manifest says ${size}`);
        continue;
      }
      let plain: Buffer;
      try {
        plain = encoding === 'br' ? zlib.brotliDecompressSync(data) : zlib.gunzipSync(data);
      } catch {
        flag(app, 'drift', `${name} does not decompress`);
        continue;
      }
      if (createHash('sha256').update(plain).digest('hex') !== sha256)
        flag(app, 'drift', `${name} does not decompress to ${entry.path}`);
    }
  }
}

function checkReferences(
  app: string,
  entry: ManifestEntry,
  mediaUrl: string,
  at: (rel: string) => string,
  published: ReadonlySet<string>,
  flag: (app: string, status: VerifyStatus, problem: string) => void,
): void {
  let bytes: Buffer;
  try {
    bytes = readRegular(at(entry.path)).data;
  } catch {
    return; // reported above
  }
  for (const ref of findReferences(bytes).references) {
    const target = resolveReference(ref.value, entry.path, mediaUrl);
    if (target.kind !== 'local') continue;
    if (published.has(target.logical)) continue;
    const stat = lookAt(at(target.logical));
    if (!stat?.isFile())
      flag(app, 'missing', `${entry.path}:${ref.line} references ${target.logical}, which is not in the build`);
  }
}

async function checkUrls(
  files: ReadonlyMap<string, ManifestEntry>,
  base: string,
  mediaUrl: string,
  flag: (app: string, status: VerifyStatus, problem: string) => void,
): Promise<void> {
  await pMap(
    [...files],
    async ([logical, entry]) => {
      const app = logical.split('/')[0] as string;
      const slash = entry.path.indexOf('/');
      const url = servedUrl(base, mediaUrl, entry.path.slice(0, slash), entry.path.slice(slash + 1));
      try {
        const response = await fetch(url, {
          signal: AbortSignal.timeout(10_000),
          headers: { 'accept-encoding': 'identity' },
        });
        await response.body?.cancel();
        if (!response.ok) {
          flag(app, 'unserved', `GET ${url} answered ${response.status}`);
          return;
        }
        const expected = expectedContentTypes(entry.path);
        const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        if (expected && !expected.includes(type))
          flag(app, 'unserved', `GET ${url} answered Content-Type ${type || '(none)'}, not ${expected[0]}`);
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
        flag(app, 'unserved', `GET ${url} failed (${cause})`);
      }
    },
    { concurrency: 8 },
  );
}

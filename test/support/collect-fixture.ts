/**
 * Writes collectRoot as the collect/publish contract says media:collect does
 * (hashed copies, originals, .br/.gz beside compressible files when smaller,
 * manifest.json last, .app-media-collect.json records with the builds, newest first,
 * at most keep + 1), from a plain map of logical paths to bytes. Real files with real
 * sha256 and SRI. media:publish's tests of a normal publish run the real
 * media:collect; this writer stays for what collect never writes: outputs that a test
 * then breaks on purpose (hostile records and manifests), and keys chosen byte for
 * byte (a multipart-sized file without compressing it, chosen names).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';

export interface CollectFixtureOptions {
  hashLength?: number;
  keepOriginals?: boolean;
  /** Earlier builds kept (default 2). */
  keep?: number;
  revManifest?: boolean;
  /** Whether to write .br/.gz variants (default true). */
  compress?: boolean;
  /** The build's time (default: now). */
  at?: string;
}

interface RecordEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
  immutable: boolean;
  encoding?: 'br' | 'gzip';
  of?: string;
}

interface Records {
  tool: 'gulp-app-media';
  kind: 'collect';
  version: 1;
  files: Record<string, RecordEntry>;
  builds: Array<{ id: string; at: string; files: string[] }>;
}

const COMPRESSIBLE = new Set(['css', 'js', 'mjs', 'svg', 'json', 'map', 'txt', 'html', 'xml']);

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** JSON with every object's keys sorted, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface CollectedFixture {
  build: string;
  /** Every file of the build, relative to collectRoot. */
  files: string[];
  /** logical path → hashed path. */
  hashed: Record<string, string>;
}

/** Writes (or adds a build to) collectRoot from `{ 'blog/css/site.css': 'body{}' }`. */
export function writeCollected(
  collectRoot: string,
  sources: Record<string, string | Buffer | { file: string }>,
  options: CollectFixtureOptions = {},
): CollectedFixture {
  const hashLength = options.hashLength ?? 10;
  const keep = options.keep ?? 2;
  const recordsFile = path.join(collectRoot, '.app-media-collect.json');
  const records: Records = existsSync(recordsFile)
    ? (JSON.parse(readFileSync(recordsFile, 'utf8')) as Records)
    : { tool: 'gulp-app-media', kind: 'collect', version: 1, files: {}, builds: [] };
  const buildFiles: string[] = [];
  const manifestFiles: Record<string, unknown> = {};
  const hashed: Record<string, string> = {};
  const write = (rel: string, bytes: Buffer, entry: Omit<RecordEntry, 'size' | 'mtimeMs' | 'sha256'>): void => {
    const file = path.join(collectRoot, ...rel.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.fixture-tmp`;
    writeFileSync(temp, bytes);
    renameSync(temp, file);
    records.files[rel] = { size: bytes.length, mtimeMs: statSync(file).mtimeMs, sha256: sha256(bytes), ...entry };
    buildFiles.push(rel);
  };
  for (const logical of Object.keys(sources).sort()) {
    const source = sources[logical] as string | Buffer | { file: string };
    // A file named by path is read when its turn comes (the bench's 800 MiB are never all in memory).
    const bytes = typeof source === 'object' && 'file' in source ? readFileSync(source.file) : Buffer.from(source);
    const slash = logical.lastIndexOf('/');
    const dir = logical.slice(0, slash + 1);
    const name = logical.slice(slash + 1);
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 ? name.slice(dot + 1) : '';
    const base = dot > 0 ? name.slice(0, dot) : name;
    const hashedRel = `${dir}${base}.${sha256(bytes).slice(0, hashLength)}${ext ? `.${ext}` : ''}`;
    hashed[logical] = hashedRel;
    const variants: Array<['br' | 'gzip', Buffer]> = [];
    if ((options.compress ?? true) && COMPRESSIBLE.has(ext)) {
      const br = brotliCompressSync(bytes, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } });
      const gz = gzipSync(bytes);
      if (br.length < bytes.length) variants.push(['br', br]);
      if (gz.length < bytes.length) variants.push(['gzip', gz]);
    }
    const names = [[hashedRel, true] as const, ...(options.keepOriginals === false ? [] : [[logical, false] as const])];
    for (const [rel, immutable] of names) {
      write(rel, bytes, { immutable });
      for (const [encoding, packed] of variants)
        write(`${rel}.${encoding === 'br' ? 'br' : 'gz'}`, packed, { immutable, encoding, of: rel });
    }
    const hashedEntry = records.files[hashedRel] as RecordEntry;
    manifestFiles[logical] = {
      path: hashedRel,
      size: hashedEntry.size,
      integrity: `sha384-${createHash('sha384').update(bytes).digest('base64')}`,
      ...(variants.length > 0
        ? { encodings: Object.fromEntries(variants.map(([encoding, packed]) => [encoding, packed.length])) }
        : {}),
    };
  }
  const sortedEntries = Object.keys(manifestFiles)
    .sort()
    .map((name) => [name, manifestFiles[name]]);
  // As collect names a build (docs/collect-format.md, notes): "files" as compact JSON, keys sorted at every level.
  const build = sha256(canonicalJson(Object.fromEntries(sortedEntries))).slice(0, 16);
  const builds = [
    { id: build, at: options.at ?? new Date().toISOString(), files: [...new Set(buildFiles)].sort() },
    ...records.builds.filter((earlier) => earlier.id !== build),
  ];
  records.builds = builds.slice(0, keep + 1);
  // Collect's own pruning: files of builds no longer kept, unless another kept build has them.
  const kept = new Set(records.builds.flatMap((kept) => kept.files));
  for (const rel of Object.keys(records.files)) {
    if (kept.has(rel)) continue;
    const file = path.join(collectRoot, ...rel.split('/'));
    if (existsSync(file)) unlinkSync(file);
    delete records.files[rel];
  }
  writeFileSync(recordsFile, `${JSON.stringify(records, null, 2)}\n`);
  if (options.revManifest) {
    writeFileSync(
      path.join(collectRoot, 'rev-manifest.json'),
      `${JSON.stringify(
        Object.fromEntries(
          Object.keys(hashed)
            .sort()
            .map((name) => [name, hashed[name]]),
        ),
        null,
        2,
      )}\n`,
    );
  }
  const manifest = { build, files: Object.fromEntries(sortedEntries), version: 1 };
  const temp = path.join(collectRoot, 'manifest.json.fixture-tmp');
  writeFileSync(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temp, path.join(collectRoot, 'manifest.json'));
  return { build, files: records.builds[0]?.files ?? [], hashed };
}

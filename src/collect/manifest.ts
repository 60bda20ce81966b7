/**
 * manifest.json (docs/collect-format.md): what it holds, how it is built
 * from a build's files, and how it is read back. Read back, it is untrusted
 * input like every file on disk: a path that is not a plain relative path, a
 * size that is not a whole number, an integrity that is not SHA-384 makes the
 * whole manifest unusable, never a path joined.
 */
import { createHash } from 'node:crypto';
import { readRegular } from './disk.js';
import { isPlainRelPath } from './names.js';
import { errors } from '../core/errors.js';

export interface ManifestEntry {
  /** The fingerprinted path, relative to collectRoot. */
  path: string;
  size: number;
  /** `sha384-<base64>`. */
  integrity: string;
  /** Sizes of the pre-compressed variants beside the file. */
  encodings?: { br?: number; gzip?: number };
}

export interface MediaManifest {
  version: 1;
  build: string;
  files: Map<string, ManifestEntry>;
}

const INTEGRITY = /^sha384-[A-Za-z0-9+/]{64}$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isSize = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The manifest's text for these entries (keys sorted at every level, pretty), and its build id. */
export function manifestOf(entries: ReadonlyMap<string, ManifestEntry>): { text: string; build: string } {
  const files: Record<string, unknown> = {};
  for (const name of [...entries.keys()].sort()) {
    const entry = entries.get(name) as ManifestEntry;
    const encodings: Record<string, number> = {};
    if (entry.encodings?.br !== undefined) encodings['br'] = entry.encodings.br;
    if (entry.encodings?.gzip !== undefined) encodings['gzip'] = entry.encodings.gzip;
    files[name] = {
      ...(Object.keys(encodings).length > 0 ? { encodings } : {}),
      integrity: entry.integrity,
      path: entry.path,
      size: entry.size,
    };
  }
  // The build id: the first 16 hex of the SHA-256 of the "files" object as compact JSON, keys sorted.
  const build = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
  return { text: `${JSON.stringify({ build, files, version: 1 }, null, 2)}\n`, build };
}

/** Checks a parsed manifest: the manifest, or why it cannot be used. */
export function parseManifest(raw: unknown): MediaManifest | string {
  if (!isObject(raw)) return 'it is not a JSON object';
  if (raw['version'] !== 1) return `its "version" ${JSON.stringify(raw['version'])} is not 1`;
  if (typeof raw['build'] !== 'string' || !/^[0-9a-f]{16}$/.test(raw['build']))
    return '"build" is not 16 hex characters';
  if (!isObject(raw['files'])) return '"files" is not an object';
  const files = new Map<string, ManifestEntry>();
  for (const [name, entry] of Object.entries(raw['files'])) {
    if (!isPlainRelPath(name)) return `${JSON.stringify(name)} is not a plain relative path`;
    if (!isObject(entry)) return `"${name}" is not an object`;
    const { path, size, integrity, encodings } = entry;
    if (!isPlainRelPath(path)) return `"${name}".path is not a plain relative path`;
    if (!isSize(size)) return `"${name}".size is not a whole number`;
    if (typeof integrity !== 'string' || !INTEGRITY.test(integrity))
      return `"${name}".integrity is not sha384-<base64>`;
    const out: ManifestEntry = { path, size, integrity };
    if (encodings !== undefined) {
      if (
        !isObject(encodings) ||
        Object.entries(encodings).some(([key, value]) => (key !== 'br' && key !== 'gzip') || !isSize(value))
      )
        return `"${name}".encodings is not { br?, gzip? } sizes`;
      out.encodings = encodings;
    }
    files.set(name, out);
  }
  return { version: 1, build: raw['build'], files };
}

/** Reads and checks a manifest file (no link followed, at most 256 MiB); a coded error when it is unusable. */
export function readManifestFile(file: string, shown = file): MediaManifest {
  let text: string;
  try {
    text = readRegular(file, 256 * 1024 * 1024).data.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw errors.badManifest(
      shown,
      code === 'ENOENT'
        ? 'there is no such file (run media:collect first)'
        : `it cannot be read (${code ?? String(error)})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw errors.badManifest(shown, 'it is not JSON');
  }
  const parsed = parseManifest(raw);
  if (typeof parsed === 'string') throw errors.badManifest(shown, parsed);
  return parsed;
}

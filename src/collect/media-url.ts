/**
 * createMediaUrl(): what pages and servers use to turn a published path
 * (`blog/css/site.css`) into the URL to write in HTML, from the manifest of
 * a collect build: the fingerprinted URL and its SRI integrity. Without a
 * manifest (development, where media:link serves the files as they are) it
 * gives the plain `<mediaUrl><path>`.
 */
import path from 'node:path';
import { errors } from '../core/errors.js';
import { nearest } from '../core/util/nearest.js';
import { parseManifest, readManifestFile, type ManifestEntry, type MediaManifest } from './manifest.js';

export interface MediaUrlOptions {
  /**
   * The manifest: a path to `manifest.json` (read once, now), its parsed JSON, or null/undefined for
   * development (plain URLs).
   */
  manifest?: string | Record<string, unknown> | null | undefined;
  /** The public URL prefix of the media (default `/media/`); may be a full URL (`https://cdn.example.com/media/`). */
  mediaUrl?: string;
  /** What a relative manifest path resolves against (default: the current folder). */
  cwd?: string;
}

export interface MediaAsset {
  url: string;
  /** `sha384-...` for the integrity attribute; undefined without a manifest. */
  integrity: string | undefined;
  /** The fingerprinted path (the path itself without a manifest). */
  path: string;
  size: number | undefined;
}

export interface MediaUrl {
  /** The URL of a published path; throws APP_MEDIA_NOT_IN_MANIFEST, naming the nearest known path, for a miss. */
  (name: string): string;
  integrity(name: string): string | undefined;
  asset(name: string): MediaAsset;
  has(name: string): boolean;
  /** The manifest's build id, or null without a manifest. */
  readonly build: string | null;
}

/** `blog/css/site.css` and `/blog/css/site.css` alike. */
function clean(name: string): string {
  return name.replace(/^\/+/, '');
}

function joinUrl(mediaUrl: string, rel: string): string {
  const prefix = mediaUrl.endsWith('/') ? mediaUrl : `${mediaUrl}/`;
  return `${prefix}${rel.split('/').map(encodeURIComponent).join('/')}`;
}

export function createMediaUrl(options: MediaUrlOptions = {}): MediaUrl {
  const mediaUrl = options.mediaUrl ?? '/media/';
  let manifest: MediaManifest | undefined;
  let shown = 'manifest.json';
  if (typeof options.manifest === 'string') {
    const file = path.resolve(options.cwd ?? process.cwd(), options.manifest);
    shown = options.manifest;
    manifest = readManifestFile(file, shown);
  } else if (options.manifest !== null && options.manifest !== undefined) {
    const parsed = parseManifest(options.manifest);
    if (typeof parsed === 'string') throw errors.badManifest('the manifest given', parsed);
    manifest = parsed;
  }
  const known = manifest ? [...manifest.files.keys()] : [];
  const entryOf = (name: string): ManifestEntry => {
    const key = clean(name);
    const entry = manifest?.files.get(key);
    if (!entry) throw errors.notInManifest(key, shown, nearest(key, known) ?? nearestByBase(key, known));
    return entry;
  };
  const asset = (name: string): MediaAsset => {
    if (!manifest)
      return { url: joinUrl(mediaUrl, clean(name)), integrity: undefined, path: clean(name), size: undefined };
    const entry = entryOf(name);
    return { url: joinUrl(mediaUrl, entry.path), integrity: entry.integrity, path: entry.path, size: entry.size };
  };
  const resolve = ((name: string): string => asset(name).url) as MediaUrl;
  Object.defineProperties(resolve, {
    integrity: { value: (name: string): string | undefined => asset(name).integrity },
    asset: { value: asset },
    has: { value: (name: string): boolean => (manifest ? manifest.files.has(clean(name)) : true) },
    build: { value: manifest?.build ?? null },
  });
  return resolve;
}

/** A miss whose file name is known under another folder (a moved file): that path. */
function nearestByBase(name: string, known: readonly string[]): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const same = known.filter((candidate) => candidate.slice(candidate.lastIndexOf('/') + 1) === base);
  return same.length === 1 ? same[0] : undefined;
}

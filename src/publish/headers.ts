/**
 * The HTTP headers each object is stored with: Content-Type by extension (a
 * `.br` or `.gz` variant has its file's type and a Content-Encoding),
 * Cache-Control by whether the name is content-hashed. mime-types is the table
 * every Node web server (express, serve-static) reads, so the bucket answers as
 * those servers would.
 */
import mime from 'mime-types';

export const DEFAULT_CACHE_CONTROL = {
  /** Fingerprinted names: their bytes never change under that name. */
  immutable: 'public, max-age=31536000, immutable',
  /** Plain names and the manifest: overwritten by the next build, so a short life. */
  mutable: 'public, max-age=60',
} as const;

export interface CacheControl {
  immutable: string;
  mutable: string;
}

export interface ObjectHeaders {
  contentType: string;
  cacheControl: string;
  contentEncoding?: 'br' | 'gzip';
}

const ENCODINGS = { br: 'br', gz: 'gzip' } as const;

/** The encoding a variant's name says (`site.css.br` → br), if any. */
export function variantEncoding(rel: string): 'br' | 'gzip' | undefined {
  const ext = rel.slice(rel.lastIndexOf('.') + 1);
  return ext === 'br' || ext === 'gz' ? ENCODINGS[ext] : undefined;
}

/**
 * Headers of the object at `rel` (relative to the prefix). `encoding` comes from the
 * collect records (a variant of `of`); a plain `.gz` file that is not a recorded variant
 * (a downloadable archive) is stored as what it is.
 */
export function headersFor(
  rel: string,
  immutable: boolean,
  cacheControl: CacheControl,
  encoding?: 'br' | 'gzip',
): ObjectHeaders {
  const named = encoding ? rel.slice(0, rel.lastIndexOf('.')) : rel;
  const base = named.slice(named.lastIndexOf('/') + 1);
  const contentType = mime.contentType(base) || 'application/octet-stream';
  return {
    contentType,
    cacheControl: immutable ? cacheControl.immutable : cacheControl.mutable,
    ...(encoding ? { contentEncoding: encoding } : {}),
  };
}

/**
 * collect's steps as gulp plugins (through2 object-mode transforms), for a
 * pipeline of your own:
 *
 *     mediaSrc()
 *       .pipe(postcss([cssnano()]))       // anything that changes contents
 *       .pipe(rewriteReferences())        // stylesheets' url()/@import → fingerprinted names
 *       .pipe(fingerprint())              // site.css → site.<hash>.css (and the original)
 *       .pipe(compress())                 // .br and .gz beside compressible files
 *       .pipe(gulp.dest('dist/media'))
 *       .pipe(manifest())                 // manifest.json of what went through
 *       .pipe(gulp.dest('dist/media'));
 *
 * The same code as media:collect names, rewrites and compresses with, so a
 * file gets the same name either way. What a pipeline does not get is what
 * the task adds around it: records of what it wrote, the keep window, crash
 * and race safety (gulp.dest writes over whatever is there).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Transform } from 'node:stream';
import type Vinyl from 'vinyl';
import { errors } from '../core/errors.js';
import { defaults } from '../core/options.js';
import { manifestOf, type ManifestEntry } from './manifest.js';
import { hashedPath } from './names.js';
import { isCompressible, isStylesheet } from './plan.js';
import { compressHere, WorkPool, type Levels } from './pool.js';
import { renderStylesheets, type Stylesheet } from './render.js';

const require = createRequire(import.meta.url);
type Through2 = typeof import('through2');
const through2 = (): Through2 => require('through2') as Through2;
const VinylClass = (): typeof Vinyl => require('vinyl') as typeof Vinyl;

/** What the steps note on each file (`file.appMedia`). */
export interface AppMediaFileInfo {
  /** The published path before fingerprinting: `blog/css/site.css`. */
  logical: string;
  /** The hash its name gets (set by rewriteReferences for stylesheets, else by fingerprint). */
  hash?: string;
  /** The fingerprinted path, set by fingerprint(). */
  hashed?: string;
  /** This file is the copy under the original name (fingerprint's keepOriginals). */
  original?: boolean;
  size?: number;
  integrity?: string;
  /** Sizes of the .br/.gz variants made by compress(). */
  encodings?: { br?: number; gzip?: number };
  /** A variant made by compress(): its encoding and the path it is a variant of. */
  encoding?: 'br' | 'gzip';
  variantOf?: string;
}

type MediaFile = Vinyl & { appMedia?: AppMediaFileInfo };

function relativeOf(file: Vinyl): string {
  return file.relative.split(path.sep).join('/');
}

function pluginError(message: string): Error {
  return Object.assign(new Error(message), { plugin: 'gulp-app-media' });
}

function sha(data: Buffer, algorithm = 'sha256', encoding: 'hex' | 'base64' = 'hex'): string {
  return createHash(algorithm).update(data).digest(encoding);
}

export interface RewriteOptions {
  /** Public URL prefix: references under it are rewritten too (default `/media/`). */
  mediaUrl?: string;
  /** Hex characters of the hash in names (default 10): the same as fingerprint()'s. */
  hashLength?: number;
  /** A reference to a file not in the stream fails the stream, instead of a warning. */
  strict?: boolean;
  /** Told of each reference to a file not in the stream (default: a warning through gulplog). */
  onMissing?: (where: string) => void;
}

/**
 * Holds every file until the stream ends (a stylesheet may reference any other file), then
 * rewrites each stylesheet's references to the fingerprinted names the referenced files will get,
 * in dependency order, and lets them all through. Must come before fingerprint().
 */
export function rewriteReferences(options: RewriteOptions = {}): Transform {
  const held: MediaFile[] = [];
  const hashLength = options.hashLength ?? defaults.hashLength;
  return through2().obj(
    function hold(file: MediaFile, _encoding, callback) {
      if (file.isNull()) return callback(null, file);
      if (file.isStream())
        return callback(
          pluginError('rewriteReferences() needs buffered files (gulp.src and mediaSrc buffer by default)'),
        );
      if (file.appMedia?.hashed)
        return callback(
          pluginError(
            `rewriteReferences() must come before fingerprint(): ${relativeOf(file)} is already fingerprinted`,
          ),
        );
      held.push(file);
      callback();
    },
    function release(done: (error?: unknown) => void) {
      try {
        const byLogical = new Map<string, MediaFile>();
        const sheets = new Map<string, Stylesheet>();
        for (const file of held) {
          const logical = file.appMedia?.logical ?? relativeOf(file);
          byLogical.set(logical, file);
          file.appMedia = { ...file.appMedia, logical };
          if (isStylesheet(logical)) {
            const bytes = file.contents as Buffer;
            sheets.set(logical, { logical, sourceSha: sha(bytes), bytes });
          } else {
            file.appMedia.hash = sha(file.contents as Buffer).slice(0, hashLength);
          }
        }
        renderStylesheets(sheets, {
          mediaUrl: options.mediaUrl ?? defaults.mediaUrl,
          hashLength,
          nameHashOf: (logical) => (sheets.has(logical) ? undefined : byLogical.get(logical)?.appMedia?.hash),
          load: (sheet) => sheet.bytes as Buffer,
        });
        const missing: string[] = [];
        for (const [logical, sheet] of sheets) {
          const file = byLogical.get(logical) as MediaFile;
          file.contents = sheet.final as Buffer;
          (file.appMedia as AppMediaFileInfo).hash = sheet.nameHash as string;
          for (const [line, ref] of sheet.missing ?? []) missing.push(`${logical}:${line}: ${ref}`);
        }
        if (missing.length > 0 && options.strict) throw errors.missingReference(missing);
        for (const where of missing) {
          if (options.onMissing) options.onMissing(where);
          else
            void import('gulplog').then(({ default: log }) =>
              log.warn(`${where}: no such file in the stream (left as written)`),
            );
        }
        for (const file of held.splice(0)) this.push(file);
        done();
      } catch (error) {
        done(error);
      }
    },
  );
}

export interface FingerprintOptions {
  /** Hex characters of the content hash (default 10). */
  hashLength?: number;
  /** Also let each file through under its original name (default true, as media:collect). */
  keepOriginals?: boolean;
}

/** Renames each file to `<name>.<hash>.<ext>` (SHA-256 of its contents, or the hash rewriteReferences chose). */
export function fingerprint(options: FingerprintOptions = {}): Transform {
  const hashLength = options.hashLength ?? defaults.hashLength;
  const keepOriginals = options.keepOriginals ?? defaults.keepOriginals;
  return through2().obj(function rename(file: MediaFile, _encoding, callback) {
    if (file.isNull() || file.appMedia?.hashed || file.appMedia?.variantOf) return callback(null, file);
    if (file.isStream()) return callback(pluginError('fingerprint() needs buffered files'));
    const contents = file.contents as Buffer;
    const logical = file.appMedia?.logical ?? relativeOf(file);
    const digest = sha(contents);
    const hash = file.appMedia?.hash ?? digest.slice(0, hashLength);
    const info: AppMediaFileInfo = {
      ...file.appMedia,
      logical,
      hash,
      hashed: hashedPath(logical, hash),
      size: contents.length,
      integrity: `sha384-${sha(contents, 'sha384', 'base64')}`,
    };
    if (keepOriginals) {
      const original = file.clone({ contents: false });
      original.appMedia = { ...info, original: true };
      this.push(original);
    }
    file.path = path.join(file.base, ...(info.hashed as string).split('/'));
    file.appMedia = info;
    callback(null, file);
  });
}

export interface CompressOptions {
  /** brotli quality 0-11, or null for no .br (default 11). */
  brotli?: number | null;
  /** gzip level 1-9, or null for no .gz (default 9). */
  gzip?: number | null;
}

/**
 * Lets each file through, followed by its `.br` and `.gz` variants where the type compresses
 * and the variant is smaller. The work runs on a pool of worker threads (one per core); files
 * come out as they are done.
 */
export function compress(options: CompressOptions = {}): Transform {
  const levels: Levels = {
    brotli: options.brotli === undefined ? defaults.brotliLevel : options.brotli,
    gzip: options.gzip === undefined ? defaults.gzipLevel : options.gzip,
  };
  let pool: WorkPool | undefined;
  let inFlight = 0;
  let failure: unknown;
  let waiting: (() => void) | undefined;
  const limit = 16;
  const settle = (): void => {
    inFlight--;
    const wake = waiting;
    waiting = undefined;
    wake?.();
  };
  return through2().obj(
    function take(file: MediaFile, _encoding, callback) {
      if (failure) return callback(failure);
      if (
        file.isNull() ||
        file.appMedia?.variantOf ||
        !isCompressible(file.path) ||
        (levels.brotli === null && levels.gzip === null)
      )
        return callback(null, file);
      if (file.isStream()) return callback(pluginError('compress() needs buffered files'));
      const contents = file.contents as Buffer;
      inFlight++;
      const job =
        contents.length < 16 * 1024
          ? Promise.resolve(compressHere(contents, levels))
          : (pool ??= new WorkPool()).compress(contents, levels);
      job
        .then(
          (result) => {
            const info: AppMediaFileInfo = { ...file.appMedia, logical: file.appMedia?.logical ?? relativeOf(file) };
            info.encodings = {};
            const variants: MediaFile[] = [];
            for (const encoding of ['br', 'gzip'] as const) {
              const part = result[encoding];
              if (!part) continue;
              info.encodings[encoding] = part.data.length;
              const variant = new (VinylClass())({
                cwd: file.cwd,
                base: file.base,
                path: `${file.path}${encoding === 'br' ? '.br' : '.gz'}`,
                contents: part.data,
              }) as MediaFile;
              if (file.stat) variant.stat = file.stat;
              variant.appMedia = {
                logical: info.logical,
                encoding,
                variantOf: relativeOf(file),
                size: part.data.length,
              };
              variants.push(variant);
            }
            file.appMedia = info;
            this.push(file);
            for (const variant of variants) this.push(variant);
          },
          (error: unknown) => {
            failure = error;
          },
        )
        .finally(settle);
      if (inFlight < limit) return callback();
      waiting = () => callback(failure);
    },
    function end(done: (error?: unknown) => void) {
      const finish = (): void => {
        if (inFlight > 0) {
          waiting = finish;
          return;
        }
        void pool?.close();
        done(failure);
      };
      finish();
    },
  );
}

export interface ManifestOptions {
  /** The manifest's path, relative to the destination (default `manifest.json`). */
  path?: string;
  /** Also a gulp-rev compatible `rev-manifest.json` (default false). */
  revManifest?: boolean;
}

/**
 * Takes in the files of a fingerprinted stream (after gulp.dest, say) and lets out only
 * `manifest.json` (and `rev-manifest.json`), in media:collect's format.
 */
export function manifest(options: ManifestOptions = {}): Transform {
  const entries = new Map<string, ManifestEntry>();
  const variants: MediaFile[] = [];
  let first: MediaFile | undefined;
  return through2().obj(
    function note(file: MediaFile, _encoding, callback) {
      if (file.isNull()) return callback();
      first ??= file;
      const info = file.appMedia;
      if (info?.variantOf) variants.push(file);
      else if (info?.hashed && !info.original) {
        entries.set(info.logical, {
          path: info.hashed,
          size: info.size as number,
          integrity: info.integrity as string,
        });
      }
      callback();
    },
    function write(done) {
      for (const variant of variants) {
        const info = variant.appMedia as AppMediaFileInfo;
        const entry = entries.get(info.logical);
        if (entry && entry.path === info.variantOf)
          entry.encodings = { ...entry.encodings, [info.encoding as string]: info.size as number };
      }
      const made = manifestOf(entries);
      const at = (name: string, text: string): Vinyl =>
        new (VinylClass())({
          cwd: first?.cwd ?? process.cwd(),
          base: first?.base ?? process.cwd(),
          path: path.join(first?.base ?? process.cwd(), name),
          contents: Buffer.from(text),
        });
      this.push(at(options.path ?? 'manifest.json', made.text));
      if (options.revManifest) {
        const rev: Record<string, string> = {};
        for (const name of [...entries.keys()].sort()) rev[name] = (entries.get(name) as ManifestEntry).path;
        this.push(at('rev-manifest.json', `${JSON.stringify(rev, null, 2)}\n`));
      }
      done();
    },
  );
}

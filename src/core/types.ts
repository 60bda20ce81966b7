/** Public types: configuration, run options, reports. */
/** Every task, by the name the command and (with `media:`) the gulp tasks use; options.ts has a row for each. */
export type TaskName = 'link' | 'clean' | 'verify' | 'find' | 'watch' | 'collect' | 'publish';

export type Mode = 'auto' | 'symlink' | 'copy';
/** How an entry in mediaRoot was actually made. */
export type EntryMode = 'symlink' | 'junction' | 'copy';

export interface AppEntryObject {
  /** A folder, relative to the file that lists it. */
  path?: string;
  /** An installed package, resolved from the project like `require.resolve`. */
  package?: string;
  name?: string;
  mediaDirname?: string;
}

/** `"./apps/blog"` (a folder), `"@acme/gallery"` (a package) or an object. */
export type AppEntry = string | AppEntryObject;

/** What `app-media.config.json` (or `"appMedia"` in package.json) holds. */
export interface AppMediaConfig {
  $schema?: string;
  mediaRoot: string;
  mediaUrl?: string;
  mediaDirname?: string;
  apps?: AppEntry[];
  discover?: boolean;
  mode?: Mode;
  relative?: boolean;
  ignore?: string[];
  /** media:verify: more globs of published files that look secret (added to the default list). */
  exposed?: string[];
  /** mediaRoot is shared with other users on purpose (uploads): see "Who may write mediaRoot" in docs/safety.md. */
  sharedMediaRoot?: boolean;
  /** media:collect: where the production build is written (never mediaRoot, never inside an app). */
  collectRoot?: string;
  /** media:collect: how many earlier builds stay beside the current one (default 2). */
  keep?: number;
  /** media:collect: also write each file under its original name (default true). */
  keepOriginals?: boolean;
  /** media:collect: hex characters of the content hash in fingerprinted names (default 10). */
  hashLength?: number;
  /** media:collect: write .br and .gz variants of compressible files (default true). */
  compress?: boolean;
  /** media:collect: brotli quality 0-11 (default 11). */
  brotliLevel?: number;
  /** media:collect: gzip level 1-9 (default 9). */
  gzipLevel?: number;
  /** media:collect: also write a gulp-rev compatible rev-manifest.json (default false). */
  revManifest?: boolean;
  /** media:publish: the bucket and prefix. Credentials come from the AWS SDK's chain, never from here. */
  publish?: PublishConfig;
}

export interface PublishConfig {
  bucket: string;
  /** The folder in the bucket the tool owns objects in; "" for the whole bucket. */
  prefix: string;
  /** An S3-compatible store's endpoint (`https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:9000`). */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Cache-Control of hashed names (`immutable`) and of plain names and the manifests (`mutable`). */
  cacheControl?: { immutable?: string; mutable?: string };
  /** Requests in flight at most (default 8). */
  concurrency?: number;
  /** Milliseconds a request may stall before it is abandoned and retried (default 30000). */
  timeout?: number;
  /** Files bigger than this many bytes are uploaded in parts (default 64 MiB). */
  multipartThreshold?: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Colour the status words (the gulp tasks set it on a TTY, never under NO_COLOR). */
  color?: boolean;
}

/** Options of the programmatic API and of the gulp tasks. */
export interface RunOptions extends Partial<AppMediaConfig> {
  /** The project root: where the config is looked for and code paths resolve. Default: `process.cwd()`. */
  cwd?: string;
  /** A config file to use instead of the lookup. */
  config?: string;
  dryRun?: boolean;
  verbose?: boolean;
  /** link: remove the tool's own entries for apps no longer configured (default true). */
  prune?: boolean;
  /** Where the per-app lines go. The gulp tasks pass gulp's logger; the API is silent by default. */
  logger?: Logger;
  /** clean: also remove the tool's copies in which files were changed by hand. */
  force?: boolean;
  /** link: `warn` prints conflicts as clearly but does not fail the run (npm lifecycle scripts); default `fail`. */
  conflicts?: 'warn' | 'fail';
  /** link (copy mode): compare file contents, not size and modification time. */
  checksum?: boolean;
  /** link (copy mode): told after each file written, for a progress display. */
  onProgress?: (progress: { files: number; bytes: number }) => void;
  /** watch: ends the watch when aborted (Ctrl-C does too). */
  signal?: AbortSignal;
  /** verify: a base URL to fetch one file per app from (`http://localhost:8080`). */
  url?: string;
  /** verify --url: how long to wait for each answer, in milliseconds (default 10,000). */
  urlTimeout?: number;
  /** find: the published path to look up, `<name>/css/site.css`. */
  path?: string;
  /** collect: a stylesheet reference to a missing file fails the run (nothing is written) instead of warning. */
  strict?: boolean;
  /** verify: check the media:collect output in collectRoot instead of mediaRoot. */
  collect?: boolean;
  /** verify: check the objects in the bucket (publish) instead of mediaRoot. */
  published?: boolean;
}

export type LinkStatus =
  | 'linked'
  | 'copied'
  | 'up-to-date'
  | 'relinked'
  | 'conflict'
  | 'no-media'
  /** The app's media folder resolves outside the app's folder (a link leading out): nothing published. */
  | 'escape'
  | 'pruned'
  | 'error';

/** What media:verify finds for each app (`ok` and `no-media` pass). */
export type VerifyStatus =
  | 'ok'
  | 'missing'
  | 'wrong-target'
  | 'dangling'
  | 'drift'
  | 'stale'
  | 'conflict'
  | 'escape'
  | 'exposed'
  | 'unserved'
  | 'no-media'
  /** The entry (or the app's media folder) could not be read: nothing can be said of it. */
  | 'error';

/** What media:clean did with each entry of mediaRoot. */
export type CleanStatus =
  /** The tool's own entry, removed. */
  | 'removed'
  /** The tool's own copy, kept: files in it were changed or added by hand. */
  | 'kept'
  /** Not made by the tool: left as it is. */
  | 'foreign'
  | 'error';

/** What media:find says about the path asked for, and each other app's file of that path. */
export type FindStatus =
  /** This app serves the path, from `source`. */
  | 'found'
  /** Another app holds a file at the same path in its media folder; it is not served. */
  | 'shadowed'
  | 'not-found';

/** What media:collect did for each app. */
export type CollectStatus =
  /** Files of the app were written into collectRoot. */
  | 'collected'
  /** Everything of the app was already in collectRoot as the tool wrote it. */
  | 'up-to-date'
  | 'no-media'
  /** Something not made by the tool is where one of the app's files goes: left as it is, nothing written. */
  | 'conflict'
  /** The app's media could not be read (or, with --strict, a stylesheet references a missing file). */
  | 'error'
  /**
   * The app's media folder resolves outside the app's folder (a link leading out): nothing of it is read; the build is
   * held.
   */
  | 'escape'
  /** Nothing written, because another app has a conflict or an error: a build is never half written. */
  | 'held';

/** What media:publish did for each app (and for manifest.json). */
export type PublishStatus =
  /** Objects uploaded (or old ones deleted) and the app's part of the build is in the bucket. */
  | 'published'
  | 'up-to-date'
  /** Every object of the app is from builds no longer kept, and was deleted. */
  | 'pruned'
  /** manifest.json: not uploaded, because an asset is not in place (pages keep the previous build). */
  | 'held'
  | 'conflict'
  | 'error';

/** What media:verify --published finds (besides `ok`, `missing`, `drift`, `error`). */
export type PublishedVerifyStatus = 'wrong-headers';

export type AppStatus =
  LinkStatus | VerifyStatus | CleanStatus | FindStatus | CollectStatus | PublishStatus | PublishedVerifyStatus;

export interface AppReport {
  name: string;
  status: AppStatus;
  /** How the entry is (or would be) made; null when there is none. */
  mode: EntryMode | null;
  /** The app's media folder, relative to the project root. */
  source: string | null;
  /** The entry in mediaRoot, relative to the project root. */
  target: string;
  /** Files written (copy mode). */
  files: number;
  bytes: number;
  reason: string | null;
  hint: string | null;
  /** find: the public URL of the file (mediaUrl + path). */
  url?: string;
  /** copy: files and folders left out by an `ignore` glob. */
  ignored?: number;
}

export interface Report {
  task: TaskName;
  dryRun: boolean;
  mediaRoot: string;
  ms: number;
  counts: Partial<Record<AppStatus, number>>;
  apps: AppReport[];
  warnings: string[];
  /** True when the run should end with a non-zero exit status. */
  failed: boolean;
  /** collect: the build's folder, relative to the project root. */
  collectRoot?: string;
  /** collect: the id of the build manifest.json describes after the run (null: none). */
  build?: string | null;
  /** collect: files written, and files of older builds removed. */
  written?: number;
  removed?: number;
  /** publish, verify --published: where the objects go, `s3://bucket/prefix/`. */
  destination?: string;
  /** publish: what the run did in the bucket. */
  publish?: PublishSummary;
}

export interface PublishSummary {
  bucket: string;
  prefix: string;
  /** The build id (manifest.json's `build`). */
  build: string;
  uploaded: { files: number; bytes: number };
  unchanged: number;
  /** New keys found already holding the same bytes uploaded by app-media (a lost record): taken as they are. */
  adopted: number;
  deleted: number;
  /** Objects of old builds changed in the bucket since app-media uploaded them: left alone, no longer its own. */
  released: number;
  /** Requests sent to the store, by kind. */
  requests: Record<string, number>;
}

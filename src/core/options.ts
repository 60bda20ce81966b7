/**
 * The one table of every task, config field, run setting and command-line flag. The
 * validator, the defaults, the JSON Schema, `gulp --tasks`, `app-media --help`, the
 * command-line parser, the gulp tasks' flags and the README's tables (test/readme.test.ts
 * checks them; `npm run readme` rewrites them) all read from here: a new field or flag is one
 * new row. A new task is a row here, a name in TaskName and a runner in src/tasks.ts; the
 * types check that the three agree.
 */
import type { AppMediaConfig, Mode, RunOptions, TaskName } from './types.js';

// ---------------------------------------------------------------------------
// Tasks

export interface TaskSpec {
  /** One line: `gulp --tasks` and `app-media --help` print it. */
  description: string;
}

/**
 * Every task, in the order help lists them. The gulp task is `media:<key>`, the command
 * `app-media <key>`. What each one runs is the front-ends' business (src/tasks.ts), loaded only
 * when the task runs.
 */
export const taskTable = {
  link: {
    description:
      "Expose every app's <mediaDirname>/<name>/ as <mediaRoot>/<name>/ (link, or copy where links are refused)",
  },
  clean: { description: 'Remove the links and copies media:link made in <mediaRoot>, and nothing else' },
  verify: { description: "Check, without writing, that <mediaRoot> serves every app's media and nothing secret" },
  find: {
    description:
      'Which app serves a published path (--path blog/css/site.css), from which file, ' +
      'at which URL, and what it shadows',
  },
  watch: {
    description:
      'Keep <mediaRoot> right while you work: re-link (copy mode: mirror) ' +
      'on every change to app media or the config; Ctrl-C stops',
  },
  collect: {
    description:
      'Write the production build into <collectRoot>: fingerprinted names, rewritten CSS references, ' +
      '.br/.gz files, manifest.json',
  },
  publish: {
    description:
      'Upload what media:collect wrote to an S3-compatible bucket: only changed objects, ' +
      'manifest last, only its own old objects deleted',
  },
} as const satisfies Record<TaskName, TaskSpec>;

export type { TaskName };

export const TASKS = Object.keys(taskTable) as TaskName[];

/** One line per task: `gulp --tasks` and `app-media --help` print these. */
export const taskDescriptions = Object.fromEntries(TASKS.map((task) => [task, taskTable[task].description])) as Record<
  TaskName,
  string
>;

// ---------------------------------------------------------------------------
// Config fields

export type FieldType =
  | 'path'
  | 'string'
  | 'dirname'
  | 'boolean'
  | 'mode'
  | 'globs'
  | 'apps'
  | 'schema'
  | 'integer'
  | 'object'
  | 'bucket'
  | 'prefix'
  | 'url'
  | 'cacheControl';

export const MODES: readonly Mode[] = ['auto', 'symlink', 'copy'];

/** How the README's configuration table names each type. */
export const fieldTypeText: Record<FieldType, string> = {
  path: 'path',
  string: 'string',
  dirname: 'folder name',
  boolean: 'boolean',
  mode: MODES.map((mode) => `\`"${mode}"\``).join(' | '),
  globs: 'array of globs',
  apps: 'array',
  schema: 'string',
  integer: 'whole number',
  object: 'object',
  bucket: 'bucket name',
  prefix: 'key prefix',
  url: 'URL',
  cacheControl: '`{ immutable?, mutable? }`',
};

export interface FieldSpec {
  type: FieldType;
  required?: boolean;
  /** The value when the field is left out (none: no default). */
  default?: unknown;
  /** An integer field's bounds. */
  min?: number;
  max?: number;
  /** A string field's least length (1: not empty). */
  minLength?: number;
  /** One sentence, Markdown allowed (backticks); the README, the schema and editors show it. */
  description: string;
  /** An `object` field's own fields: rows of this table too (`publish.bucket`), checked the same way. */
  fields?: Readonly<Record<string, FieldSpec>>;
}

/** The fields of `publish` (media:publish); credentials are never among them: they come from the AWS chain. */
export const publishFields = {
  bucket: { type: 'bucket', required: true, description: 'the bucket (it must exist: app-media never creates one)' },
  prefix: {
    type: 'prefix',
    required: true,
    description:
      'the folder in the bucket whose objects app-media may own, such as `"static"` or `"site/media"`; ' +
      '`""` for the whole bucket',
  },
  endpoint: { type: 'url', description: "an S3-compatible store's URL (Cloudflare R2, MinIO...); none: AWS S3" },
  region: {
    type: 'string',
    minLength: 1,
    description:
      "the region requests are signed for (none: `AWS_REGION`, the shared profile's, " +
      'or `us-east-1` with an endpoint); R2 uses `"auto"`',
  },
  forcePathStyle: {
    type: 'boolean',
    default: false,
    description: 'address the bucket in the path (`http://host/bucket/key`), as MinIO and most self-hosted stores want',
  },
  cacheControl: {
    type: 'cacheControl',
    default: { immutable: 'public, max-age=31536000, immutable', mutable: 'public, max-age=60' },
    description:
      '`Cache-Control` of hashed names and their variants (`immutable`), ' +
      'and of plain names and the manifests (`mutable`)',
  },
  concurrency: { type: 'integer', min: 1, max: 64, default: 8, description: 'requests in flight at most' },
  timeout: {
    type: 'integer',
    min: 100,
    max: 600_000,
    default: 30_000,
    description: 'milliseconds a request may stall before it is abandoned and retried',
  },
  multipartThreshold: {
    type: 'integer',
    min: 5 * 1024 * 1024,
    max: 5 * 1024 * 1024 * 1024,
    default: 64 * 1024 * 1024,
    description:
      'files bigger than this many bytes (64 MiB) are uploaded in parts (`@aws-sdk/lib-storage`), streamed from disk',
  },
} as const satisfies Record<string, FieldSpec>;

export type PublishField = keyof typeof publishFields;

export const configFields = {
  mediaRoot: {
    type: 'path',
    required: true,
    description: 'where the `<name>/` entries are made; created if missing; may itself be a symlink',
  },
  mediaUrl: {
    type: 'string',
    default: '/media/',
    description: 'public URL prefix of mediaRoot; `media:verify --url` fetches files under it',
  },
  mediaDirname: {
    type: 'dirname',
    default: 'app_media',
    description: "project-wide default name of the apps' media folder",
  },
  apps: {
    type: 'apps',
    default: [],
    description:
      'app entries: `"./folder"`, `"package"`, `"@scope/package"` or `{ path | package, name?, mediaDirname? }`',
  },
  discover: {
    type: 'boolean',
    default: false,
    description: 'also take every dependency whose `package.json` has an `"appMedia"` key',
  },
  mode: {
    type: 'mode',
    default: 'auto',
    description: 'how entries are made: `auto` links, then (Windows) makes a junction, then copies; `symlink`; `copy`',
  },
  relative: {
    type: 'boolean',
    default: true,
    description: 'write relative link targets, so the tree survives moves, containers and bind mounts',
  },
  ignore: { type: 'globs', default: ['.*', '*~'], description: 'copy mode only: files and folders never copied' },
  exposed: {
    type: 'globs',
    default: [],
    description:
      "more patterns of published files that look secret, added to `media:verify`'s default list (`.env`, " +
      '`.env.*`, `.git`, `*.pem`, `*.key`, `id_rsa*`, `.npmrc`)',
  },
  sharedMediaRoot: {
    type: 'boolean',
    default: false,
    description:
      'mediaRoot may be written by other users on purpose (uploads): ' +
      'write in it anyway (see "Who may write mediaRoot" in docs/safety.md)',
  },
  collectRoot: {
    type: 'path',
    description:
      '`media:collect`: where the production build is written (and what `media:publish` uploads); ' +
      'never mediaRoot (nor inside or around it), never inside an app',
  },
  keep: {
    type: 'integer',
    min: 0,
    max: 100,
    default: 2,
    description:
      '`media:collect`, `media:publish`: how many earlier builds stay beside the current one (in collectRoot, ' +
      'in the bucket), for pages a browser already holds',
  },
  keepOriginals: {
    type: 'boolean',
    default: true,
    description: '`media:collect`: also write each file under its original name, for references nothing can rewrite',
  },
  hashLength: {
    type: 'integer',
    min: 8,
    max: 64,
    default: 10,
    description: '`media:collect`: hex characters of the content hash in fingerprinted names',
  },
  compress: {
    type: 'boolean',
    default: true,
    description: '`media:collect`: write `.br` and `.gz` beside compressible files, when smaller',
  },
  brotliLevel: {
    type: 'integer',
    min: 0,
    max: 11,
    default: 11,
    description: '`media:collect`: brotli quality of the `.br` files',
  },
  gzipLevel: {
    type: 'integer',
    min: 1,
    max: 9,
    default: 9,
    description: '`media:collect`: gzip level of the `.gz` files',
  },
  revManifest: {
    type: 'boolean',
    default: false,
    description: '`media:collect`: also write a gulp-rev compatible `rev-manifest.json`',
  },
  publish: {
    type: 'object',
    fields: publishFields,
    description:
      '`media:publish`: the bucket and how to reach it (the rows below); ' +
      'credentials come from the AWS chain (environment, shared profile), never from here',
  },
  $schema: { type: 'schema', description: 'editor hint: the JSON Schema of this file (ignored by the tool)' },
} as const satisfies Record<string, FieldSpec>;

export type ConfigField = keyof typeof configFields;

/** The defaults the code reads, from the table. */
export const defaults = {
  mediaUrl: configFields.mediaUrl.default,
  mediaDirname: configFields.mediaDirname.default,
  discover: configFields.discover.default as boolean,
  mode: configFields.mode.default as Mode,
  relative: configFields.relative.default as boolean,
  sharedMediaRoot: configFields.sharedMediaRoot.default as boolean,
  ignore: configFields.ignore.default as readonly string[],
  /** Published files that look secret: media:verify always reports them as `exposed` (`exposed` adds to them). */
  exposed: ['.env', '.env.*', '.git', '*.pem', '*.key', 'id_rsa*', '.npmrc'] as readonly string[],
  keep: configFields.keep.default as number,
  keepOriginals: configFields.keepOriginals.default as boolean,
  hashLength: configFields.hashLength.default as number,
  compress: configFields.compress.default as boolean,
  brotliLevel: configFields.brotliLevel.default as number,
  gzipLevel: configFields.gzipLevel.default as number,
  revManifest: configFields.revManifest.default as boolean,
};

/** Defaults of the fields of `publish` (the object itself has none: bucket and prefix are required). */
export const publishDefaults = {
  cacheControl: publishFields.cacheControl.default as { immutable: string; mutable: string },
  concurrency: publishFields.concurrency.default as number,
  timeout: publishFields.timeout.default as number,
  multipartThreshold: publishFields.multipartThreshold.default,
};

/**
 * Run settings accepted in code beside the config fields: every key of RunOptions that is not a
 * config field, each once (the type checks the list against RunOptions, both ways).
 */
const runSettings = {
  cwd: true,
  config: true,
  dryRun: true,
  verbose: true,
  prune: true,
  logger: true,
  force: true,
  conflicts: true,
  checksum: true,
  onProgress: true,
  signal: true,
  url: true,
  urlTimeout: true,
  path: true,
  strict: true,
  collect: true,
  published: true,
} as const satisfies Record<Exclude<keyof RunOptions, keyof AppMediaConfig>, true>;

export const runOptionKeys = Object.keys(runSettings) as ReadonlyArray<keyof typeof runSettings>;

/**
 * Settings only the tests give, taken but not part of RunOptions: `platform` (pretend to run on Windows: the junction
 * fallback).
 */
export const testOptionKeys = ['platform'] as const;

export const appEntryFields = ['path', 'package', 'name', 'mediaDirname'] as const;

/** An app name: one URL path segment that is safe everywhere (and never holds ".."). */
export const NAME_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const MAX_NAME_LENGTH = 255;

/** The config files looked for in the project folder, in this order (after --config and code options). */
export const CONFIG_FILES = ['app-media.config.mjs', 'app-media.config.js', 'app-media.config.json'] as const;
/** The JSON one, which editors check against schema.json. */
export const CONFIG_FILE = 'app-media.config.json';
export const PACKAGE_KEY = 'appMedia';
/** A config file or package.json bigger than this is refused (read whole, it would only fill memory). */
export const MAX_CONFIG_BYTES = 10 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Flags

export interface FlagSpec {
  /** The long name, without dashes. */
  name: string;
  kind: 'boolean' | 'string';
  /** A one-letter alias (`-h`). */
  short?: string;
  /** Allowed values for a string flag. */
  values?: readonly string[];
  /** Shown after the flag in help: `--config <file>`. */
  arg?: string;
  /** A boolean flag that is written in its negative form (`--no-prune`): the option gets `false`. */
  negated?: boolean;
  /** The run option it sets (none: read by the task runner itself, such as --json). */
  option?: keyof RunOptions;
  /** The tasks that take it; `all` for every task, present and future. */
  tasks: readonly TaskName[] | 'all';
  /** `command`: a flag of `app-media` itself (gulp has its own --silent, --color...). */
  only?: 'command';
  /** One sentence, Markdown allowed (backticks); help and `gulp --tasks` print it without them. */
  description: string;
}

export const flags: readonly FlagSpec[] = [
  {
    name: 'config',
    kind: 'string',
    arg: '<file>',
    option: 'config',
    tasks: 'all',
    description: 'use this config file (`.mjs`, `.js` or `.json`) instead of the lookup',
  },
  {
    name: 'mode',
    kind: 'string',
    arg: '<auto|symlink|copy>',
    values: MODES,
    option: 'mode',
    tasks: ['link', 'watch'],
    description: 'how entries are made (default from config, else `auto`)',
  },
  {
    name: 'dry-run',
    kind: 'boolean',
    option: 'dryRun',
    tasks: ['link', 'clean', 'collect', 'publish'],
    description: 'plan and print, write nothing',
  },
  {
    name: 'json',
    kind: 'boolean',
    tasks: 'all',
    description: 'print the report as one JSON document on stdout (use with `--silent`)',
  },
  {
    name: 'verbose',
    kind: 'boolean',
    option: 'verbose',
    tasks: 'all',
    description:
      'a line for every app (link is otherwise quiet about apps that are up to date), and the stack trace of an error',
  },
  {
    name: 'prune',
    kind: 'boolean',
    negated: true,
    option: 'prune',
    tasks: ['link'],
    description: "keep the tool's own entries for apps no longer configured",
  },
  {
    name: 'conflicts',
    kind: 'string',
    arg: '<warn|fail>',
    values: ['warn', 'fail'],
    option: 'conflicts',
    tasks: ['link', 'watch'],
    description:
      '`warn`: print conflicts just as clearly (on stderr) but exit 0, for npm lifecycle scripts; ' +
      '`fail` (default): exit 1',
  },
  {
    name: 'checksum',
    kind: 'boolean',
    option: 'checksum',
    tasks: ['link', 'watch'],
    description: 'copy mode: compare contents, not size and time; a right file with a wrong time is only re-timed',
  },
  {
    name: 'force',
    kind: 'boolean',
    option: 'force',
    tasks: ['clean'],
    description: "also remove the tool's copies in which files were changed by hand",
  },
  {
    name: 'path',
    kind: 'string',
    arg: '<name/file>',
    option: 'path',
    tasks: ['find'],
    description: 'the published path to look up, such as `blog/css/site.css`',
  },
  {
    name: 'url',
    kind: 'string',
    arg: '<base>',
    option: 'url',
    tasks: ['verify'],
    description:
      'fetch one file per app from `<base><mediaUrl><name>/...` and report an answer other than 2xx as ' +
      '`unserved` (with `--collect`: every fingerprinted URL, and its `Content-Type`)',
  },
  {
    name: 'collect',
    kind: 'boolean',
    option: 'collect',
    tasks: ['verify'],
    description: 'check the `media:collect` build in collectRoot instead of mediaRoot',
  },
  {
    name: 'published',
    kind: 'boolean',
    option: 'published',
    tasks: ['verify'],
    description:
      'check the bucket `media:publish` wrote (every manifest entry: its size, ETag and headers) instead of mediaRoot',
  },
  {
    name: 'strict',
    kind: 'boolean',
    option: 'strict',
    tasks: ['collect'],
    description: 'a stylesheet reference to a missing file is an error (nothing is written), not a warning',
  },
  {
    name: 'compress',
    kind: 'boolean',
    negated: true,
    option: 'compress',
    tasks: ['collect'],
    description: 'write no `.br` or `.gz` files',
  },
  {
    name: 'silent',
    kind: 'boolean',
    only: 'command',
    tasks: 'all',
    description: "print nothing (the exit status still tells); under gulp, gulp's own `--silent`",
  },
  {
    name: 'no-color',
    kind: 'boolean',
    only: 'command',
    tasks: 'all',
    description: 'no colours, even on a terminal (also `NO_COLOR=1`); `--color` forces them',
  },
  { name: 'color', kind: 'boolean', only: 'command', tasks: 'all', description: 'colours even off a terminal' },
  {
    name: 'help',
    kind: 'boolean',
    short: 'h',
    only: 'command',
    tasks: 'all',
    description: 'print the help: the tasks, or with a task its flags',
  },
  {
    name: 'version',
    kind: 'boolean',
    only: 'command',
    tasks: 'all',
    description: 'print the version of gulp-app-media',
  },
];

/** The flags a task takes (command-only ones too when `command`). */
export function flagsFor(task: TaskName, where: 'gulp' | 'command' = 'gulp'): FlagSpec[] {
  return flags.filter(
    (flag) => (flag.tasks === 'all' || flag.tasks.includes(task)) && (where === 'command' || flag.only !== 'command'),
  );
}

/** How a flag is written: `--no-prune`, `--dry-run`. */
export function flagName(flag: FlagSpec): string {
  return `--${flag.negated ? 'no-' : ''}${flag.name}`;
}

/** A description without Markdown, for a terminal. */
export function plain(text: string): string {
  return text.replace(/`/g, '');
}

/** `{ '--mode <auto|symlink|copy>': 'how entries are made...' }`, the shape gulp's `task.flags` wants. */
export function gulpFlags(task: TaskName): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flagsFor(task))
    out[flag.arg ? `${flagName(flag)} ${flag.arg}` : flagName(flag)] = plain(flag.description);
  return out;
}

// ---------------------------------------------------------------------------
// The README's tables, written from the rows above

/** A table row; a `|` inside a cell is escaped, even in a code span (GitHub's tables split on it). */
function row(cells: string[]): string {
  return `| ${cells.map((cell) => cell.replace(/(?<!\\)\|/g, '\\|')).join(' | ')} |`;
}

/** The README's configuration table. */
export function configTableMarkdown(): string {
  const lines = [row(['field', 'type', 'default', 'meaning']), row(['---', '---', '---', '---'])];
  const add = (name: string, spec: FieldSpec): void => {
    const fallback = spec.required
      ? 'required'
      : spec.default === undefined
        ? 'none'
        : `\`${JSON.stringify(spec.default).replace(/,(?! )/g, ', ')}\``;
    const bounds = spec.min !== undefined && spec.max !== undefined ? ` ${spec.min}-${spec.max}` : '';
    lines.push(row([`\`${name}\``, `${fieldTypeText[spec.type]}${bounds}`, fallback, spec.description]));
  };
  for (const [name, spec] of Object.entries(configFields) as Array<[string, FieldSpec]>) {
    add(name, spec);
    // An object's own fields follow it, as `publish.bucket` ("required": when the object is given).
    for (const [sub, subSpec] of Object.entries(spec.fields ?? {})) add(`${name}.${sub}`, subSpec);
  }
  return lines.join('\n');
}

/** The README's flag table. */
export function flagTableMarkdown(): string {
  const lines = [row(['flag', 'tasks', 'meaning']), row(['---', '---', '---'])];
  for (const flag of flags) {
    const name = `\`${flagName(flag)}${flag.arg ? ` ${flag.arg}` : ''}\`${flag.short ? `, \`-${flag.short}\`` : ''}`;
    const tasks = flag.only === 'command' ? '`app-media` only' : flag.tasks === 'all' ? 'all' : flag.tasks.join(', ');
    lines.push(row([name, tasks, flag.description]));
  }
  return lines.join('\n');
}

/** Each README table by the name of its markers (`<!-- table:config -->` ... `<!-- /table:config -->`). */
export function readmeTables(): Record<string, string> {
  return { config: configTableMarkdown(), flags: flagTableMarkdown() };
}

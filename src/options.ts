/**
 * The single table of every config field and every command-line flag: the
 * validator, the defaults, `gulp --tasks` and the README read from here.
 */
import type { Mode, TaskName } from './types.js';

export type FieldType = 'path' | 'string' | 'dirname' | 'boolean' | 'mode' | 'globs' | 'apps' | 'schema';

export interface FieldSpec {
  type: FieldType;
  required?: boolean;
  description: string;
}

export const MODES: readonly Mode[] = ['auto', 'symlink', 'copy'];

export const configFields = {
  $schema: { type: 'schema', description: 'editor hint: the JSON Schema of this file (ignored by the tool)' },
  mediaRoot: { type: 'path', required: true, description: 'where the <name>/ entries are made (created if missing; may itself be a symlink)' },
  mediaUrl: { type: 'string', description: 'public URL prefix of mediaRoot (media:verify --url fetches files under it)' },
  mediaDirname: { type: 'dirname', description: 'project-wide default name of the apps\' media folder' },
  apps: { type: 'apps', description: '"./folder", "package", "@scope/package" or { path | package, name?, mediaDirname? }' },
  discover: { type: 'boolean', description: 'also take every dependency whose package.json has an "appMedia" key' },
  mode: { type: 'mode', description: 'auto: symlink, then (Windows) junction, then copy; or symlink; or copy' },
  relative: { type: 'boolean', description: 'relative link targets, so the tree survives moves and containers' },
  ignore: { type: 'globs', description: 'copy mode: files and folders never copied' },
  exposed: { type: 'globs', description: 'media:verify: more patterns of published files that look secret, added to the default list' },
  sharedMediaRoot: { type: 'boolean', description: 'mediaRoot may be written by other users on purpose (uploads): write in it anyway (see "Who may write mediaRoot" in docs/safety.md)' },
} as const satisfies Record<string, FieldSpec>;

export type ConfigField = keyof typeof configFields;

/** Run settings accepted in code beside the config fields (RunOptions). */
export const runOptionKeys = ['cwd', 'config', 'dryRun', 'verbose', 'prune', 'logger', 'platform', 'force', 'url', 'path', 'checksum', 'onProgress', 'signal', 'conflicts'] as const;

export const appEntryFields = ['path', 'package', 'name', 'mediaDirname'] as const;

/** An app name: one URL path segment that is safe everywhere (and never holds ".."). */
export const NAME_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const MAX_NAME_LENGTH = 255;

export const defaults = {
  mediaUrl: '/media/',
  mediaDirname: 'app_media',
  discover: false,
  mode: 'auto' as Mode,
  relative: true,
  sharedMediaRoot: false,
  ignore: ['.*', '*~'] as readonly string[],
  /** Published files that look secret: media:verify reports them as `exposed`. */
  exposed: ['.env', '.env.*', '.git', '*.pem', '*.key', 'id_rsa*', '.npmrc'] as readonly string[],
};

/** File names of the lookup, in order (after --config and code options). */
export const CONFIG_FILE = 'app-media.config.json';
export const PACKAGE_KEY = 'appMedia';

export interface FlagSpec {
  /** The long name, without dashes. */
  name: string;
  kind: 'boolean' | 'string';
  /** Allowed values for a string flag. */
  values?: readonly string[];
  /** Shown after the flag in help: `--config <file>`. */
  arg?: string;
  /** A boolean flag that is written in its negative form (`--no-prune`). */
  negated?: boolean;
  tasks: readonly TaskName[];
  description: string;
}

/** One line per task: `gulp --tasks` and `app-media --help` print these. */
export const taskDescriptions: Record<TaskName, string> = {
  link: 'Expose every app\'s <mediaDirname>/<name>/ as <mediaRoot>/<name>/ (link, or copy where links are refused)',
  clean: 'Remove the links and copies media:link made in <mediaRoot>, and nothing else',
  verify: 'Check, without writing, that <mediaRoot> serves every app\'s media and nothing secret',
  watch: 'Keep <mediaRoot> right while you work: re-link (copy mode: mirror) on every change to app media or the config; Ctrl-C stops',
  find: 'Which app serves a published path (--path blog/css/site.css), from which file, at which URL, and what it shadows',
};

export const TASKS: readonly TaskName[] = ['link', 'clean', 'verify', 'find', 'watch'];

const ALL: readonly TaskName[] = ['link', 'clean', 'verify', 'watch', 'find'];

export const flags: readonly FlagSpec[] = [
  { name: 'config', kind: 'string', arg: '<file>', tasks: ALL, description: 'use this config file instead of the lookup' },
  { name: 'mode', kind: 'string', arg: '<auto|symlink|copy>', values: MODES, tasks: ['link', 'watch'], description: 'how entries are made (default from config, else auto)' },
  { name: 'dry-run', kind: 'boolean', tasks: ['link', 'clean'], description: 'plan and print, write nothing' },
  { name: 'json', kind: 'boolean', tasks: ALL, description: 'print the report as one JSON document on stdout (use with --silent)' },
  { name: 'verbose', kind: 'boolean', tasks: ALL, description: 'stack traces with errors' },
  { name: 'prune', kind: 'boolean', negated: true, tasks: ['link'], description: 'keep the tool\'s own entries of apps no longer configured' },
  { name: 'conflicts', kind: 'string', arg: '<warn|fail>', values: ['warn', 'fail'], tasks: ['link', 'watch'], description: 'warn: print conflicts as clearly, but exit 0 (for npm lifecycle scripts); fail: exit non-zero (default)' },
  { name: 'checksum', kind: 'boolean', tasks: ['link', 'watch'], description: 'copy mode: compare file contents, not size and time' },
  { name: 'force', kind: 'boolean', tasks: ['clean'], description: 'also remove the tool\'s copies in which files were changed by hand' },
  { name: 'path', kind: 'string', arg: '<name/file>', tasks: ['find'], description: 'the published path to look up, such as blog/css/site.css' },
  { name: 'url', kind: 'string', arg: '<base>', tasks: ['verify'], description: 'also fetch one file per app from this server (http://localhost:8080)' },
];

export function flagsFor(task: TaskName): FlagSpec[] {
  return flags.filter((flag) => flag.tasks.includes(task));
}

/** `{ '--mode <auto|symlink|copy>': 'how entries are made...' }`, the shape gulp's `task.flags` wants. */
export function gulpFlags(task: TaskName): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flagsFor(task)) {
    const name = `--${flag.negated ? 'no-' : ''}${flag.name}`;
    out[flag.arg ? `${name} ${flag.arg}` : name] = flag.description;
  }
  return out;
}

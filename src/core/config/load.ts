/**
 * Finds the configuration and resolves it: `--config <file>` → options passed
 * in code → app-media.config.mjs / .js / .json → package.json "appMedia", in
 * the project folder: the current folder or the nearest one above it that
 * holds one of them (as gulp and npm look upward). Paths resolve against the
 * file that holds them.
 */
import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { errors } from '../errors.js';
import { CONFIG_FILES, configFields, defaults, PACKAGE_KEY, runOptionKeys, testOptionKeys } from '../options.js';
import { nearest } from '../util/nearest.js';
import type { AppEntry, AppMediaConfig, Mode, PublishConfig, RunOptions } from '../types.js';
import { toDisplay } from '../display.js';
import { readJsonFile } from './json.js';
import { readConfigText } from './read.js';
import { validateConfig } from './validate.js';

export interface AppSpec {
  entry: AppEntry;
  /** Where the entry was written, for messages: `apps[2]`. */
  field: string;
  /** Folder entries resolve against this. */
  baseDir: string;
}

export interface ResolvedConfig {
  projectRoot: string;
  /** The file the config came from, relative to the project root; undefined for code options. */
  file: string | undefined;
  /** `appMedia.` when the config sits in package.json. */
  fieldPrefix: string;
  baseDir: string;
  mediaRoot: string;
  mediaUrl: string;
  mediaDirname: string;
  apps: AppSpec[];
  discover: boolean;
  mode: Mode;
  relative: boolean;
  ignore: string[];
  exposed: string[];
  sharedMediaRoot: boolean;
  /** media:collect's settings; collectRoot is resolved, undefined when not configured. */
  collectRoot: string | undefined;
  keep: number;
  keepOriginals: boolean;
  hashLength: number;
  compress: boolean;
  brotliLevel: number;
  gzipLevel: number;
  revManifest: boolean;
  /** media:publish's bucket settings; undefined when not configured. */
  publish: PublishConfig | undefined;
}

const CONFIG_KEYS = Object.keys(configFields);

/** The config fields among run options (everything else is a run setting). */
function configPart(options: RunOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

interface Source {
  raw: Partial<AppMediaConfig>;
  file: string | undefined;
  fieldPrefix: string;
  baseDir: string;
}

const KNOWN_OPTIONS: readonly string[] = [...CONFIG_KEYS, ...runOptionKeys];
const TAKEN_OPTIONS: readonly string[] = [...KNOWN_OPTIONS, ...testOptionKeys];

export async function loadConfig(options: RunOptions = {}): Promise<ResolvedConfig> {
  checkRunOptions(options);
  const code = configPart(options);
  const codeIsSource = code['mediaRoot'] !== undefined || code['apps'] !== undefined;
  // The project folder: given (cwd), or the current one when the source is given (--config,
  // options in code), or else the nearest folder upward that holds a config.
  const start = path.resolve(options.cwd ?? process.cwd());
  const projectRoot =
    options.cwd !== undefined || options.config !== undefined || codeIsSource ? start : findProject(start);
  const display = (file: string): string => toDisplay(projectRoot, file);

  let source: Source;
  if (options.config !== undefined) {
    const file = path.resolve(projectRoot, options.config);
    const shown = display(file).startsWith('../') ? file : display(file);
    if (!exists(file)) throw errors.configNotFound(shown);
    source = await fromFile(file, shown);
  } else if (codeIsSource) {
    source = {
      raw: validateConfig(code, { file: undefined, prefix: '', requireMediaRoot: true }),
      file: undefined,
      fieldPrefix: '',
      baseDir: projectRoot,
    };
  } else {
    const configFile = CONFIG_FILES.map((name) => path.join(projectRoot, name)).find(exists);
    if (configFile !== undefined) {
      source = await fromFile(configFile, display(configFile));
    } else {
      const block = packageBlock(projectRoot);
      if (block === undefined)
        throw errors.noConfig([...CONFIG_FILES, `package.json "${PACKAGE_KEY}"`], foldersUpward(start));
      source = {
        raw: validateConfig(block, { file: 'package.json', prefix: `${PACKAGE_KEY}.`, requireMediaRoot: true }),
        file: 'package.json',
        fieldPrefix: `${PACKAGE_KEY}.`,
        baseDir: projectRoot,
      };
    }
  }

  // Code options that are not the source still override single settings
  // (mode, relative...), and so do command-line flags, which the caller has
  // already merged into `options`.
  const overrides =
    codeIsSource && options.config === undefined
      ? {}
      : validateConfig(code, { file: undefined, prefix: '', requireMediaRoot: false });
  const merged = { ...source.raw, ...withoutSourceFields(overrides) };

  const mediaRoot = merged.mediaRoot;
  if (mediaRoot === undefined)
    throw errors.missingField(source.file, `${source.fieldPrefix}mediaRoot`, '"mediaRoot": "public/media"');

  return {
    projectRoot,
    file: source.file,
    fieldPrefix: source.fieldPrefix,
    baseDir: source.baseDir,
    mediaRoot: path.resolve(source.baseDir, mediaRoot),
    mediaUrl: merged.mediaUrl ?? defaults.mediaUrl,
    mediaDirname: merged.mediaDirname ?? defaults.mediaDirname,
    apps: (merged.apps ?? []).map((entry, index) => ({
      entry,
      field: `${source.fieldPrefix}apps[${index}]`,
      baseDir: source.baseDir,
    })),
    discover: merged.discover ?? defaults.discover,
    mode: merged.mode ?? defaults.mode,
    relative: merged.relative ?? defaults.relative,
    ignore: [...(merged.ignore ?? defaults.ignore)],
    exposed: [...defaults.exposed, ...(merged.exposed ?? [])],
    sharedMediaRoot: merged.sharedMediaRoot ?? defaults.sharedMediaRoot,
    // A collectRoot given in code over a config file resolves against the project root, as code paths do.
    collectRoot:
      merged.collectRoot === undefined
        ? undefined
        : path.resolve(overrides.collectRoot !== undefined ? projectRoot : source.baseDir, merged.collectRoot),
    keep: merged.keep ?? defaults.keep,
    keepOriginals: merged.keepOriginals ?? defaults.keepOriginals,
    hashLength: merged.hashLength ?? defaults.hashLength,
    compress: merged.compress ?? defaults.compress,
    brotliLevel: merged.brotliLevel ?? defaults.brotliLevel,
    gzipLevel: merged.gzipLevel ?? defaults.gzipLevel,
    revManifest: merged.revManifest ?? defaults.revManifest,
    publish: merged.publish,
  };
}

/**
 * Options in code are checked before any work: a misspelled one would be ignored, a bad logger would fail only at the
 * end.
 */
function checkRunOptions(options: RunOptions): void {
  for (const key of Object.keys(options)) {
    if (!TAKEN_OPTIONS.includes(key) && (options as Record<string, unknown>)[key] !== undefined) {
      throw errors.unknownField('options in code', key, nearest(key, KNOWN_OPTIONS));
    }
  }
  const logger: unknown = options.logger;
  if (logger !== undefined) {
    const example = 'pass an object with debug, info, warn and error functions, such as console, or leave logger out';
    if (typeof logger !== 'object' || logger === null) {
      throw errors.badOption(
        'logger',
        `logger must be an object with debug, info, warn and error functions, ` +
          `not ${typeof logger === 'object' ? 'null' : typeof logger}`,
        example,
      );
    }
    for (const method of ['debug', 'info', 'warn', 'error'] as const) {
      const value = (logger as Record<string, unknown>)[method];
      if (typeof value !== 'function')
        throw errors.badOption(
          `logger.${method}`,
          `logger.${method} must be a function, not ${value === null ? 'null' : typeof value}`,
          example,
        );
    }
  }
  const timeout: unknown = options.urlTimeout;
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) {
    throw errors.badOption(
      'urlTimeout',
      `urlTimeout must be a number of milliseconds above 0, not ${JSON.stringify(timeout)}`,
      'leave it out for 10,000 ms',
    );
  }
}

function exists(file: string): boolean {
  try {
    // Each run asks for every config file name in turn: a missing one is asked without an exception.
    return lstatSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** The "appMedia" block of the package.json in `dir`, if any. */
function packageBlock(dir: string, shownFrom = dir): unknown {
  const file = path.join(dir, 'package.json');
  if (!exists(file)) return undefined;
  const pkg = readJsonFile(file, toDisplay(shownFrom, file));
  return isObject(pkg) ? pkg[PACKAGE_KEY] : undefined;
}

/**
 * The project folder: `start` or the nearest folder above it with a config file, or a
 * package.json whose "appMedia" holds a project's config (mediaRoot or apps; an app's own
 * package.json declares only its name and mediaDirname). None: `start`, whose lookup then
 * fails with the folders searched (or, with an "appMedia" there, says what it lacks).
 */
function findProject(start: string): string {
  for (const dir of foldersUpward(start)) {
    if (CONFIG_FILES.some((name) => exists(path.join(dir, name)))) return dir;
    const block = packageBlock(dir, start);
    if (isObject(block) && (block['mediaRoot'] !== undefined || block['apps'] !== undefined)) return dir;
  }
  return start;
}

function foldersUpward(start: string): string[] {
  const folders = [start];
  for (let dir = start; path.dirname(dir) !== dir; dir = path.dirname(dir)) folders.push(path.dirname(dir));
  return folders;
}

async function fromFile(file: string, displayFile: string): Promise<Source> {
  const raw = /\.[cm]?js$/i.test(file) ? await importConfig(file, displayFile) : readJsonFile(file, displayFile);
  return {
    raw: validateConfig(raw, { file: displayFile, prefix: '', requireMediaRoot: true }),
    file: displayFile,
    fieldPrefix: '',
    baseDir: path.dirname(file),
  };
}

/**
 * A JavaScript config's default export (`export default defineConfig({...})`, or
 * `module.exports` of a CommonJS one). The file is checked first like any config file (a FIFO
 * would hang the import), and imported under a hash of its text, so a changed file is read
 * anew (media:watch) and an unchanged one is not imported twice.
 */
async function importConfig(file: string, displayFile: string): Promise<unknown> {
  const text = readConfigText(file, displayFile);
  const url = pathToFileURL(file);
  url.search = `app-media=${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  let module: Record<string, unknown>;
  try {
    module = (await import(url.href)) as Record<string, unknown>;
  } catch (error) {
    throw loadError(error, file, displayFile);
  }
  if (!('default' in module) || module['default'] === undefined) {
    throw errors.configLoad(
      displayFile,
      'it has no default export (write: export default defineConfig({ mediaRoot: "public/media", apps: [...] }))',
    );
  }
  return module['default'];
}

/**
 * What went wrong while the config file ran: its line when the stack names it, the message, no stack (unless
 * --verbose).
 */
function loadError(error: unknown, file: string, displayFile: string): Error {
  const thrown = error instanceof Error ? error : new Error(String(error));
  const stack = thrown.stack ?? '';
  const url = pathToFileURL(file).href;
  let where = '';
  for (const line of stack.split('\n')) {
    const at =
      line.indexOf(url) >= 0
        ? line.slice(line.indexOf(url) + url.length)
        : line.indexOf(file) >= 0
          ? line.slice(line.indexOf(file) + file.length)
          : undefined;
    const match = at === undefined ? null : /^(?:\?[^:\s)]*)?:(\d+)(?::(\d+))?/.exec(at);
    if (match) {
      where = `:${match[1]}${match[2] ? `:${match[2]}` : ''}`;
      break;
    }
  }
  // A syntax error of an ES module carries no line: node --check prints it.
  if (where === '' && thrown.name === 'SyntaxError') where = syntaxErrorLine(file);
  const message = `${thrown.name}: ${thrown.message.split('\n')[0] ?? ''}`;
  const coded = errors.configLoad(`${displayFile}${where}`, message);
  coded.stack = `${coded.name}: ${coded.message}\n${stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n')}`;
  return coded;
}

/** `:3`, the line `node --check` gives for a file that does not parse; '' when it gives none. */
function syntaxErrorLine(file: string): string {
  // Loaded here, on this error's path only: node:child_process brings net, dgram and streams, a
  // few milliseconds of every run's start-up otherwise.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const checked = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  const match = /^\S*?:(\d+)\s*$/m.exec(checked.stderr ?? '');
  return match ? `:${match[1]}` : '';
}

/** mediaRoot and apps define where a config comes from; an override never mixes them in. */
function withoutSourceFields(config: Partial<AppMediaConfig>): Partial<AppMediaConfig> {
  const { mediaRoot: _root, apps: _apps, $schema: _schema, ...rest } = config;
  return rest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Finds the configuration and resolves it: `--config <file>` → options passed
 * in code → app-media.config.json in the project root → package.json
 * "appMedia". Paths resolve against the file that holds them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { errors } from '../errors.js';
import { CONFIG_FILE, configFields, defaults, PACKAGE_KEY, runOptionKeys } from '../options.js';
import { nearest } from '../util/nearest.js';
import type { AppEntry, AppMediaConfig, Mode, RunOptions } from '../types.js';
import { readJsonFile } from './json.js';
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

export function loadConfig(options: RunOptions = {}): ResolvedConfig {
  // A misspelled option in code would otherwise be silently ignored.
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key) && (options as Record<string, unknown>)[key] !== undefined) {
      throw errors.unknownField('options in code', key, nearest(key, KNOWN_OPTIONS));
    }
  }
  const projectRoot = path.resolve(options.cwd ?? process.cwd());
  const display = (file: string): string => toDisplay(projectRoot, file);
  const code = configPart(options);
  const codeIsSource = code['mediaRoot'] !== undefined || code['apps'] !== undefined;

  let source: Source;
  if (options.config !== undefined) {
    const file = path.resolve(projectRoot, options.config);
    if (!existsSync(file)) throw errors.configNotFound(display(file));
    source = fromFile(file, display(file));
  } else if (codeIsSource) {
    source = { raw: validateConfig(code, { file: undefined, prefix: '', requireMediaRoot: true }), file: undefined, fieldPrefix: '', baseDir: projectRoot };
  } else {
    const configFile = path.join(projectRoot, CONFIG_FILE);
    const packageFile = path.join(projectRoot, 'package.json');
    if (existsSync(configFile)) {
      source = fromFile(configFile, display(configFile));
    } else {
      const pkg = existsSync(packageFile) ? readJsonFile(packageFile, 'package.json') : undefined;
      const block = isObject(pkg) ? pkg[PACKAGE_KEY] : undefined;
      if (block === undefined) throw errors.noConfig([CONFIG_FILE, `package.json "${PACKAGE_KEY}"`, 'options in code']);
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
  const overrides = codeIsSource && options.config === undefined
    ? {}
    : validateConfig(code, { file: undefined, prefix: '', requireMediaRoot: false });
  const merged = { ...source.raw, ...withoutSourceFields(overrides) };

  const mediaRoot = merged.mediaRoot;
  if (mediaRoot === undefined) throw errors.missingField(source.file, `${source.fieldPrefix}mediaRoot`, '"mediaRoot": "public/media"');

  return {
    projectRoot,
    file: source.file,
    fieldPrefix: source.fieldPrefix,
    baseDir: source.baseDir,
    mediaRoot: path.resolve(source.baseDir, mediaRoot),
    mediaUrl: merged.mediaUrl ?? defaults.mediaUrl,
    mediaDirname: merged.mediaDirname ?? defaults.mediaDirname,
    apps: (merged.apps ?? []).map((entry, index) => ({ entry, field: `${source.fieldPrefix}apps[${index}]`, baseDir: source.baseDir })),
    discover: merged.discover ?? defaults.discover,
    mode: merged.mode ?? defaults.mode,
    relative: merged.relative ?? defaults.relative,
    ignore: [...(merged.ignore ?? defaults.ignore)],
    exposed: [...defaults.exposed, ...(merged.exposed ?? [])],
    sharedMediaRoot: merged.sharedMediaRoot ?? defaults.sharedMediaRoot,
  };
}

function fromFile(file: string, displayFile: string): Source {
  const raw = readJsonFile(file, displayFile);
  return {
    raw: validateConfig(raw, { file: displayFile, prefix: '', requireMediaRoot: true }),
    file: displayFile,
    fieldPrefix: '',
    baseDir: path.dirname(file),
  };
}

/** mediaRoot and apps define where a config comes from; an override never mixes them in. */
function withoutSourceFields(config: Partial<AppMediaConfig>): Partial<AppMediaConfig> {
  const { mediaRoot: _root, apps: _apps, $schema: _schema, ...rest } = config;
  return rest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A path as the user should read it: relative to the project root when inside it. */
export function toDisplay(projectRoot: string, file: string): string {
  const rel = path.relative(projectRoot, file);
  if (rel === '') return '.';
  return path.isAbsolute(rel) ? file : rel.split(path.sep).join('/');
}

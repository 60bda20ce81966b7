/** Checks a raw config object against the table in options.ts. Pure: no I/O. */
import os from 'node:os';
import path from 'node:path';
import { errors } from '../errors.js';
import { appEntryFields, configFields, MODES, type ConfigField, type FieldSpec } from '../options.js';
import type { AppEntry, AppMediaConfig } from '../types.js';
import { nearest } from '../util/nearest.js';

const FIELD_NAMES = Object.keys(configFields) as ConfigField[];

export interface ValidateContext {
  /** Display name of the file that holds the config, if any. */
  file: string | undefined;
  /** Prefix for field paths, e.g. "appMedia." inside package.json. */
  prefix: string;
  /** Whether `mediaRoot` must be present (false for partial code overrides). */
  requireMediaRoot: boolean;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function validateConfig(raw: unknown, ctx: ValidateContext): Partial<AppMediaConfig> {
  if (!isRecord(raw)) throw errors.badValue(ctx.file, ctx.prefix.replace(/\.$/, '') || '(top level)', 'an object', raw);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(configFields, key)) {
      throw errors.unknownField(ctx.file, ctx.prefix + key, nearest(key, FIELD_NAMES));
    }
    const field = key as ConfigField;
    const value = raw[key];
    if (value === undefined) continue;
    out[field] = checkField(configFields[field], value, ctx, ctx.prefix + field);
  }
  if (ctx.requireMediaRoot && out['mediaRoot'] === undefined) {
    throw errors.missingField(ctx.file, `${ctx.prefix}mediaRoot`, '"mediaRoot": "public/media"');
  }
  return out;
}

function checkField(spec: FieldSpec, value: unknown, ctx: ValidateContext, field: string): unknown {
  switch (spec.type) {
    case 'schema':
    case 'string':
      if (typeof value !== 'string') throw errors.badValue(ctx.file, field, 'a string', value);
      if (spec.minLength !== undefined && value.length < spec.minLength)
        throw errors.badValue(ctx.file, field, 'a non-empty string', value);
      return value;
    case 'path':
      if (typeof value !== 'string' || value.trim() === '')
        throw errors.badValue(ctx.file, field, 'a non-empty path string', value);
      // JSON is not a shell: "~/site/media" would make a folder named "~" in the project.
      if (value.startsWith('~')) {
        throw errors.badValue(
          ctx.file,
          field,
          'a path relative to this file or an absolute one (~ is not expanded)',
          value,
          `write it relative to ${ctx.file ?? 'the project'} ("public/media") ` +
            `or in full ("${expandHome(value)}"); JSON does not expand ~`,
        );
      }
      return value;
    case 'dirname':
      return checkDirname(value, ctx, field);
    case 'boolean':
      if (typeof value !== 'boolean') throw errors.badValue(ctx.file, field, 'true or false', value);
      return value;
    case 'mode':
      if (typeof value !== 'string' || !(MODES as readonly string[]).includes(value)) {
        throw errors.badValue(ctx.file, field, `one of ${MODES.map((m) => `"${m}"`).join(', ')}`, value);
      }
      return value;
    case 'globs':
      if (!Array.isArray(value) || value.some((glob) => typeof glob !== 'string')) {
        throw errors.badValue(ctx.file, field, 'an array of glob strings', value, asArrayHint(field, value));
      }
      return value;
    case 'integer': {
      const min = spec.min ?? Number.MIN_SAFE_INTEGER;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
        throw errors.badValue(ctx.file, field, `a whole number from ${min} to ${max}`, value);
      return value;
    }
    case 'apps':
      if (!Array.isArray(value))
        throw errors.badValue(ctx.file, field, 'an array of app entries', value, asArrayHint(field, value));
      return value.map((entry, index) => checkAppEntry(entry, ctx, `${field}[${index}]`));
    case 'object':
      return checkObject(spec, value, ctx, field);
    case 'bucket':
      if (typeof value !== 'string' || !BUCKET.test(value))
        throw errors.badValue(ctx.file, field, 'a bucket name (3-63 lowercase letters, digits, "." and "-")', value);
      return value;
    case 'prefix':
      if (typeof value !== 'string' || !isPrefix(value)) {
        throw errors.badValue(
          ctx.file,
          field,
          'a folder path in the bucket such as "static" or "site/media" (no leading "/", ' +
            'no "." or ".." parts), or "" for the whole bucket',
          value,
        );
      }
      // "static/" and "static" are the same folder.
      return value.replace(/\/+$/, '');
    case 'url':
      if (typeof value !== 'string' || !/^https?:\/\/[^\s/]+/.test(value))
        throw errors.badValue(ctx.file, field, 'an http:// or https:// URL', value);
      return value;
    case 'cacheControl':
      if (
        !isRecord(value) ||
        Object.entries(value).some(
          ([name, text]) =>
            (name !== 'immutable' && name !== 'mutable') ||
            typeof text !== 'string' ||
            text === '' ||
            /[\r\n]/.test(text),
        )
      ) {
        throw errors.badValue(
          ctx.file,
          field,
          'an object { immutable?: "...", mutable?: "..." } of Cache-Control values',
          value,
        );
      }
      return value;
  }
}

/**
 * An object field (`publish`): its own fields from the table, each checked as a top-level one.
 * A credential-looking key is refused without echoing its value: credentials come from the AWS chain only.
 */
function checkObject(spec: FieldSpec, value: unknown, ctx: ValidateContext, field: string): Record<string, unknown> {
  const fields = spec.fields ?? {};
  const names = Object.keys(fields);
  if (!isRecord(value))
    throw errors.badValue(
      ctx.file,
      field,
      `an object { ${names.map((name) => `${name}${fields[name]?.required ? '' : '?'}`).join(', ')} }`,
      value,
    );
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const sub = fields[key];
    if (!sub || !Object.hasOwn(fields, key)) {
      if (/key|secret|token|credential|password/i.test(key)) {
        throw errors.badValue(
          ctx.file,
          `${field}.${key}`,
          'no credentials in the config: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) ' +
            'in the environment',
          '(not shown)',
        );
      }
      throw errors.unknownField(ctx.file, `${field}.${key}`, nearest(key, names));
    }
    if (raw === undefined) continue;
    out[key] = checkField(sub, raw, ctx, `${field}.${key}`);
  }
  for (const name of names) {
    if (fields[name]?.required && out[name] === undefined) {
      throw errors.missingField(
        ctx.file,
        `${field}.${name}`,
        `"${name}": ${name === 'bucket' ? '"my-site-media"' : name === 'prefix' ? '"static"' : '...'}`,
      );
    }
  }
  return out;
}

/** An S3 bucket name: 3-63 of lowercase letters, digits, "." and "-". */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * A prefix: "" or "/"-separated plain segments (a trailing "/" is allowed and dropped); never one of the tool's own
 * names.
 */
function isPrefix(value: string): boolean {
  const trimmed = value.replace(/\/+$/, '');
  if (trimmed === '') return value === '';
  return trimmed.split('/').every((segment) => isPlainSegment(segment) && !segment.startsWith('.app-media'));
}

/** What a shell would have made of `~/x` (`~user/x`: that user's home, as the usual /home/user). */
function expandHome(value: string): string {
  return /^~([/\\]|$)/.test(value) ? path.join(os.homedir(), value.slice(1)) : path.join('/home', value.slice(1));
}

/** One string where a list is wanted: the fix is the same string in brackets. */
function asArrayHint(field: string, value: unknown): string | undefined {
  if (typeof value !== 'string' && !(typeof value === 'object' && value !== null && !Array.isArray(value)))
    return undefined;
  return `make it a list: "${field.split('.').pop() ?? field}": [${JSON.stringify(value)}]`;
}

export function checkDirname(value: unknown, ctx: Pick<ValidateContext, 'file'>, field: string): string {
  if (typeof value !== 'string') throw errors.badValue(ctx.file, field, 'a folder name string', value);
  if (!isPlainSegment(value)) throw errors.badDirname(ctx.file, field, value);
  return value;
}

/** One path segment: not empty, not "." or "..", no separators or NUL. */
export function isPlainSegment(value: string): boolean {
  return value !== '' && value !== '.' && value !== '..' && !/[/\\\0]/.test(value);
}

function checkAppEntry(entry: unknown, ctx: ValidateContext, field: string): AppEntry {
  if (typeof entry === 'string') {
    if (entry.trim() === '') throw errors.badValue(ctx.file, field, 'a folder path or a package name', entry);
    return entry;
  }
  if (!isRecord(entry))
    throw errors.badValue(ctx.file, field, 'a string or an object { path | package, name?, mediaDirname? }', entry);
  for (const key of Object.keys(entry)) {
    if (!(appEntryFields as readonly string[]).includes(key)) {
      throw errors.unknownField(ctx.file, `${field}.${key}`, nearest(key, appEntryFields));
    }
  }
  const { path, package: pkg, name, mediaDirname } = entry;
  if ((path === undefined) === (pkg === undefined)) {
    throw errors.badValue(ctx.file, field, 'exactly one of "path" or "package"', entry);
  }
  const out: Record<string, string> = {};
  if (path !== undefined) {
    if (typeof path !== 'string' || path.trim() === '')
      throw errors.badValue(ctx.file, `${field}.path`, 'a folder path', path);
    out['path'] = path;
  }
  if (pkg !== undefined) {
    if (typeof pkg !== 'string' || pkg.trim() === '')
      throw errors.badValue(ctx.file, `${field}.package`, 'a package name', pkg);
    out['package'] = pkg;
  }
  if (name !== undefined) {
    if (typeof name !== 'string') throw errors.badValue(ctx.file, `${field}.name`, 'a string', name);
    out['name'] = name;
  }
  if (mediaDirname !== undefined) out['mediaDirname'] = checkDirname(mediaDirname, ctx, `${field}.mediaDirname`);
  return out;
}

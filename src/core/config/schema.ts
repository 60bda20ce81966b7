/**
 * The JSON Schema of app-media.config.json, built from the same tables the
 * validator reads (options.ts), so editors check what the tool checks.
 * `npm run build` writes it to schema.json.
 */
import {
  appEntryFields,
  configFields,
  MAX_NAME_LENGTH,
  MODES,
  NAME_PATTERN,
  plain,
  type FieldSpec,
} from '../options.js';

type Schema = Record<string, unknown>;

/** Not empty, not "." or "..", no "/", "\" or NUL: the validator's isPlainSegment. */
const DIRNAME: Schema = { type: 'string', pattern: '^(?!\\.{1,2}$)[^/\\\\\\u0000]+$' };
const NON_BLANK: Schema = { type: 'string', pattern: '\\S' };
/** Not blank, and not starting with "~" (JSON does not expand it: the validator refuses it too). */
const PATH: Schema = { type: 'string', pattern: '^(?!~)[\\s\\S]*\\S' };

function fieldSchema(spec: FieldSpec): Schema {
  switch (spec.type) {
    case 'integer':
      return {
        type: 'integer',
        ...(spec.min !== undefined ? { minimum: spec.min } : {}),
        ...(spec.max !== undefined ? { maximum: spec.max } : {}),
      };
    case 'schema':
    case 'string':
      return { type: 'string', ...(spec.minLength !== undefined ? { minLength: spec.minLength } : {}) };
    case 'path':
      return PATH;
    case 'dirname':
      return DIRNAME;
    case 'boolean':
      return { type: 'boolean' };
    case 'mode':
      return { enum: [...MODES] };
    case 'globs':
      return { type: 'array', items: { type: 'string' } };
    case 'apps':
      return { type: 'array', items: { $ref: '#/$defs/app' } };
    case 'object':
      return objectSchema(spec.fields ?? {});
    case 'bucket':
      return { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' };
    case 'prefix':
      // "" or "/"-separated plain segments, a trailing "/" allowed, none "." or ".." or starting ".app-media".
      return {
        type: 'string',
        pattern: '^$|^(?!/)(?!.*(^|/)\\.{1,2}(/|$))(?!(.*/)?\\.app-media)[^\\\\\\u0000]*[^/\\\\\\u0000]/*$',
      };
    case 'url':
      return { type: 'string', pattern: '^https?://[^\\s/]+' };
    case 'cacheControl':
      return {
        type: 'object',
        properties: { immutable: { type: 'string', minLength: 1 }, mutable: { type: 'string', minLength: 1 } },
        additionalProperties: false,
      };
  }
}

/** The properties of a table's rows, each with its description and default. */
function propertiesOf(fields: Readonly<Record<string, FieldSpec>>): Record<string, Schema> {
  const properties: Record<string, Schema> = {};
  for (const [name, spec] of Object.entries(fields)) {
    const schema: Schema = { description: plain(spec.description), ...fieldSchema(spec) };
    if (spec.default !== undefined) schema['default'] = spec.default;
    properties[name] = schema;
  }
  return properties;
}

function objectSchema(fields: Readonly<Record<string, FieldSpec>>): Schema {
  return {
    type: 'object',
    properties: propertiesOf(fields),
    required: Object.entries(fields)
      .filter(([, spec]) => spec.required)
      .map(([name]) => name),
    additionalProperties: false,
  };
}

export function configSchema(): Schema {
  const properties = propertiesOf(configFields);
  const entryProperties: Record<(typeof appEntryFields)[number], Schema> = {
    path: { description: 'a folder, relative to this file', ...NON_BLANK },
    package: { description: 'an installed package, resolved from the project as Node would', ...NON_BLANK },
    name: {
      description: "the app's name: its entry under mediaRoot",
      type: 'string',
      pattern: NAME_PATTERN.source,
      maxLength: MAX_NAME_LENGTH,
    },
    mediaDirname: {
      description: "the app's media folder name (default: its package.json, then the project's)",
      ...DIRNAME,
    },
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://unpkg.com/gulp-app-media/schema.json',
    title: 'gulp-app-media configuration (app-media.config.json, or "appMedia" in package.json)',
    type: 'object',
    properties,
    required: Object.entries(configFields)
      .filter(([, spec]) => 'required' in spec && spec.required)
      .map(([name]) => name),
    additionalProperties: false,
    $defs: {
      app: {
        oneOf: [
          { description: '"./folder" or "package" / "@scope/package"', ...NON_BLANK },
          {
            type: 'object',
            properties: entryProperties,
            additionalProperties: false,
            oneOf: [{ required: ['path'] }, { required: ['package'] }],
          },
        ],
      },
    },
  };
}

/**
 * Reading this package's flags from a command line, as the flag table in
 * options.ts defines them: one parser (Node's util.parseArgs) for the
 * `app-media` command, where it is strict, and for the gulp tasks, whose
 * command line also holds gulp's flags, task names and other tasks' flags
 * (src/gulp/command-line.ts decides which of those are ours to refuse).
 */
import { parseArgs } from 'node:util';
import leven from 'leven';
import { errors } from '../core/errors.js';
import { flagName, flags as allFlags, flagsFor, TASKS, type FlagSpec, type TaskName } from '../core/options.js';
import type { RunOptions } from '../core/types.js';
import { nearest } from '../core/util/nearest.js';

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** A flag as the parser knows it: `no-prune` for the negated one. */
export function parserName(flag: FlagSpec): string {
  return flag.negated ? `no-${flag.name}` : flag.name;
}

export function parserOptions(specs: readonly FlagSpec[]): ParseArgsOptions {
  const options: ParseArgsOptions = {};
  for (const spec of specs)
    options[parserName(spec)] = { type: spec.kind, ...(spec.short ? { short: spec.short } : {}) };
  return options;
}

/** One option on the command line, as parseArgs read it. */
export interface OptionToken {
  /** Without dashes; a short option resolved to its long name when known. */
  name: string;
  /** As written: `--dryrun`, `-x`. */
  raw: string;
  value: string | undefined;
  /** Written as `--name=value`. */
  inline: boolean;
}

export interface Tokens {
  options: OptionToken[];
  positionals: string[];
}

/**
 * The one call of parseArgs. Not strict: the callers decide what an unknown
 * flag means (the command refuses every one; under gulp, see command-line.ts).
 */
export function tokenize(argv: readonly string[], options: ParseArgsOptions): Tokens {
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const out: Tokens = { options: [], positionals: [] };
  for (const token of tokens) {
    if (token.kind === 'positional') out.positionals.push(token.value);
    else if (token.kind === 'option')
      out.options.push({
        name: token.name,
        raw: token.rawName,
        value: token.value,
        inline: token.inlineValue === true,
      });
  }
  return out;
}

/** What a command line sets: run options, and the flags the runner reads itself. */
export interface ParsedFlags {
  options: Partial<RunOptions>;
  json: boolean;
  verbose: boolean;
}

/**
 * The run options of the flags `specs` among `tokens`, each value checked:
 * a string flag needs a value (not another flag), one of its allowed values;
 * a boolean flag takes none.
 */
export function runOptionsFrom(tokens: Tokens, specs: readonly FlagSpec[]): ParsedFlags {
  const options: Partial<RunOptions> = {};
  const byName = new Map(specs.map((spec) => [parserName(spec), spec]));
  let json = false;
  let verbose = false;
  for (const token of tokens.options) {
    const spec = byName.get(token.name);
    if (!spec) continue;
    let value: string | boolean;
    if (spec.kind === 'string') {
      if (token.value === undefined || token.value === '' || (!token.inline && token.value.startsWith('-'))) {
        throw errors.badFlag(
          `--${spec.name}`,
          `--${spec.name} needs a value ${spec.arg ?? ''}`.trim(),
          `write it as --${spec.name} ${spec.arg ?? '<value>'}`,
        );
      }
      if (spec.values && !spec.values.includes(token.value)) {
        throw errors.badFlag(
          `--${spec.name}`,
          `--${spec.name} must be one of ${spec.values.join(', ')}, not "${token.value}"`,
          `for example --${spec.name} ${spec.values[0] ?? ''}`,
        );
      }
      value = token.value;
    } else {
      if (token.value !== undefined) {
        throw errors.badFlag(
          flagName(spec),
          `${flagName(spec)} takes no value (got "${token.value}")`,
          `write it as ${flagName(spec)} alone`,
        );
      }
      value = !spec.negated;
    }
    if (spec.name === 'json') json = true;
    if (spec.name === 'verbose') verbose = true;
    if (spec.option) (options as Record<string, unknown>)[spec.option] = value;
  }
  return { options, json, verbose };
}

/** The tasks whose flags include this one (`--force`: clean). */
export function tasksTaking(name: string): TaskName[] {
  return TASKS.filter((task) => flagsFor(task).some((flag) => parserName(flag) === name));
}

const squash = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');

/**
 * The flag of ours that `name` is a near miss of: the same once case, `-` and
 * `_` are ignored (`--dryrun`, `--dry_run`, `--DryRun`), or one edit away (two
 * for names of six letters or more: `--forse`, `--no-prunes`, `--dyr-run`).
 */
export function nearMiss(name: string): FlagSpec | undefined {
  const word = squash(name);
  if (word.length < 2) return undefined;
  let best: FlagSpec | undefined;
  let bestDistance = Infinity;
  for (const flag of allFlags) {
    if (flag.only === 'command') continue;
    const ours = squash(parserName(flag));
    const distance = leven(word, ours);
    if (distance <= (ours.length >= 6 ? 2 : 1) && distance < bestDistance) {
      best = flag;
      bestDistance = distance;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// The `app-media` command: `app-media [flags] <task> [flags]`, strict.

export interface CommandLine {
  task: TaskName | undefined;
  help: boolean;
  version: boolean;
  silent: boolean;
  flags: ParsedFlags;
}

/** Every flag of every task and of the command: known to the parser, so a value is never taken for the task. */
const COMMAND_OPTIONS = parserOptions(uniqueByName(allFlags));

function uniqueByName(specs: readonly FlagSpec[]): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const spec of specs) if (!seen.has(parserName(spec))) seen.set(parserName(spec), spec);
  return [...seen.values()];
}

/** What a command line asks for before it is checked: how to report it if it does not parse (`--json`, `--silent`). */
export interface CommandLineAsked {
  /** The task named, when it is one. */
  task: TaskName | undefined;
  json: boolean;
  verbose: boolean;
  silent: boolean;
}

export function askedOf(tokens: Tokens): CommandLineAsked {
  const has = (name: string): boolean => tokens.options.some((token) => token.name === name);
  const task = tokens.positionals[0];
  return {
    task: (TASKS as readonly string[]).includes(task ?? '') ? (task as TaskName) : undefined,
    json: has('json'),
    verbose: has('verbose'),
    silent: has('silent'),
  };
}

/** The command line read (never throws: see `askedOf`), and checked (`parseCommandLine`). */
export function readCommandLine(argv: readonly string[]): { asked: CommandLineAsked; parse: () => CommandLine } {
  const tokens = tokenize(argv, COMMAND_OPTIONS);
  return { asked: askedOf(tokens), parse: () => checkCommandLine(argv, tokens) };
}

export function parseCommandLine(argv: readonly string[]): CommandLine {
  return readCommandLine(argv).parse();
}

function checkCommandLine(argv: readonly string[], tokens: Tokens): CommandLine {
  const has = (name: string): boolean => tokens.options.some((token) => token.name === name);
  const [task, ...extra] = tokens.positionals;
  if (task !== undefined && !(TASKS as readonly string[]).includes(task)) {
    const close = nearest(task, TASKS);
    throw errors.badFlag(
      task,
      `unknown task "${task}"`,
      close
        ? `did you mean "app-media ${close}"? (app-media --help lists the tasks)`
        : 'app-media --help lists the tasks',
    );
  }
  const name = task as TaskName | undefined;
  for (const token of tokens.options) {
    if (Object.hasOwn(COMMAND_OPTIONS, token.name)) continue;
    const where = name ? `app-media ${name}` : 'app-media';
    const known = name ? flagsFor(name, 'command').map(parserName) : [];
    const close =
      known.find((flag) => flag === `no-${token.name}`) ?? nearest(token.name, known) ?? nearMiss(token.name)?.name;
    throw errors.badFlag(
      token.raw,
      `unknown flag ${token.raw}`,
      close ? `did you mean --${close}? (${where} --help lists its flags)` : `${where} --help lists its flags`,
    );
  }
  if (name !== undefined) {
    const own = new Set(flagsFor(name, 'command').map(parserName));
    for (const token of tokens.options) {
      if (own.has(token.name)) continue;
      const owners = tasksTaking(token.name);
      throw errors.badFlag(
        token.raw,
        `${token.raw} is not a flag of app-media ${name}`,
        `${owners.length > 0 ? `it is a flag of ${owners.map((owner) => `app-media ${owner}`).join(', ')}; ` : ''}` +
          `app-media ${name} --help lists its flags`,
      );
    }
  }
  if (extra.length > 0) {
    throw errors.badFlag(
      extra[0] ?? '',
      `unexpected argument "${extra[0] ?? ''}"`,
      `app-media ${name ?? '<task>'} takes one task and flags; see app-media ${name ?? ''} --help`.replace(
        / {2}/g,
        ' ',
      ),
    );
  }
  const flags = runOptionsFrom(tokens, name ? flagsFor(name, 'command') : []);
  // The authority: Node's strict parse of the same table must agree that the line is well formed.
  try {
    parseArgs({ args: [...argv], options: COMMAND_OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw errors.badFlag(
      undefined,
      (error as Error).message.split('\n')[0] ?? String(error),
      `app-media ${name ?? ''} --help lists the flags`.replace(/ {2}/g, ' '),
    );
  }
  return { task: name, help: has('help'), version: has('version'), silent: has('silent'), flags };
}

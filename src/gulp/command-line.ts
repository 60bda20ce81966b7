/**
 * Our flags on gulp's command line. gulp hands every flag to every task, and
 * other tasks may own flags of their own (`gulp build --production`), so not
 * every unknown flag is ours to refuse. The rule (README, "Flags under gulp"):
 *
 * 1. a flag that is a near miss of one of ours (`--dryrun`, `--dry_run`,
 *    `--forse`, `--no-prunes`) stops the media task before it reads or writes
 *    anything, with a did-you-mean line, whatever else is on the command line;
 * 2. when every task named on the command line (or `default`) is one of the
 *    media tasks, under whatever name it was exported, any other unknown flag
 *    stops it too, and so does a flag of ours that none of them takes
 *    (`gulp media:link --force`); flags listed in the `allowFlags` option pass;
 * 3. otherwise the flag belongs to another task and is left alone.
 *
 * gulp's own flags (`--silent`, `--series`, `-f <file>`...) are always fine.
 */
import { errors } from '../core/errors.js';
import { flagName, flags as allFlags, flagsFor, type FlagSpec, type TaskName } from '../core/options.js';
import {
  nearMiss,
  parserName,
  parserOptions,
  runOptionsFrom,
  tasksTaking,
  tokenize,
  type ParsedFlags,
} from '../cli/flags.js';

/** gulp-cli's own flags (3.x, and 2.x's --require and --verify): never ours to judge. */
const GULP_CLI_FLAGS: readonly FlagSpec[] = [
  ...[
    'help:h',
    'version:v',
    'tasks:T',
    'tasks-simple',
    'compact-tasks',
    'sort-tasks',
    'color',
    'no-color',
    'silent:S',
    'continue',
    'series',
  ].map((entry) => {
    const [name = '', short] = entry.split(':');
    return { name, kind: 'boolean' as const, ...(short ? { short } : {}), tasks: 'all' as const, description: '' };
  }),
  ...['preload', 'gulpfile:f', 'cwd', 'require', 'tasks-json', 'tasks-depth', 'depth', 'verify'].map((entry) => {
    const [name = '', short] = entry.split(':');
    return { name, kind: 'string' as const, ...(short ? { short } : {}), tasks: 'all' as const, description: '' };
  }),
];

/** `-L`, `-LL`, `-LLL`: a count. */
const OPTIONS = {
  ...parserOptions(allFlags.filter((flag) => flag.only !== 'command')),
  ...parserOptions(GULP_CLI_FLAGS),
  'log-level': { type: 'boolean' as const, short: 'L', multiple: true },
};
const OURS = new Set(allFlags.filter((flag) => flag.only !== 'command').map(parserName));

export interface GulpCommandLineContext {
  /** The media task that is about to run. */
  task: TaskName;
  /**
   * For each task named on the command line, which media task it is, or undefined when it is
   * not one (a series of your own, a task of another plugin) or cannot be told.
   */
  mediaTasksOnCommandLine: (positionals: readonly string[]) => Array<{ name: string; task: TaskName | undefined }>;
  /** Flags your gulpfile reads itself: let through. */
  allowFlags: readonly string[];
}

/** Reads our flags from gulp's command line, refusing what the rule above refuses. */
export function readGulpFlags(argv: readonly string[], context: GulpCommandLineContext): ParsedFlags {
  const tokens = tokenize(argv, OPTIONS);
  const allowed = new Set(context.allowFlags.map((flag) => flag.replace(/^-+/, '')));
  const unknown = tokens.options.filter((token) => !Object.hasOwn(OPTIONS, token.name) && !allowed.has(token.name));

  for (const token of unknown) {
    const close = nearMiss(token.name);
    if (close) {
      throw errors.badFlag(
        token.raw,
        `unknown flag ${token.raw} (did you mean ${flagName(close)}?)`,
        `it looks like a typo of ${flagName(close)}: fix it and run again; ` +
          `nothing was done (gulp --tasks lists each task's flags)`,
      );
    }
  }

  const named = context.mediaTasksOnCommandLine(tokens.positionals);
  const onlyMedia = named.length > 0 && named.every((entry) => entry.task !== undefined);
  if (onlyMedia) {
    const running = named.map((entry) => entry.name).join(', ');
    const taken = new Set(named.flatMap((entry) => flagsFor(entry.task as TaskName).map(parserName)));
    for (const token of unknown) {
      throw errors.badFlag(
        token.raw,
        `unknown flag ${token.raw}: no task on the command line (${running}) takes it`,
        `gulp --tasks lists each task's flags; a flag your gulpfile reads itself goes in the allowFlags option: ` +
          `mediaTasks({ allowFlags: ['${token.name}'] })`,
      );
    }
    for (const token of tokens.options) {
      if (!OURS.has(token.name) || taken.has(token.name)) continue;
      const owners = tasksTaking(token.name);
      throw errors.badFlag(
        token.raw,
        `${token.raw} is not a flag of ${running}`,
        `${owners.length > 0 ? `it is a flag of ${owners.map((owner) => `media:${owner}`).join(', ')}; ` : ''}` +
          `gulp --tasks lists each task's flags`,
      );
    }
  }
  return runOptionsFrom(tokens, flagsFor(context.task));
}

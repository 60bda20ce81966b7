/** Reading this package's flags from the command line, as the flag table in options.ts defines them. */
import { parseArgs } from 'node:util';
import { errors } from '../errors.js';
import { flagsFor } from '../options.js';
import type { Mode, RunOptions, TaskName } from '../types.js';

export interface ParsedFlags {
  /** Settings that go into the run options. */
  options: Partial<RunOptions>;
  json: boolean;
  verbose: boolean;
}

/**
 * Picks our flags out of an argv that also holds gulp's own flags and task
 * names (those are left alone: gulp has read them already).
 */
export function readFlags(argv: readonly string[], task: TaskName): ParsedFlags {
  const specs = flagsFor(task);
  const parseOptions: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const spec of specs) parseOptions[spec.negated ? `no-${spec.name}` : spec.name] = { type: spec.kind };
  const { values } = parseArgs({ args: [...argv], options: parseOptions, strict: false, allowPositionals: true });

  const options: Partial<RunOptions> = {};
  for (const spec of specs) {
    const key = spec.negated ? `no-${spec.name}` : spec.name;
    const value = values[key];
    if (value === undefined) continue;
    if (spec.kind === 'string') {
      if (typeof value !== 'string' || value === '') {
        throw errors.badFlag(`--${spec.name}`, `--${spec.name} needs a value ${spec.arg ?? ''}`.trim(), `write it as --${spec.name} ${spec.arg ?? '<value>'}`);
      }
      if (spec.values && !spec.values.includes(value)) {
        throw errors.badFlag(`--${spec.name}`, `--${spec.name} must be one of ${spec.values.join(', ')}, not "${value}"`, `for example --${spec.name} ${spec.values[0] ?? ''}`);
      }
    }
    switch (spec.name) {
      case 'config': options.config = value as string; break;
      case 'mode': options.mode = value as Mode; break;
      case 'dry-run': options.dryRun = value === true; break;
      case 'verbose': options.verbose = value === true; break;
      case 'prune': options.prune = value !== true; break;
      case 'force': options.force = value === true; break;
      case 'checksum': options.checksum = value === true; break;
      case 'conflicts': options.conflicts = value as 'warn' | 'fail'; break;
      case 'url': options.url = value as string; break;
      case 'path': options.path = value as string; break;
      default: break;
    }
  }
  return { options, json: values['json'] === true, verbose: values['verbose'] === true };
}

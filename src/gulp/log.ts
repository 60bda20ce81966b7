/** Our lines go through gulp's own logger, so `--silent` and `--log-level` apply. */
import type { EventEmitter } from 'node:events';
import gulplog from 'gulplog';
import type { Logger } from '../types.js';

/** Colours on a terminal only, and never under NO_COLOR, FORCE_COLOR=0 or gulp's --no-color. */
export function wantsColor(stream: { isTTY?: boolean } = process.stdout, env = process.env, argv = process.argv): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] === '0' || argv.includes('--no-color')) return false;
  if (argv.includes('--color') || (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '')) return true;
  return stream.isTTY === true;
}

export function gulpLogger(): Logger {
  return {
    color: wantsColor(),
    debug: (message) => gulplog.debug(message),
    info: (message) => gulplog.info(message),
    warn: (message) => gulplog.warn(message),
    // An "error" event with no listener would throw (outside gulp's CLI): fall back to warn.
    error: (message) => ((gulplog as unknown as EventEmitter).listenerCount('error') > 0 ? gulplog.error(message) : gulplog.warn(message)),
  };
}

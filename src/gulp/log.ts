/** Our lines go through gulp's own logger, so `--silent` and `--log-level` apply. */
import type { EventEmitter } from 'node:events';
import gulplog from 'gulplog';
import type { Logger } from '../core/types.js';
import { wantsColor } from '../core/util/color.js';

export { wantsColor };

export function gulpLogger(): Logger {
  return {
    color: wantsColor(),
    debug: (message) => gulplog.debug(message),
    info: (message) => gulplog.info(message),
    warn: (message) => gulplog.warn(message),
    // An "error" event with no listener would throw (outside gulp's CLI): fall back to warn.
    error: (message) =>
      (gulplog as unknown as EventEmitter).listenerCount('error') > 0 ? gulplog.error(message) : gulplog.warn(message),
  };
}

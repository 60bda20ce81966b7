/**
 * What `--json` prints when a run fails as a whole, in place of a Report: a coded user error
 * (bad config, bad flag) or a failed system call (the code, the call and the path).
 */
import { isAppMediaError } from './errors.js';
import { describeSystemError, isSystemError, systemErrorHint } from './system-errors.js';
import { toDisplay } from './display.js';

export interface ErrorDocument {
  task: string | null;
  error: { code: string; message: string; file: string | null; field: string | null; hint: string };
}

/** The document for `error`, or undefined for an error of neither kind (a bug: its stack is printed). */
export function errorDocument(task: string | null, error: unknown, projectRoot: string): ErrorDocument | undefined {
  if (isAppMediaError(error)) {
    return {
      task,
      error: {
        code: error.code,
        message: error.message,
        file: error.file ?? null,
        field: error.field ?? null,
        hint: error.hint,
      },
    };
  }
  if (isSystemError(error)) {
    const file = typeof error.path === 'string' ? toDisplay(projectRoot, error.path) : null;
    return {
      task,
      error: {
        code: error.code,
        message: describeSystemError(error, projectRoot),
        file,
        field: null,
        hint: systemErrorHint(error.code),
      },
    };
  }
  return undefined;
}

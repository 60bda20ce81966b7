/**
 * Errors of system calls (EACCES, ENOSPC...) as a user reads them: the code once, the call,
 * the path as the user knows it, and a hint. An app's `error` line says this, and so does a
 * run that fails as a whole (no stack trace unless --verbose).
 */
import { toDisplay } from './display.js';
import { labelOfTemp, STAGING_LABEL, STAGING_SHOWN, TEMP_MARK } from './fs/temp.js';

const HINTS: Record<string, string> = {
  EACCES: "check that the account running the task may read the app's media folder and write to mediaRoot",
  EPERM: 'the operation was not permitted: check permissions and whether the file system allows it',
  ENOSPC: 'the disk is full: free some space and run again',
  EIO: 'the disk reported a read or write error: check the device (dmesg, SMART) before running again',
  EROFS: 'mediaRoot is on a read-only file system',
  ENOENT: 'a folder vanished while the task ran: run again',
};

/** An error of a system call: it carries the error code and the call's name. */
export type SystemError = NodeJS.ErrnoException & { code: string; syscall: string };

/** Whether `error` comes from a system call. */
export function isSystemError(error: unknown): error is SystemError {
  const errno = error as NodeJS.ErrnoException | undefined;
  return error instanceof Error && typeof errno?.code === 'string' && typeof errno.syscall === 'string';
}

/** `EACCES (copyfile) apps/blog/app_media/blog/css/site.css`: the code once, the path as the user knows it. */
export function describeSystemError(errno: NodeJS.ErrnoException, projectRoot: string): string {
  const where = [errno.path, (errno as { dest?: unknown }).dest]
    .filter((file): file is string => typeof file === 'string')
    .map((file) => published(toDisplay(projectRoot, file)))
    .join(' -> ');
  return `${errno.code ?? 'error'}${errno.syscall ? ` (${errno.syscall})` : ''}${where ? ` ${where}` : ''}`;
}

/** A run that failed as a whole on a system call, as the task and the command print it: the line, then the hint. */
export function systemErrorLines(error: SystemError, projectRoot: string): string {
  return `${describeSystemError(error, projectRoot)}\n  hint: ${systemErrorHint(error.code)}`;
}

/** What to do about an error with this code. */
export function systemErrorHint(code: string | undefined): string {
  return (code !== undefined ? HINTS[code] : undefined) ?? 'run again with --verbose for details';
}

/** A temporary name in a path is shown as the published name it stands for; the run's staging folder as such. */
function published(file: string): string {
  return file
    .split('/')
    .map((part) => {
      if (!part.startsWith(TEMP_MARK)) return part;
      const label = labelOfTemp(part);
      return label === STAGING_LABEL ? STAGING_SHOWN : label || part;
    })
    .join('/');
}

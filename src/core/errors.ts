/**
 * Every error a user can cause, in one place. Each has a stable code, a
 * one-line message that names the file and field at fault, and a hint that
 * names the fix. Messages are built by the functions below so that the wording
 * lives here and nowhere else.
 */

export type AppMediaErrorCode =
  | 'APP_MEDIA_NO_CONFIG'
  | 'APP_MEDIA_CONFIG_NOT_FOUND'
  | 'APP_MEDIA_CONFIG_LOAD'
  | 'APP_MEDIA_NOT_A_FILE'
  | 'APP_MEDIA_FILE_TOO_LARGE'
  | 'APP_MEDIA_BAD_JSON'
  | 'APP_MEDIA_UNKNOWN_FIELD'
  | 'APP_MEDIA_BAD_VALUE'
  | 'APP_MEDIA_MISSING_FIELD'
  | 'APP_MEDIA_APP_NOT_FOUND'
  | 'APP_MEDIA_PACKAGE_NOT_FOUND'
  | 'APP_MEDIA_BAD_NAME'
  | 'APP_MEDIA_DUPLICATE_NAME'
  | 'APP_MEDIA_UNSAFE_MEDIA_ROOT'
  | 'APP_MEDIA_LOOP'
  | 'APP_MEDIA_BAD_FLAG'
  | 'APP_MEDIA_BAD_OPTION'
  | 'APP_MEDIA_LINK_REFUSED'
  | 'APP_MEDIA_SHARED_ROOT'
  | 'APP_MEDIA_FOREIGN_RECORDS'
  | 'APP_MEDIA_FOREIGN_LOCK'
  | 'APP_MEDIA_LOCK_UNSUPPORTED'
  | 'APP_MEDIA_UNSAFE_COLLECT_ROOT'
  | 'APP_MEDIA_RECORDS_CONFLICT'
  | 'APP_MEDIA_MISSING_REFERENCE'
  | 'APP_MEDIA_BAD_MANIFEST'
  | 'APP_MEDIA_NOT_IN_MANIFEST'
  // media:publish (issue 28)
  | 'APP_MEDIA_NOTHING_COLLECTED'
  | 'APP_MEDIA_BAD_COLLECT_OUTPUT'
  | 'APP_MEDIA_COLLECT_UNFINISHED'
  | 'APP_MEDIA_PUBLISH_RECORD_CONFLICT'
  | 'APP_MEDIA_PUBLISH_BUSY'
  | 'APP_MEDIA_PUBLISH_CREDENTIALS'
  | 'APP_MEDIA_PUBLISH_NO_BUCKET'
  | 'APP_MEDIA_PUBLISH_ACCESS_DENIED'
  | 'APP_MEDIA_PUBLISH_FAILED';

export interface AppMediaErrorDetails {
  /** The file at fault, relative to the project root where possible. */
  file?: string | undefined;
  /** The field at fault, as a path into the config (`apps[2].name`). */
  field?: string | undefined;
  cause?: unknown;
}

export class AppMediaError extends Error {
  override readonly name = 'AppMediaError';
  /**
   * gulp prints `toString()` instead of the stack when this is a boolean
   * (a user error is one coded line and its hint: no stack unless --verbose, which sets it to undefined).
   */
  showStack: boolean | undefined = false;
  readonly code: AppMediaErrorCode;
  readonly hint: string;
  readonly file: string | undefined;
  readonly field: string | undefined;

  constructor(code: AppMediaErrorCode, message: string, hint: string, details: AppMediaErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.hint = hint;
    this.file = details.file;
    this.field = details.field;
  }

  /** The one line a user sees: code, where, what. */
  oneLine(): string {
    const where = [this.file, this.field].filter(Boolean).join(' ');
    return `${this.code}: ${where ? `${where}: ` : ''}${this.message}`;
  }

  /** The line and its hint: what gulp (or any `String(error)`) shows. */
  override toString(): string {
    return `${this.oneLine()}\n  hint: ${this.hint}`;
  }
}

export function isAppMediaError(value: unknown): value is AppMediaError {
  if (value instanceof AppMediaError) return true;
  // The same class from another copy of this module: the command's bundle loads media:publish
  // from dist/publish/ (to keep the AWS SDK out of its start-up), whose errors.js is not the bundle's.
  const other = value as Partial<AppMediaError> | null;
  return (
    value instanceof Error &&
    other?.name === 'AppMediaError' &&
    typeof other.code === 'string' &&
    other.code.startsWith('APP_MEDIA_') &&
    typeof other.oneLine === 'function' &&
    typeof other.hint === 'string'
  );
}

const at = (file: string | undefined, field?: string): AppMediaErrorDetails => ({ file, field });

export const errors = {
  noConfig(looked: string[], folders: string[]): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_NO_CONFIG',
      `no configuration found: looked for ${looked.join(', ')} in ${folders.join(', ')}`,
      'create app-media.config.json in your project folder (beside package.json or the gulpfile) ' +
        'with at least {"mediaRoot": "public/media", "apps": ["./apps/blog"]}, or pass options in code',
    );
  },
  configLoad(file: string, detail: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_CONFIG_LOAD',
      `loading the config file failed: ${detail}`,
      'fix the error at that place in the file (run with --verbose for the stack trace)',
      at(file),
    );
  },
  notAFile(file: string, kind: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_NOT_A_FILE',
      `${kind}, not a regular file`,
      'point it at a regular file (a config file and package.json are read whole, so a pipe, ' +
        'a device or a folder cannot be one)',
      at(file),
    );
  },
  fileTooLarge(file: string, size: number, limit: number): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_FILE_TOO_LARGE',
      `${mebibytes(size)}, more than the ${mebibytes(limit)} a config file or package.json may be`,
      'check that the path names the file you meant; a real config is a few kilobytes',
      at(file),
    );
  },
  badOption(option: string, message: string, hint: string): AppMediaError {
    return new AppMediaError('APP_MEDIA_BAD_OPTION', message, hint, at('options in code', option));
  },
  configNotFound(file: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_CONFIG_NOT_FOUND',
      'the config file given with --config does not exist',
      'check the path; it is resolved against the folder gulp runs in',
      at(file),
    );
  },
  badJson(file: string, line: number, column: number, detail: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_BAD_JSON',
      `malformed JSON at line ${line} column ${column}: ${detail}`,
      'fix the JSON syntax at that place (a trailing comma or a missing quote is the usual cause)',
      at(`${file}:${line}:${column}`),
    );
  },
  unknownField(file: string | undefined, field: string, nearest: string | undefined): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_UNKNOWN_FIELD',
      `unknown field "${field.split('.').pop() ?? field}"${nearest ? ` (did you mean "${nearest}"?)` : ''}`,
      nearest ? `rename it to "${nearest}"` : 'remove it; see the configuration table in the README',
      at(file, field),
    );
  },
  badValue(file: string | undefined, field: string, expected: string, got: unknown, hint?: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_BAD_VALUE',
      `expected ${expected}, got ${describe(got)}`,
      hint ?? `set "${field}" to ${expected}`,
      at(file, field),
    );
  },
  missingField(file: string | undefined, field: string, example: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_MISSING_FIELD',
      `"${field}" is required`,
      `add it, for example ${example}`,
      at(file, field),
    );
  },
  appNotFound(file: string | undefined, field: string, dir: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_APP_NOT_FOUND',
      `app folder ${dir} does not exist`,
      'fix the path (folder apps resolve against the file that lists them) or remove the entry',
      at(file, field),
    );
  },
  packageNotFound(file: string | undefined, field: string, pkg: string, folder: string | undefined): AppMediaError {
    // "apps/shop" is no package name npm would look up (it reads it as the GitHub repository
    // apps/shop): the fix a user wants is nearly always the folder.
    const scoped = pkg.startsWith('@');
    const hint =
      folder !== undefined
        ? `the folder ${folder} exists: write "./${pkg}" (a folder entry starts with ./ or ../); ` +
          `without it, "${pkg}" is read as a package name`
        : pkg.includes('/') && !scoped
          ? `for a folder, write "./${pkg}" (a folder entry starts with ./ or ../); ` +
            `a package name with "/" starts with @ ("@scope/name")`
          : `write "./${pkg}" if you meant a folder; if it is a package, install it (npm install ${pkg})`;
    return new AppMediaError(
      'APP_MEDIA_PACKAGE_NOT_FOUND',
      `package "${pkg}" is not installed (not found in any node_modules above the project)`,
      hint,
      at(file, field),
    );
  },
  badName(file: string | undefined, field: string, name: string, why: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_BAD_NAME',
      `invalid app name ${JSON.stringify(name)}: ${why}`,
      'give the app a "name" made of letters, digits, ".", "_" and "-", starting with a letter or digit',
      at(file, field),
    );
  },
  badDirname(file: string | undefined, field: string, value: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_BAD_VALUE',
      `invalid mediaDirname ${JSON.stringify(value)}: it must be one folder name, without "..", "/" or "\\"`,
      'use a plain folder name such as "app_media" or "static"',
      at(file, field),
    );
  },
  duplicateName(file: string | undefined, name: string, first: string, second: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_DUPLICATE_NAME',
      `two apps are named "${name}": ${first} and ${second}`,
      `give one of them another name with an object entry: { "path": "...", "name": ` +
        `"${name}-2" } (its media folder must then be <mediaDirname>/${name}-2/)`,
      at(file, 'apps'),
    );
  },
  unsafeMediaRoot(file: string | undefined, mediaRoot: string, why: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_UNSAFE_MEDIA_ROOT',
      `refusing mediaRoot ${mediaRoot}: ${why}`,
      'point mediaRoot at a folder of its own inside the project, such as "public/media"',
      at(file, 'mediaRoot'),
    );
  },
  loop(
    file: string | undefined,
    mediaRoot: string,
    app: string,
    mediaDir: string,
    inside: 'root-in-media' | 'media-in-root',
  ): AppMediaError {
    const what =
      inside === 'root-in-media'
        ? `mediaRoot ${mediaRoot} is inside app "${app}"'s media folder ${mediaDir}`
        : `app "${app}"'s media folder ${mediaDir} is inside mediaRoot ${mediaRoot}`;
    return new AppMediaError(
      'APP_MEDIA_LOOP',
      `${what}: linking would make a loop`,
      'keep mediaRoot and the apps\' media folders apart, for example mediaRoot "public/media" and apps under "apps/"',
      at(file, 'mediaRoot'),
    );
  },
  badFlag(flag: string | undefined, message: string, hint: string): AppMediaError {
    return new AppMediaError('APP_MEDIA_BAD_FLAG', message, hint, at(undefined, flag));
  },
  sharedRoot(file: string | undefined, folder: string, who: string, isMediaRoot: boolean, task: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_SHARED_ROOT',
      `refusing to write: ${isMediaRoot ? 'mediaRoot' : 'a folder on the way to mediaRoot'}, ${folder}, ` +
        `can be written by ${who}, who could then make app-media delete or write through a link elsewhere`,
      who.startsWith('user ')
        ? `run the task as that user (for example: sudo -u ${who.split(' ')[1] ?? 'that-user'} npx app-media ` +
            `${task}), or make the folder writable only by you (chown, chmod go-w); if sharing it is intended, ` +
            `set "sharedMediaRoot": true and read "Who may write mediaRoot" in docs/safety.md first`
        : `make the folder writable only by you (chmod go-w, or chown it to you), ` +
            `or run the task as its owner; if sharing it is intended, set "sharedMediaRoot": ` +
            `true and read "Who may write mediaRoot" in docs/safety.md first`,
      at(file, isMediaRoot ? 'mediaRoot' : undefined),
    );
  },
  foreignRecords(file: string, why: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_FOREIGN_RECORDS',
      `this is not app-media's records file (${why}); it was left as it is and nothing was done`,
      'app-media never writes over it: if the file is yours, move it out of mediaRoot; ' +
        'if it is a damaged records file of app-media, remove it (the entries it listed are then ' +
        'treated as not made by app-media, and left alone)',
      at(file),
    );
  },
  foreignLock(file: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_FOREIGN_LOCK',
      "a file with the name of app-media's lock is there, but it is not one of its locks; " +
        'it was left as it is and nothing was done',
      'app-media reserves this name: move the file out of mediaRoot, then run again',
      at(file),
    );
  },
  lockUnsupported(file: string, cause: NodeJS.ErrnoException): AppMediaError {
    const code = cause.code ?? 'unknown error';
    // No hard links on this file system (FAT, exFAT, some shares), or another failure of the link itself.
    const noLinks = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'].includes(code);
    return new AppMediaError(
      'APP_MEDIA_LOCK_UNSUPPORTED',
      `the lock could not be put in place: ${noLinks ? 'the file system refused a hard link' : 'linking it failed'} ` +
        `(${code}), which the lock is made with; nothing was done (a run without the lock could meet another one ` +
        'at work)',
      noLinks
        ? 'put mediaRoot (or collectRoot) on a file system with hard links (ext4, xfs, btrfs, APFS, NTFS; ' +
            'not FAT/exFAT or a share mounted without them)'
        : `fix what ${code} says (space, quota, the disk), then run again`,
      { ...at(file), cause },
    );
  },
  linkRefused(cause: NodeJS.ErrnoException): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_LINK_REFUSED',
      `the file system refused to make a symbolic link (${cause.code ?? 'unknown error'})`,
      process.platform === 'win32'
        ? 'enable Developer Mode or run as administrator, or use --mode auto (junction or copy) or --mode copy'
        : 'use --mode auto (falls back to a copy) or --mode copy',
      { cause },
    );
  },
  unsafeCollectRoot(file: string | undefined, collectRoot: string, why: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_UNSAFE_COLLECT_ROOT',
      `refusing collectRoot ${collectRoot}: ${why}`,
      'point collectRoot at a folder of its own for the build, apart from mediaRoot and the apps, such as "dist/media"',
      at(file, 'collectRoot'),
    );
  },
  sharedCollectRoot(file: string | undefined, folder: string, who: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_SHARED_ROOT',
      `refusing to write the build: ${folder} (collectRoot or a folder on the way to it) ` +
        `can be written by ${who}, who could then make app-media delete or write through a link elsewhere`,
      'make the folder writable only by you (chmod go-w, or chown it to you), or run the task as its owner; ' +
        'a build folder is never shared',
      at(file, 'collectRoot'),
    );
  },
  recordsConflict(file: string, why: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_RECORDS_CONFLICT',
      `${file} is not app-media's records (${why}): it is never written over, and nothing in collectRoot is removed`,
      'if the file is not yours, move it away and run again (what is in collectRoot then counts as not ' +
        'made by app-media and is kept); or point collectRoot at another folder',
      at(file),
    );
  },
  missingReference(lines: readonly string[]): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_MISSING_REFERENCE',
      `${lines.length === 1 ? 'a stylesheet references a file' : `${lines.length} references name files`} ` +
        `that collect does not publish: ${lines.slice(0, 3).join('; ')}` +
        `${lines.length > 3 ? `; and ${lines.length - 3} more` : ''}; nothing was written`,
      "add the missing files to the app's media folder or fix the references; without --strict they are warnings",
    );
  },
  badManifest(file: string, why: string): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_BAD_MANIFEST',
      `${file} is not a usable media manifest: ${why}`,
      'run media:collect again to write it; a manifest is only ever read, never trusted for paths',
      at(file),
    );
  },
  notInManifest(name: string, manifest: string, near: string | undefined): AppMediaError {
    return new AppMediaError(
      'APP_MEDIA_NOT_IN_MANIFEST',
      `${JSON.stringify(name)} is not in ${manifest}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`,
      near
        ? `write ${JSON.stringify(near)}`
        : 'check the path (<app>/<path in its media folder>) and run media:collect after adding the file',
      at(manifest),
    );
  },
  ...publishErrors(),
};

/** media:publish's errors (issue 28): the collect output it reads, the bucket it writes. */
function publishErrors() {
  return {
    nothingCollected(collectRoot: string, missing: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_NOTHING_COLLECTED',
        `nothing to publish: ${collectRoot} has no ${missing}`,
        'run media:collect first (publish uploads what collect wrote), or point collectRoot at its output',
        at(`${collectRoot}/${missing}`),
      );
    },
    badCollectOutput(file: string, field: string, why: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_BAD_COLLECT_OUTPUT',
        `not usable as media:collect's output: ${why}`,
        'run media:collect again to rewrite it; nothing was uploaded',
        at(file, field),
      );
    },
    collectUnfinished(collectRoot: string, why: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_COLLECT_UNFINISHED',
        `nothing to publish yet: ${why}`,
        'run media:collect again (it finishes what the stopped run began), then media:publish; nothing was uploaded',
        at(collectRoot),
      );
    },
    recordConflict(key: string, why: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_PUBLISH_RECORD_CONFLICT',
        `the object ${key} is not a publish record of app-media (${why}): nothing was uploaded or deleted`,
        'if another tool owns that key, publish under another prefix; ' +
          'app-media never overwrites an object it did not write',
        at(key),
      );
    },
    publishBusy(key: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_PUBLISH_BUSY',
        `another publish changed ${key} while this one ran`,
        'run media:publish again once the other run has finished (what is already uploaded is not uploaded again)',
        at(key),
      );
    },
    publishCredentials(detail: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_PUBLISH_CREDENTIALS',
        `the object store refused the credentials (${detail})`,
        'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for this bucket; ' +
          "app-media reads credentials only from the AWS SDK's standard chain, never from its config",
      );
    },
    publishNoBucket(bucket: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_PUBLISH_NO_BUCKET',
        `the bucket "${bucket}" does not exist at this endpoint`,
        'check publish.bucket, publish.endpoint and publish.region (app-media never creates buckets)',
        at(undefined, 'publish.bucket'),
      );
    },
    publishAccessDenied(operation: string, key: string): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_PUBLISH_ACCESS_DENIED',
        `access denied to ${operation} ${key}`,
        'give these credentials s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket ' +
          'on the prefix (see the README, media:publish)',
        at(key),
      );
    },
    publishFailed(operation: string, key: string, detail: string, attempts: number): AppMediaError {
      return new AppMediaError(
        'APP_MEDIA_PUBLISH_FAILED',
        `${operation} ${key} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${detail}`,
        'check the endpoint and the network, then run media:publish again: it goes on from where it stopped',
        at(key),
      );
    },
  };
}

function mebibytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB` : `${bytes} bytes`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  // What is left (a number, a boolean, a function...) is shown as String() writes it.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return `${typeof value} ${String(value)}`;
}

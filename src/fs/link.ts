/**
 * Making one directory link, with vinyl-fs's `symlink`, on a path the plan has
 * proven free. vinyl-fs's `overwrite` is off and is never what protects data:
 * the plan does, and the result is checked afterwards.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { normalizeLinkText } from '../ownership.js';

/** Errors that mean "this file system or account does not make links", so a fallback may take over. */
const REFUSALS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL']);

export function isLinkRefusal(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && REFUSALS.has(code);
}

type VinylFs = typeof import('vinyl-fs');
type VinylClass = typeof import('vinyl');
let loaded: Promise<[VinylFs, VinylClass]> | undefined;

/** Loaded on first use: an up-to-date run never pays for it. */
function loadVinyl(): Promise<[VinylFs, VinylClass]> {
  loaded ??= Promise.all([import('vinyl-fs'), import('vinyl')]).then(([vfs, vinyl]) => [vfs.default, vinyl.default]);
  return loaded;
}

export interface MakeLinkOptions {
  kind: 'symlink' | 'junction';
  /** The folder the entry goes in, real path (relative texts are computed from it). */
  folder: string;
  name: string;
  /** Absolute path the link leads to. */
  target: string;
  relative: boolean;
  /** Stats of the target folder (vinyl-fs uses them to pick a directory link on Windows). */
  targetStat: Stats;
}

export async function makeLink(options: MakeLinkOptions): Promise<void> {
  const [vfs, Vinyl] = await loadVinyl();
  const file = new Vinyl({
    cwd: options.folder,
    base: options.folder,
    path: path.join(options.folder, options.name),
    stat: options.targetStat,
  });
  file.symlink = options.target;
  const stream = vfs.symlink(options.folder, {
    overwrite: false,
    relativeSymlinks: options.relative && options.kind === 'symlink',
    useJunctions: options.kind === 'junction',
  });
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('data', () => undefined);
    stream.on('end', resolve);
    stream.write(file);
    stream.end();
  });
}

export type LinkCheck = { ok: true } | { ok: false; why: string };

/** After making a link: it exists, is a link, has the text we meant and leads to the app's media folder. */
export async function checkLink(linkPath: string, expectedText: string, expectedReal: string): Promise<LinkCheck> {
  let stat: Stats;
  try {
    stat = await fs.lstat(linkPath);
  } catch {
    return { ok: false, why: 'no link was made' };
  }
  if (!stat.isSymbolicLink()) return { ok: false, why: 'something other than a link is at that path' };
  const text = await fs.readlink(linkPath);
  if (normalizeLinkText(text) !== normalizeLinkText(expectedText)) return { ok: false, why: `a different link is at that path (${text})` };
  let real: string;
  try {
    real = await fs.realpath(linkPath);
  } catch {
    return { ok: false, why: 'the new link does not resolve' };
  }
  if (real !== expectedReal) return { ok: false, why: `the new link resolves to ${real}` };
  return { ok: true };
}

/**
 * Refusals that come before anything is touched (docs/safety.md, rule 6). Pure: the
 * real paths come from the probe, the home folder from the caller.
 */
import path from 'node:path';
import type { ResolvedConfig } from '../core/config/load.js';
import { toDisplay } from '../core/display.js';
import { errors } from '../core/errors.js';
import { isInside } from '../core/fs/walk.js';
import type { AppFacts, ProbeResult } from './probe.js';

export interface SafetyEnv {
  /** The user's home folder, real path. */
  home: string;
}

/** `probed.apps`: every configured app's media folder (their entries need not be looked at yet). */
export function checkSafety(
  config: ResolvedConfig,
  probed: Pick<ProbeResult, 'realMediaRoot' | 'realProjectRoot'> & {
    apps: ReadonlyArray<Pick<AppFacts, 'app' | 'source'>>;
  },
  env: SafetyEnv,
): void {
  const root = probed.realMediaRoot;
  const shown = toDisplay(config.projectRoot, config.mediaRoot);
  const refuse = (why: string): never => {
    throw errors.unsafeMediaRoot(config.file, shown, why);
  };
  if (path.parse(root).root === root) refuse('it is the root of a file system');
  if (root === env.home) refuse('it is your home folder');
  if (root === probed.realProjectRoot) refuse('it is the project root');
  if (isInside(root, probed.realProjectRoot)) refuse('it contains the project itself');
  if (isInside(root, env.home)) refuse('it contains your home folder');
  const system = systemFolder(root);
  if (system) refuse(`it is ${system === root ? 'the system folder' : 'inside the system folder'} ${system}`);
  const owned = ownedByTools(root, probed.realProjectRoot);
  if (owned)
    refuse(
      `it is inside ${owned}, ` +
        `which ${owned === 'node_modules' ? 'the package manager owns (npm ci deletes it)' : 'git owns'}`,
    );

  for (const { app, source } of probed.apps) {
    if (source.kind !== 'dir' || source.real === undefined) continue;
    if (isInside(source.real, root))
      throw errors.loop(config.file, shown, app.name, toDisplay(config.projectRoot, app.mediaDir), 'root-in-media');
    if (isInside(root, source.real))
      throw errors.loop(config.file, shown, app.name, toDisplay(config.projectRoot, app.mediaDir), 'media-in-root');
  }
}

/** Folders of the system that no media root is, or is inside (a web root under /var/www or /srv/www is fine). */
const SYSTEM_FOLDERS = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/media',
  '/mnt',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/tmp',
  '/usr',
  '/usr/local',
  '/usr/share',
  '/var',
  '/var/lib',
  '/var/tmp',
];
const NEVER_INSIDE = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr/bin',
  '/usr/include',
  '/usr/lib',
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/sbin',
  '/var/lib',
];

/** The system folder `root` is, or is inside, or undefined (POSIX paths; Windows has its own guard rails). */
function systemFolder(root: string): string | undefined {
  if (path.sep !== '/') return undefined;
  if (SYSTEM_FOLDERS.includes(root)) return root;
  return NEVER_INSIDE.find((folder) => isInside(folder, root));
}

/** `node_modules` or `.git` when mediaRoot is inside one (below the project root, or anywhere when outside it). */
function ownedByTools(root: string, realProjectRoot: string): string | undefined {
  const below = isInside(realProjectRoot, root) ? path.relative(realProjectRoot, root) : root;
  return below.split(path.sep).find((part) => part === 'node_modules' || part === '.git');
}

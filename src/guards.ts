/**
 * Refusals that come before anything is touched (spec §6 rule 6). Pure: the
 * real paths come from the probe, the home folder from the caller.
 */
import path from 'node:path';
import type { ResolvedConfig } from './config/load.js';
import { toDisplay } from './config/load.js';
import { errors } from './errors.js';
import { isInside } from './fs/walk.js';
import type { AppFacts, ProbeResult } from './probe.js';

export interface SafetyEnv {
  /** The user's home folder, real path. */
  home: string;
}

/** `probed.apps`: every configured app's media folder (their entries need not be looked at yet). */
export function checkSafety(config: ResolvedConfig, probed: Pick<ProbeResult, 'realMediaRoot' | 'realProjectRoot'> & { apps: ReadonlyArray<Pick<AppFacts, 'app' | 'source'>> },
  env: SafetyEnv): void {
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

  for (const { app, source } of probed.apps) {
    if (source.kind !== 'dir' || source.real === undefined) continue;
    if (isInside(source.real, root)) throw errors.loop(config.file, shown, app.name, toDisplay(config.projectRoot, app.mediaDir), 'root-in-media');
    if (isInside(root, source.real)) throw errors.loop(config.file, shown, app.name, toDisplay(config.projectRoot, app.mediaDir), 'media-in-root');
  }
}

/** media:clean: look; if anything must be removed, take the lock and look again; carry out; report. */
import { loadConfig } from '../core/config/load.js';
import { realpathOfPath } from '../core/fs/real-paths.js';
import type { Report, RunOptions } from '../core/types.js';
import { planClean } from './clean-plan.js';
import { checkSafety } from './guards.js';
import { probeMediaRoot } from './probe.js';
import { carryOut, openSession, realHome, recordsTrust, type Session } from './session.js';

/**
 * Removes what the tool made, and nothing else: its links (never what they
 * lead to) and its copies, unless files in them were changed by hand
 * (`force` removes those too). Needs no app to be installed.
 */
export async function clean(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const config = await loadConfig(options);
  checkSafety(
    config,
    { realMediaRoot: realpathOfPath(config.mediaRoot), realProjectRoot: realpathOfPath(config.projectRoot), apps: [] },
    { home: realHome() },
  );
  const force = options.force ?? false;
  const trust = recordsTrust(config);
  let probed = probeMediaRoot(config.mediaRoot, trust);
  let plan = planClean(probed.entries, probed.records, force, config.projectRoot);
  let session: Session | undefined;
  try {
    if (!options.dryRun && (plan.writes || probed.leftovers > 0)) {
      session = await openSession(config, 'clean', false, options);
      if (session) {
        probed = probeMediaRoot(config.mediaRoot, trust);
        plan = planClean(probed.entries, probed.records, force, config.projectRoot);
      }
    }
    return await carryOut(
      'clean',
      plan,
      config,
      { realMediaRoot: probed.realMediaRoot, ignored: probed.records.ignored },
      options,
      started,
      session,
    );
  } finally {
    await session?.close();
  }
}

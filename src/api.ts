/**
 * The programmatic API: config → discover apps → probe → plan (pure) → apply
 * → report. The gulp tasks and the command line are thin wrappers over this.
 */
import { realpathSync } from 'node:fs';
import os from 'node:os';
import { applyLinkPlan, type AppOutcome } from './apply.js';
import { loadConfig } from './config/load.js';
import { discoverApps } from './discover.js';
import { checkSafety } from './guards.js';
import { planLink, type AppPlan } from './plan.js';
import { probe } from './probe.js';
import { appReport, buildReport, logReport } from './report.js';
import type { Report, RunOptions } from './types.js';

/** Makes mediaRoot match the config: one entry per app (link or copy), the tool's stale entries pruned. */
export async function link(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const config = loadConfig(options);
  const apps = discoverApps(config);
  const probed = await probe(config.projectRoot, config.mediaRoot, apps, {
    walk: config.mode === 'copy' ? 'all' : 'existing-copies',
    ignore: config.ignore,
  });
  checkSafety(config, probed, { home: realHome() });
  const plan = planLink({
    probed,
    projectRoot: config.projectRoot,
    mode: config.mode,
    relative: config.relative,
    prune: options.prune ?? true,
    platform: options.platform ?? process.platform,
  });

  const dryRun = options.dryRun ?? false;
  const { outcomes, warnings } = dryRun
    ? { outcomes: plan.apps.map(planned), warnings: [] }
    : await applyLinkPlan(plan, {
      projectRoot: config.projectRoot,
      mediaRoot: config.mediaRoot,
      realMediaRoot: probed.realMediaRoot,
      relative: config.relative,
      ignore: config.ignore,
    });

  const report = buildReport({
    task: 'link',
    dryRun,
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    started,
    warnings,
    apps: outcomes.map((outcome) => appReport(config.projectRoot, config.mediaRoot, {
      name: outcome.plan.name,
      status: outcome.status,
      mode: outcome.mode,
      source: outcome.plan.app?.mediaDir ?? null,
      files: outcome.files,
      bytes: outcome.bytes,
      reason: outcome.reason,
      hint: outcome.hint,
    })),
  });
  logReport(report, options.logger);
  return report;
}

/** A dry run reports the plan as it stands: the same path, with the writes switched off. */
function planned(plan: AppPlan): AppOutcome {
  const copyFiles = plan.actions.flatMap((action) => ('copy' in action && action.copy !== 'walk' ? action.copy.writes : []));
  return {
    plan,
    status: plan.status,
    mode: plan.mode,
    files: copyFiles.length,
    bytes: copyFiles.reduce((sum, file) => sum + file.size, 0),
    reason: plan.reason,
    hint: plan.hint,
  };
}

function realHome(): string {
  try {
    return realpathSync(os.homedir());
  } catch {
    return os.homedir();
  }
}

/**
 * The programmatic API: config → discover apps → probe → plan (pure) → apply
 * → report. The gulp tasks are thin wrappers over these functions.
 */
import { realpathSync } from 'node:fs';
import os from 'node:os';
import { applyPlan, type AppOutcome } from './apply.js';
import { checkEntries } from './check.js';
import { loadConfig, type ResolvedConfig } from './config/load.js';
import { discoverApps } from './discover.js';
import { checkSafety } from './guards.js';
import { planClean } from './plan-clean.js';
import { planLink, type AppPlan, type LinkPlan } from './plan.js';
import { probe, probeMediaRoot, realpathOfPath } from './probe.js';
import { appReport, buildReport, logReport } from './report.js';
import { checkBaseUrl, checkServed } from './served.js';
import type { Report, RunOptions, TaskName } from './types.js';

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
  return carryOut('link', plan, config, probed.realMediaRoot, options, started);
}

/**
 * Removes what the tool made, and nothing else: its links (never what they
 * lead to) and its copies, unless files in them were changed by hand
 * (`force` removes those too). Needs no app to be installed.
 */
export async function clean(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const config = loadConfig(options);
  const probed = await probeMediaRoot(config.mediaRoot);
  checkSafety(config, { realMediaRoot: probed.realMediaRoot, realProjectRoot: await realpathOfPath(config.projectRoot), apps: [] }, { home: realHome() });
  const plan = planClean(probed.entries, probed.manifest, options.force ?? false);
  return carryOut('clean', plan, config, probed.realMediaRoot, options, started);
}

/** Read-only: is every app published as the config says, and nothing published that should not be? */
export async function verify(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  if (options.url !== undefined) checkBaseUrl(options.url);
  const config = loadConfig(options);
  const apps = discoverApps(config);
  const probed = await probe(config.projectRoot, config.mediaRoot, apps, { walk: 'existing-copies', ignore: config.ignore, published: true });
  checkSafety(config, probed, { home: realHome() });
  const findings = checkEntries(probed, config.exposed, config.mode);
  if (options.url !== undefined) await checkServed(findings, options.url, config.mediaUrl);
  const report = buildReport({
    task: 'verify',
    dryRun: false,
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    started,
    warnings: [],
    apps: findings.map((finding) => appReport(config.projectRoot, config.mediaRoot, {
      name: finding.name,
      status: finding.status,
      mode: finding.mode,
      source: finding.app?.mediaDir ?? null,
      files: 0,
      bytes: 0,
      reason: finding.reason,
      hint: finding.hint,
    })),
  });
  logReport(report, options.logger);
  return report;
}

/** Applies a plan (or, in a dry run, reports it as it stands: the same path with the writes switched off). */
async function carryOut(task: TaskName, plan: LinkPlan & { forget?: readonly string[] }, config: ResolvedConfig, realMediaRoot: string,
  options: RunOptions, started: number): Promise<Report> {
  const dryRun = options.dryRun ?? false;
  const { outcomes, warnings } = dryRun
    ? { outcomes: plan.apps.map(planned), warnings: [] }
    : await applyPlan(plan, {
      projectRoot: config.projectRoot,
      mediaRoot: config.mediaRoot,
      realMediaRoot,
      relative: config.relative,
      ignore: config.ignore,
    });

  const report = buildReport({
    task,
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

function planned(plan: AppPlan): AppOutcome {
  const copyFiles = plan.actions.flatMap((action) => ('copy' in action && action.copy !== 'walk' && action.op !== 'remove-copy' ? action.copy.writes : []));
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

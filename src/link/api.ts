/**
 * The programmatic API: config → discover apps → probe → plan (pure) → apply
 * → report. The gulp tasks are thin wrappers over these functions.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyPlan, type AppOutcome } from './apply.js';
import { checkAppEntry, finishChecks, type Finding } from './check.js';
import { loadConfig, toDisplay, type ResolvedConfig } from '../core/config/load.js';
import { discoverApps } from '../core/discover.js';
import { errors, isAppMediaError } from '../core/errors.js';
import { checkSafety } from './guards.js';
import { planClean } from './clean-plan.js';
import { finishLinkPlan, planAppLink, type AppPlan, type AppPlanInput, type LinkPlan } from './plan.js';
import { probe, probeMediaRoot, type ProbeResult, type RecordsTrust } from './probe.js';
import { vanished } from '../core/fs/look.js';
import { realpathOfPath } from '../core/fs/real-paths.js';
import { openFolder } from '../core/fs/folder.js';
import { acquireLock } from '../core/fs/lock.js';
import { MANIFEST_FILE } from '../core/records.js';
import { sweepLeftovers } from '../core/fs/sweep.js';
import { otherWriter } from '../core/fs/trust.js';
import { Workspace } from '../core/fs/workspace.js';
import { appReport, buildReport, logReport } from '../core/report.js';
import { checkBaseUrl } from '../core/served-url.js';
import { checkServed } from './served.js';
import type { Report, RunOptions, TaskName } from '../core/types.js';

/** Makes mediaRoot match the config: one entry per app (link or copy), the tool's stale entries pruned. */
export async function link(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const config = await loadConfig(options);
  const apps = discoverApps(config);
  const input = {
    projectRoot: config.projectRoot,
    mode: config.mode,
    relative: config.relative,
    prune: options.prune ?? true,
    platform: options.platform ?? process.platform,
  };
  const look = async (previous?: ProbeResult, stopAtWrite = false): Promise<{ probed: ProbeResult; plan: LinkPlan }> => {
    const plans: AppPlan[] = [];
    let appInput: AppPlanInput | undefined;
    const probed = await probe(config.projectRoot, config.mediaRoot, apps, {
      walk: config.mode === 'copy' && options.dryRun ? 'all' : 'existing-copies',
      ignore: config.ignore,
      checksum: options.checksum ?? false,
      trust: recordsTrust(config),
      ...(previous ? { previous } : {}),
      // Refusals come before any entry is looked at, and before anything is touched.
      onSources: (seen) => checkSafety(config, seen, { home: realHome() }),
      // Each app is planned as soon as it is seen (the planner is pure): one with nothing to do
      // lets go of its walks at once. A first look ends at the first app with something to do:
      // the run then takes the lock and looks at every app again.
      onApp: (facts, seen) => {
        const plan = planAppLink(facts, appInput ??= { ...input, probed: seen });
        plans.push(plan);
        if (plan.actions.length === 0) return 'forget-trees';
        return stopAtWrite ? 'stop' : 'keep';
      },
    });
    return { probed, plan: finishLinkPlan(plans, { ...input, probed }) };
  };
  // A run with nothing to do writes nothing, not even a lock. One that writes
  // takes the lock and looks again: another run may have changed things meanwhile.
  // A first look that trips over another run at work (a file gone mid-walk) does the same.
  let first: Awaited<ReturnType<typeof look>> | undefined;
  try {
    first = await look(undefined, !options.dryRun);
  } catch (error) {
    if (options.dryRun || isAppMediaError(error) || !vanished(error)) throw error;
  }
  let session: Session | undefined;
  // Everything done under the lock is inside the try: a look that throws there (a refusal
  // because mediaRoot was swapped meanwhile) still releases it. A lock left held would be
  // kept fresh by this process, and a watching process's next runs would wait for it.
  try {
    if (!options.dryRun && (!first || first.plan.writes || first.probed.leftovers > 0)) {
      session = await openSession(config, 'link', true, options);
      // Unlocked (mediaRoot cannot be written), a first look that stopped early is still taken again in whole.
      if (session || !first || first.probed.stopped) {
        // The first plan is let go before the second is made: a copy's plan holds every file.
        const previous = first?.probed;
        first = undefined;
        first = await look(previous);
      }
    }
    const { probed, plan } = first as Awaited<ReturnType<typeof look>>;
    return await carryOut('link', plan, config, probed.realMediaRoot, options, started, session, probed.manifest.ignored);
  } finally {
    await session?.close();
  }
}

interface Session {
  warnings: string[];
  /** mediaRoot held open, with the run's temporary names (its lock's token). */
  ws: Workspace;
  close(): Promise<void>;
}

/** Who may have written the records file (core/fs/records-file.ts), and how it is named in messages. */
export function recordsTrust(config: ResolvedConfig): RecordsTrust {
  let rootOwner: number | undefined;
  try {
    rootOwner = statSync(config.mediaRoot).uid;
  } catch {
    rootOwner = undefined;
  }
  return { shared: config.sharedMediaRoot, rootOwner, display: toDisplay(config.projectRoot, path.join(config.mediaRoot, MANIFEST_FILE)) };
}

/**
 * A writing run first makes sure no one else can write mediaRoot or a folder on the way to it
 * (core/fs/trust.ts), unless the config says it is shared; then it holds mediaRoot's lock (two runs at
 * once end as one run would) and mediaRoot itself, open, and sweeps what an interrupted run
 * left. Where mediaRoot cannot be written at all, the run goes on unlocked: it can only report.
 */
async function openSession(config: ResolvedConfig, task: string, create: boolean, options: RunOptions): Promise<Session | undefined> {
  const mediaRoot = config.mediaRoot;
  {
    // With sharedMediaRoot, mediaRoot itself may be shared; the folders above it still may not be.
    const writer = otherWriter(mediaRoot, undefined, { sharedLast: config.sharedMediaRoot });
    if (writer) {
      const isRoot = path.resolve(writer.folder) === realpathOfPath(mediaRoot) || path.resolve(writer.folder) === path.resolve(mediaRoot);
      throw errors.sharedRoot(config.file, toDisplay(config.projectRoot, writer.folder), writer.who, isRoot, task);
    }
  }
  try {
    if (create) mkdirSync(mediaRoot, { recursive: true });
    const lock = await acquireLock(mediaRoot, {
      display: toDisplay(config.projectRoot, mediaRoot),
      onWait: (pid) => options.logger?.warn(`waiting for another app-media run (pid ${pid}) to finish with this mediaRoot`),
    });
    let ws: Workspace | undefined;
    try {
      ws = new Workspace(openFolder(mediaRoot, { follow: true }), lock.token);
      const swept = await sweepLeftovers(ws, config.sharedMediaRoot);
      const warnings: string[] = [];
      if (swept.removed > 0) warnings.push(`removed ${swept.removed} temporary file${swept.removed === 1 ? '' : 's'} left by an interrupted run`);
      if (swept.left.length > 0) {
        warnings.push(`left ${swept.left.map((name) => `${toDisplay(config.projectRoot, path.join(mediaRoot, name))}/`).join(', ')} (temporary folder${swept.left.length === 1 ? '' : 's'} of an interrupted run that app-media cannot prove ${swept.left.length === 1 ? 'is' : 'are'} its own: not private to this user, or mediaRoot is shared); look, then remove ${swept.left.length === 1 ? 'it' : 'them'} by hand`);
      }
      const held = ws;
      return {
        warnings,
        ws: held,
        close: async () => {
          try {
            held.close();
          } finally {
            held.root.close();
            await lock.release();
          }
        },
      };
    } catch (error) {
      ws?.root.close();
      await lock.release(); // not held by a run that goes on unlocked, or fails
      throw error;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM' || (code === 'ENOENT' && !create)) return undefined;
    throw error;
  }
}

/**
 * Removes what the tool made, and nothing else: its links (never what they
 * lead to) and its copies, unless files in them were changed by hand
 * (`force` removes those too). Needs no app to be installed.
 */
export async function clean(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const config = await loadConfig(options);
  checkSafety(config, { realMediaRoot: realpathOfPath(config.mediaRoot), realProjectRoot: realpathOfPath(config.projectRoot), apps: [] }, { home: realHome() });
  const force = options.force ?? false;
  const trust = recordsTrust(config);
  let probed = probeMediaRoot(config.mediaRoot, trust);
  let plan = planClean(probed.entries, probed.manifest, force, config.projectRoot);
  let session: Session | undefined;
  try {
    if (!options.dryRun && (plan.writes || probed.leftovers > 0)) {
      session = await openSession(config, 'clean', false, options);
      if (session) {
        probed = probeMediaRoot(config.mediaRoot, trust);
        plan = planClean(probed.entries, probed.manifest, force, config.projectRoot);
      }
    }
    return await carryOut('clean', plan, config, probed.realMediaRoot, options, started, session, probed.manifest.ignored);
  } finally {
    await session?.close();
  }
}

/** media:verify of mediaRoot: is every app published as the config says, and nothing published that should not be? */
export async function verifyMediaRoot(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  if (options.url !== undefined) checkBaseUrl(options.url);
  const config = await loadConfig(options);
  const apps = discoverApps(config);
  const checked: Finding[] = [];
  const probed = await probe(config.projectRoot, config.mediaRoot, apps, {
    walk: 'existing-copies',
    ignore: config.ignore,
    published: true,
    trust: recordsTrust(config),
    onSources: (seen) => checkSafety(config, seen, { home: realHome() }),
    // Each app is checked as soon as it is seen, and its walks let go (as link does).
    onApp: (facts, seen) => {
      checked.push(checkAppEntry(facts, seen, config.exposed, config.mode, config.projectRoot));
      return 'forget-trees';
    },
  });
  const findings = finishChecks(checked, probed, config.projectRoot);
  if (options.url !== undefined) await checkServed(findings, options.url, config.mediaUrl, options.urlTimeout);
  const report = buildReport({
    task: 'verify',
    dryRun: false,
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    started,
    warnings: ignoredRecords(probed.manifest.ignored),
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
  logReport(report, options.logger, options.verbose ?? false);
  return report;
}

/** The records file's entries that were not taken (core/records.ts), as a warning. */
function ignoredRecords(ignored: readonly string[] | undefined): string[] {
  if (!ignored || ignored.length === 0) return [];
  const shown = ignored.slice(0, 5).join(', ');
  return [`the records file lists ${ignored.length} entr${ignored.length === 1 ? 'y' : 'ies'} that app-media does not take (nothing was done with ${ignored.length === 1 ? 'it' : 'them'}): ${shown}${ignored.length > 5 ? `, and ${ignored.length - 5} more` : ''}`];
}

/**
 * Applies a plan (or, in a dry run, reports it as it stands: the same path with the writes
 * switched off). A plan that writes needs the session's workspace; a run that could not take
 * one (mediaRoot cannot be written) gets a workspace that fails each write with the reason.
 */
async function carryOut(task: TaskName, plan: LinkPlan & { forget?: readonly string[] }, config: ResolvedConfig, realMediaRoot: string,
  options: RunOptions, started: number, session: Session | undefined, ignored?: readonly string[]): Promise<Report> {
  const dryRun = options.dryRun ?? false;
  let applied: { outcomes: AppOutcome[]; warnings: string[] };
  if (dryRun) {
    applied = { outcomes: plan.apps.map(planned), warnings: [] };
  } else {
    const unlocked = session ? undefined : unlockedWorkspace(config.mediaRoot, plan.writes);
    try {
      const ws = session?.ws ?? unlocked;
      applied = await applyPlan(plan, {
        projectRoot: config.projectRoot,
        mediaRoot: config.mediaRoot,
        realMediaRoot,
        relative: config.relative,
        ignore: config.ignore,
        ws: ws as Workspace,
        trust: recordsTrust(config),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    } finally {
      unlocked?.root.close();
    }
  }
  const warnings = [...ignoredRecords(ignored), ...(session?.warnings ?? []), ...applied.warnings];
  const { outcomes } = applied;

  const report = buildReport({
    task,
    dryRun,
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    started,
    warnings,
    ...(options.conflicts ? { conflicts: options.conflicts } : {}),
    apps: outcomes.map((outcome) => appReport(config.projectRoot, config.mediaRoot, {
      name: outcome.plan.name,
      status: outcome.status,
      mode: outcome.mode,
      source: outcome.plan.app?.mediaDir ?? null,
      files: outcome.files,
      bytes: outcome.bytes,
      reason: outcome.reason,
      hint: outcome.hint,
      ...(outcome.ignored !== undefined && outcome.mode === 'copy' ? { ignored: outcome.ignored } : {}),
    })),
  });
  logReport(report, options.logger, options.verbose ?? false);
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

/**
 * A run that has something to write but could not take the lock (mediaRoot cannot be written:
 * EACCES, a read-only file system) still carries out its plan, so that each app with something
 * to do says why it failed. mediaRoot is opened if it can be; else a folder that fails each call.
 */
function unlockedWorkspace(mediaRoot: string, writes: boolean): Workspace {
  try {
    if (writes) mkdirSync(mediaRoot, { recursive: true }); // its error (EACCES) is each app's reason
    return new Workspace(openFolder(mediaRoot, { follow: true }), randomBytes(8).toString('hex'));
  } catch (error) {
    return new Workspace(failingFolder(mediaRoot, error), randomBytes(8).toString('hex'));
  }
}

function failingFolder(mediaRoot: string, error: unknown): import('../core/fs/folder.js').Folder {
  const fail = (): never => {
    throw error;
  };
  return { path: mediaRoot, dev: 0, ino: 0, at: fail, open: fail, stat: fail, here: fail, list: fail, chmod: fail, setTimes: fail, close: () => undefined };
}

function realHome(): string {
  try {
    return realpathSync(os.homedir());
  } catch {
    return os.homedir();
  }
}

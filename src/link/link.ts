/**
 * media:link: makes mediaRoot match the config, one entry per app (a link, or a copy), the tool's
 * stale entries pruned. The run reads as its phases: look; if anything must be written, take the
 * lock and look again; carry out; report.
 */
import type { ResolvedConfig } from '../core/config/load.js';
import { loadConfig } from '../core/config/load.js';
import { discoverApps, type App } from '../core/discover.js';
import { isAppMediaError } from '../core/errors.js';
import { vanished } from '../core/fs/look.js';
import type { Report, RunOptions } from '../core/types.js';
import { checkSafety } from './guards.js';
import { finishLinkPlan, planAppLink, type AppPlan, type AppPlanInput, type LinkPlan } from './plan.js';
import { Probe, type AppFacts, type EarlierLook } from './probe.js';
import { carryOut, openSession, realHome, recordsTrust } from './session.js';

/** Options only the tests give (not part of RunOptions): pretend to run on another platform (the junction fallback). */
interface TestOptions {
  platform?: NodeJS.Platform;
}

/** What one run looks with: the config, its apps, and the planner's settings. */
interface LinkRun {
  config: ResolvedConfig;
  apps: App[];
  options: RunOptions;
  input: Omit<AppPlanInput, 'probed'>;
}

/** One look at mediaRoot and the apps, and the plan made from it. */
interface Look {
  plan: LinkPlan;
  realMediaRoot: string;
  /** Entries of the records file that were not taken (a warning). */
  ignored: readonly string[] | undefined;
  /** Traces of another run in mediaRoot (its lock, its temporary files): the run takes the lock and sweeps. */
  leftovers: number;
  /** False when the look ended at the first app with something to write. */
  complete: boolean;
  /** What a look taken again reuses. */
  earlier: EarlierLook;
}

export async function link(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const run = await prepare(options);
  const dryRun = options.dryRun ?? false;

  // 1. Look, without the lock. A run with nothing to do writes nothing, not even a lock.
  let look = await firstLook(run);
  if (look && (dryRun || !mustWrite(look)))
    return carryOut('link', look.plan, run.config, look, options, started, undefined);

  // 2. Something must be written: take the lock, and look again (another run may have changed
  // things meanwhile). Unlocked (mediaRoot cannot be written), a first look that ended early is
  // still taken again in whole, so that every app is reported.
  const session = await openSession(run.config, 'link', true, options);
  // Everything done under the lock is inside the try: a look that throws there (a refusal because
  // mediaRoot was swapped meanwhile) still releases it. A lock left held would be kept fresh by
  // this process, and a watching process's next runs would wait for it.
  try {
    if (session || !look || !look.complete) {
      const earlier = look?.earlier;
      look = undefined; // the first plan is let go before the second is made: a copy's plan holds every file
      look = await lookAndPlan(run, earlier, false);
    }
    // 3. Carry out, 4. report.
    return await carryOut('link', look.plan, run.config, look, options, started, session);
  } finally {
    await session?.close();
  }
}

async function prepare(options: RunOptions & TestOptions): Promise<LinkRun> {
  const config = await loadConfig(options);
  return {
    config,
    apps: discoverApps(config),
    options,
    input: {
      projectRoot: config.projectRoot,
      mode: config.mode,
      relative: config.relative,
      prune: options.prune ?? true,
      platform: options.platform ?? process.platform,
    },
  };
}

/**
 * The first look: it ends at the first app with something to write (the run then looks again
 * under the lock), except in a dry run, which plans every app. One that trips over another run at
 * work (a file gone mid-walk) is no look at all: the run takes the lock and looks then.
 */
async function firstLook(run: LinkRun): Promise<Look | undefined> {
  const dryRun = run.options.dryRun ?? false;
  try {
    return await lookAndPlan(run, undefined, !dryRun);
  } catch (error) {
    if (dryRun || isAppMediaError(error) || !vanished(error)) throw error;
    return undefined;
  }
}

function mustWrite(look: Look): boolean {
  return look.plan.writes || look.leftovers > 0;
}

/**
 * A look and its plan. Each app is planned as soon as it is seen (the planner is pure), so only
 * the walks of the app at hand are held, and those of apps with something to do (reused by a
 * look taken again).
 */
async function lookAndPlan(run: LinkRun, earlier: EarlierLook | undefined, untilWrite: boolean): Promise<Look> {
  const { config, options } = run;
  const probe = new Probe(config.projectRoot, config.mediaRoot, run.apps, {
    walk: config.mode === 'copy' && options.dryRun ? 'all' : 'existing-copies',
    ignore: config.ignore,
    checksum: options.checksum ?? false,
    trust: recordsTrust(config),
    ...(earlier ? { earlier } : {}),
  });
  const seen = await probe.sources();
  // The refusals come before any entry is looked at, and before anything is touched.
  checkSafety(config, seen, { home: realHome() });
  const input: AppPlanInput = { ...run.input, probed: seen };
  const plans: AppPlan[] = [];
  const withWork: AppFacts[] = [];
  let complete = true;
  for await (const facts of probe.apps()) {
    const plan = planAppLink(facts, input);
    plans.push(plan);
    if (plan.actions.length === 0) continue;
    withWork.push(facts);
    if (untilWrite) {
      complete = false;
      break;
    }
  }
  const rest = complete ? await probe.rest() : { unclaimed: [], leftovers: 0 };
  return {
    plan: finishLinkPlan(plans, { ...run.input, probed: { ...seen, ...rest } }),
    realMediaRoot: seen.realMediaRoot,
    ignored: seen.records.ignored,
    leftovers: rest.leftovers,
    complete,
    earlier: { sources: seen.apps, apps: withWork },
  };
}

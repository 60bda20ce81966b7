/**
 * media:collect: every configured app's media written into collectRoot as a
 * production build (spec §8): fingerprinted names, stylesheet references
 * rewritten, .br and .gz beside compressible files, manifest.json last.
 *
 * config → discover → refusals → a quick look (the index: a no-change re-run
 * is a stat walk and writes nothing, takes no lock) → under collectRoot's
 * lock, a full look and the plan (plan.ts, pure of writes) → apply
 * (apply.ts) → the index → the report. A dry run is the full look, reported.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../core/config/load.js';
import { toDisplay } from '../core/display.js';
import { discoverApps } from '../core/discover.js';
import { errors } from '../core/errors.js';
import { openFolder } from '../core/fs/folder.js';
import { acquireLock } from '../core/fs/lock.js';
import { hasTraces, sweepLeftovers } from '../core/fs/sweep.js';
import { otherWriter } from '../core/fs/trust.js';
import { Workspace } from '../core/fs/workspace.js';
import { appReport, buildReport, logReport } from '../core/report.js';
import { systemErrorHint } from '../core/system-errors.js';
import type { AppReport, CollectStatus, Report, RunOptions } from '../core/types.js';
import { listSome } from '../core/util/list.js';
import { applyPlan, type ApplyResult } from './apply.js';
import { lookAt, lookIn, placeFile, readRegular, unlinkIn, writeNew } from './disk.js';
import { INDEX_FILE, foldersOf, MANIFEST_NAME, RECORDS_FILE, REV_MANIFEST_NAME } from './names.js';
import { atStamp, currentDigest, listingDigest, stampFolders, walkOutputs } from './outputs.js';
import { escapeReason, makePlan, type Plan, type Stage } from './plan.js';
import { WorkPool } from './pool.js';
import {
  emptyRecords,
  readIndex,
  readPending,
  readRecords,
  sameRecords,
  indexText,
  seenOf,
  type Index,
  type IndexInput,
  type IndexSource,
  type Records,
  type Seen,
} from './records.js';
import { checkCollectRoot, collectSettings, settingsDigest, type CollectSettings } from './settings.js';
import { walkSources, type AppSources } from './sources.js';

export async function collect(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const config = await loadConfig(options);
  const settings = collectSettings(config, options);
  const apps = discoverApps(config);
  checkCollectRoot(config, settings, apps);
  const digest = settingsDigest(settings);
  const sources = walkSources(apps, settings.ignore, config.projectRoot);
  const finish = (report: Omit<Outcome, 'settings' | 'sources'>): Report => {
    const built = toReport({ ...report, settings, sources }, started);
    logReport(built, options.logger, options.verbose ?? false);
    return built;
  };

  // A re-run with nothing changed: the index says so, after a stat walk of the sources and a
  // listing of the build's folders. Nothing is written, no lock is taken.
  const quick = settings.dryRun ? undefined : quickLook(settings, digest, sources);
  if (quick) {
    const warnings = sourceWarnings(sources);
    const missing: string[] = [];
    const shownOf = new Map(sources.flatMap((app) => app.files.map((file) => [file.logical, file.shown] as const)));
    for (const [logical, css] of quick.css) {
      for (const [line, ref] of css.missing) missing.push(`${shownOf.get(logical) ?? logical}:${line}: ${ref}`);
      if (css.unparsed)
        missing.push(`${shownOf.get(logical) ?? logical}:${css.unparsed[0]}: ${css.unparsed[1]} (published unchanged)`);
    }
    if (settings.strict && missing.length > 0) throw errors.missingReference(missing);
    warnings.push(...missingWarnings(missing), ...foreignWarnings(settings, quick.foreign, []));
    return finish({
      statuses: new Map(sources.map((app) => [app.app.name, app.hasMedia ? 'up-to-date' : 'no-media'])),
      reasons: new Map(),
      files: new Map(sources.map((app) => [app.app.name, { files: app.files.length, bytes: 0 }])),
      warnings,
      build: quick.build,
      written: 0,
      removed: 0,
    });
  }

  const pool = new WorkPool();
  let lock: { release(): Promise<void> } | undefined;
  // collectRoot held open under the lock, with the lock's token for the run's temporary names.
  let ws: Workspace | undefined;
  const warnings: string[] = [];
  try {
    if (!settings.dryRun) {
      // As for mediaRoot (core/fs/trust.ts): no one but the runner and root may write the build's folder.
      const writer = otherWriter(settings.collectRoot);
      if (writer) throw errors.sharedCollectRoot(config.file, toDisplay(config.projectRoot, writer.folder), writer.who);
      mkdirSync(settings.collectRoot, { recursive: true, mode: 0o755 });
      const held = await acquireLock(settings.realRoot, {
        display: settings.shown,
        onWait: (pid) =>
          options.logger?.warn(`waiting for another app-media run (pid ${pid}) to finish with this collectRoot`),
      });
      lock = held;
      ws = new Workspace(openFolder(settings.realRoot, { follow: true }), held.token);
      // What a killed run left (its lock, its temporary names: those of its token only), as link's sweep.
      const swept = await sweepLeftovers(ws, false);
      if (swept.removed > 0)
        warnings.push(
          `removed ${swept.removed} temporary file${swept.removed === 1 ? '' : 's'} left by an interrupted run`,
        );
    }
    const held = ws;
    const stage: Stage | undefined = held && {
      reserve(logical) {
        const name = held.stagedName('collect', logical);
        return { name, path: held.stage().at(name) };
      },
      remove: (name) => unlinkIn(held.stage(), name),
    };
    const look = await fullLook(settings, digest, sources, pool, stage);
    // The workers' part ends with the plan (apply writes from this thread): their heaps are let go before the
    // records, the index and the manifest are serialized, the run's peak of memory.
    await pool.close();
    const { plan } = look;
    const problems = [...plan.missing, ...plan.unparsed].map((one) => one.text);
    if (settings.strict && problems.length > 0) throw errors.missingReference(problems);
    warnings.push(
      ...sourceWarnings(sources),
      ...plan.warnings,
      ...missingWarnings(problems),
      ...foreignWarnings(settings, plan.foreign, plan.handChanged),
    );
    const blocked = plan.conflicts.length > 0 || plan.appErrors.size > 0;
    const statuses = new Map<string, CollectStatus>();
    const reasons = new Map<string, { reason: string; hint: string }>();
    const wanted = new Map<string, { files: number; bytes: number }>();
    for (const output of plan.writes) {
      const app = output.item.source.app.name;
      const counts = wanted.get(app) ?? { files: 0, bytes: 0 };
      counts.files++;
      counts.bytes += output.size;
      wanted.set(app, counts);
    }
    for (const app of sources) {
      const name = app.app.name;
      const failure = plan.appErrors.get(name);
      const conflicts = plan.conflicts.filter((one) => one.app === name || one.app === '');
      if (app.escape !== undefined) {
        statuses.set(name, 'escape');
        reasons.set(name, {
          reason: failure ?? escapeReason(app),
          hint: "replace the link with the folder itself, inside the app; a media folder must be the app's own",
        });
      } else if (failure) {
        statuses.set(name, 'error');
        reasons.set(name, {
          reason: failure,
          hint: app.error
            ? systemErrorHint(app.error.code)
            : 'only regular files are published; check that the account running the task may ' +
              "read the app's media folder",
        });
      } else if (conflicts.length > 0 && (conflicts.some((one) => one.app === name) || wanted.has(name))) {
        statuses.set(name, 'conflict');
        reasons.set(name, {
          reason: listSome(conflicts.map((one) => one.why)),
          hint:
            'move it away by hand if it is not needed (app-media never writes over what it did not make, ' +
            'or what was changed since), then run again',
        });
      } else if (!app.hasMedia) {
        statuses.set(name, 'no-media');
      } else if (blocked && (wanted.has(name) || plan.writeManifest)) {
        statuses.set(name, 'held');
        reasons.set(name, {
          reason: 'nothing was written: another app has a conflict or an error, and a build is never half written',
          hint: '',
        });
      } else {
        statuses.set(name, wanted.has(name) ? 'collected' : 'up-to-date');
      }
    }
    const nothingToDo =
      plan.writes.length === 0 &&
      plan.mkdirs.length === 0 &&
      plan.removals.size === 0 &&
      !plan.writeManifest &&
      !plan.writeRev &&
      plan.removeRev === undefined &&
      !plan.pendingLeft &&
      look.recordsRead &&
      sameRecords(plan.records, look.recordsRead);
    if (settings.dryRun || blocked || nothingToDo) {
      if (ws && !blocked) writeIndex(settings, digest, plan, look.recordsSeen, ws);
      return finish({
        statuses,
        reasons,
        files: settings.dryRun ? wanted : new Map<string, { files: number; bytes: number }>(),
        warnings,
        build: blocked || settings.dryRun ? look.previousBuild : plan.build.id,
        written: settings.dryRun ? plan.writes.length : 0,
        removed: settings.dryRun ? plan.removals.size : 0,
      });
    }
    const applied: ApplyResult = await applyPlan(plan, settings, look.tree, look.recordsSeen, held as Workspace);
    writeIndex(settings, digest, plan, applied.recordsSeen, held as Workspace);
    let written = 0;
    for (const app of sources) {
      const counts = applied.written.get(app.app.name);
      if (counts) written += counts.files;
      if (statuses.get(app.app.name) === 'collected' && !counts) statuses.set(app.app.name, 'up-to-date');
    }
    return finish({
      statuses,
      reasons,
      files: applied.written,
      warnings,
      build: plan.build.id,
      written,
      removed: applied.removed,
    });
  } finally {
    await pool.close();
    try {
      ws?.close();
    } finally {
      ws?.root.close();
      await lock?.release();
    }
  }
}

interface QuickResult {
  build: string;
  css: Index['css'];
  foreign: string[];
}

/** Whether nothing changed since the last build, from the index: undefined means "look in full". */
function quickLook(settings: CollectSettings, digest: string, sources: AppSources[]): QuickResult | undefined {
  const root = settings.realRoot;
  const index = readIndex(root);
  if (!index || index.settings !== digest) return undefined;
  const same = (name: string, facts: [number, number] | null): boolean => {
    const stat = lookAt(path.join(root, name));
    return facts === null
      ? stat === undefined
      : stat !== undefined && stat.isFile() && stat.size === facts[0] && stat.mtimeMs === facts[1];
  };
  if (
    !same(RECORDS_FILE, index.records) ||
    !same(MANIFEST_NAME, index.manifest) ||
    !same(REV_MANIFEST_NAME, index.revManifest)
  )
    return undefined;
  let count = 0;
  for (const app of sources) {
    if (app.error || app.escape !== undefined) return undefined;
    for (const file of app.files) {
      const known = index.facts.get(file.logical);
      if (!known || known[0] !== file.size || known[1] !== file.mtimeMs) return undefined;
      count++;
    }
  }
  if (count !== index.facts.size) return undefined;
  // What a run left to sweep (a lock left by a killed run, its draft) takes the lock, as in link.
  let top: string[];
  try {
    top = readdirSync(root);
  } catch {
    return undefined;
  }
  if (hasTraces(top, root)) return undefined;
  for (const [dir, expected] of index.dirs) {
    if (atStamp(root, dir, index.stamps.get(dir))) continue;
    if ((dir === '' ? listingDigest('', top) : currentDigest(root, dir)) !== expected) return undefined;
  }
  return { build: index.build, css: index.css, foreign: index.foreign };
}

interface Look {
  plan: Plan;
  tree: ReturnType<typeof walkOutputs>;
  recordsSeen: Seen | undefined;
  /** The records as read (undefined: there were none). */
  recordsRead: Records | undefined;
  previousBuild: string | null;
}

async function fullLook(
  settings: CollectSettings,
  digest: string,
  sources: AppSources[],
  pool: WorkPool,
  stage?: Stage,
): Promise<Look> {
  const root = settings.realRoot;
  const tree = walkOutputs(root);
  const read = tree.exists ? readRecords(root) : { state: 'missing' as const };
  if (read.state === 'foreign') throw errors.recordsConflict(`${settings.shown}/${RECORDS_FILE}`, read.why);
  const records = read.state === 'ours' ? read.value : emptyRecords();
  const pendingRead = tree.exists ? readPending(root) : { state: 'missing' as const };
  if (pendingRead.state === 'foreign')
    throw errors.recordsConflict(`${settings.shown}/.app-media-collect-pending.json`, pendingRead.why);
  const indexRead = tree.exists ? readIndex(root) : undefined;
  const index = indexRead && indexRead.settings === digest ? indexRead : undefined;
  // The plan builds its records from these: a copy of what was read is kept to compare.
  const recordsRead =
    read.state === 'ours'
      ? {
          files: new Map(records.files),
          builds: [...records.builds],
          dirs: new Set(records.dirs),
          own: new Map(records.own),
        }
      : undefined;
  const plan = await makePlan({
    settings,
    digest,
    sources,
    tree,
    records,
    pending: pendingRead.state === 'ours' ? pendingRead.value : undefined,
    index,
    pool,
    ...(stage ? { stage } : {}),
  });
  return {
    plan,
    tree,
    recordsSeen: read.state === 'ours' ? seenOf(read.stat) : undefined,
    recordsRead,
    previousBuild: records.builds[0]?.id ?? null,
  };
}

/**
 * Writes the index of the build just made (or found up to date), unless it says the same already; `ws`: collectRoot
 * held open.
 */
function writeIndex(
  settings: CollectSettings,
  digest: string,
  plan: Plan,
  recordsSeen: Seen | undefined,
  ws: Workspace,
): void {
  const root = settings.realRoot;
  const facts = (name: string): [number, number] | null => {
    const stat = lookAt(path.join(root, name));
    return stat?.isFile() ? [stat.size, stat.mtimeMs] : null;
  };
  const sources = new Map<string, IndexSource>();
  const css: Index['css'] = new Map();
  for (const item of plan.items) {
    const enc = item.enc ?? [-1, -1];
    sources.set(item.source.logical, [
      item.source.size,
      item.source.mtimeMs,
      item.sourceSha,
      item.finalSha,
      item.nameHash,
      item.size,
      item.integrity,
      enc[0],
      enc[1],
    ]);
    if (item.sheet) {
      css.set(item.source.logical, {
        deps: item.sheet.deps ?? item.sheet.previous?.deps ?? [],
        missing: item.sheet.missing ?? [],
        ...(item.sheet.unparsed ? { unparsed: item.sheet.unparsed } : {}),
      });
    }
  }
  const folders = new Set<string>(['']);
  for (const name of plan.outputs.keys()) for (const dir of foldersOf(name)) folders.add(dir);
  const there = lookIn(ws.root, INDEX_FILE);
  // The index is the tool's only while it reads as one; anything else at its name stays.
  const previous = there?.isFile() ? readIndex(root) : undefined;
  if (there && !previous) return;
  const { dirs, stamps } = stampFolders(ws.root, folders, previous ?? { stamps: new Map(), dirs: new Map() });
  const records = recordsSeen ? lookAt(path.join(root, RECORDS_FILE)) : undefined;
  const index: IndexInput = {
    settings: digest,
    build: plan.build.id,
    records: records?.isFile() ? [records.size, records.mtimeMs] : null,
    manifest: facts(MANIFEST_NAME),
    revManifest: facts(REV_MANIFEST_NAME),
    sources,
    css,
    dirs,
    stamps,
    foreign: [...plan.foreign, ...plan.handChanged].sort(),
  };
  // Compared by digest with the index there (the text is made in pieces, twice at most, never held whole).
  if (there) {
    const now = createHash('sha256')
      .update(readRegular(ws.root.at(INDEX_FILE)).data)
      .digest('hex');
    const next = createHash('sha256');
    for (const piece of indexText(index)) next.update(piece);
    if (next.digest('hex') === now) return;
  }
  const stage = ws.stage();
  const staged = ws.stagedName('collect', INDEX_FILE);
  writeNew(stage, staged, indexText(index));
  placeFile(stage, staged, ws.root, INDEX_FILE);
}

function sourceWarnings(sources: AppSources[]): string[] {
  const out: string[] = [];
  for (const app of sources) {
    if (app.escapes.length > 0)
      out.push(
        `${app.app.name}: not published, links leading outside the app's media folder: ${listSome(app.escapes)}`,
      );
    if (app.skipped.length > 0)
      out.push(
        `${app.app.name}: not published, not regular files (dangling links, loops, FIFOs, ` +
          `sockets): ${listSome(app.skipped)}`,
      );
  }
  return out;
}

function missingWarnings(lines: readonly string[]): string[] {
  return lines.map(
    (line) =>
      `${line}: no such file in the collected media (the reference is left as written; --strict makes this an error)`,
  );
}

function foreignWarnings(settings: CollectSettings, foreign: readonly string[], changed: readonly string[]): string[] {
  const out: string[] = [];
  if (foreign.length > 0)
    out.push(
      `${foreign.length} file${foreign.length === 1 ? '' : 's'} in ${settings.shown} not made by app-media, ` +
        `left as ${foreign.length === 1 ? 'it is' : 'they are'}: ${listSome(foreign)}`,
    );
  if (changed.length > 0)
    out.push(
      `${changed.length} file${changed.length === 1 ? '' : 's'} ` +
        `in ${settings.shown} changed by hand since app-media wrote ` +
        `${changed.length === 1 ? "it, kept (no longer app-media's)" : "them, kept (no longer app-media's)"}: ` +
        `${listSome(changed)}`,
    );
  return out;
}

interface Outcome {
  settings: CollectSettings;
  sources: AppSources[];
  statuses: Map<string, CollectStatus>;
  reasons: Map<string, { reason: string; hint: string }>;
  files: Map<string, { files: number; bytes: number }>;
  warnings: string[];
  build: string | null;
  written: number;
  removed: number;
}

function toReport(outcome: Outcome, started: number): Report {
  const { settings } = outcome;
  const apps: AppReport[] = outcome.sources.map((app) => {
    const why = outcome.reasons.get(app.app.name);
    const counts = outcome.files.get(app.app.name) ?? { files: 0, bytes: 0 };
    return appReport(settings.projectRoot, settings.collectRoot, {
      name: app.app.name,
      status: outcome.statuses.get(app.app.name) ?? 'up-to-date',
      mode: null,
      source: app.app.mediaDir,
      files: counts.files,
      bytes: counts.bytes,
      reason: why?.reason || null,
      hint: why?.hint || null,
    });
  });
  const report = buildReport({
    task: 'collect',
    dryRun: settings.dryRun,
    projectRoot: settings.projectRoot,
    mediaRoot: settings.mediaRoot,
    started,
    warnings: outcome.warnings,
    apps,
  });
  report.collectRoot = toDisplay(settings.projectRoot, settings.collectRoot);
  report.build = outcome.build;
  report.written = outcome.written;
  report.removed = outcome.removed;
  return report;
}

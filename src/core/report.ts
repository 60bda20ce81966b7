/** Building the Report of a run, and the lines a person reads. */
import path from 'node:path';
import picocolors from 'picocolors';
import { toDisplay } from './display.js';
import type { ResolvedConfig } from './config/load.js';
import type { App } from './discover.js';
import type { AppReport, AppStatus, EntryMode, Logger, Report, TaskName } from './types.js';

/**
 * What happened to one app (or one entry of mediaRoot) in a run: the one result every stage
 * hands on. The planner says what will happen, apply what did, the checker what it found, each
 * refining it (AppPlan, Finding); the report shows it (`reportOf`: the JSON form, AppReport).
 */
export interface AppResult<S extends AppStatus = AppStatus> {
  name: string;
  /** The configured app that claims the entry; undefined for an entry no configured app claims. */
  app: App | undefined;
  status: S;
  /** How the entry is (or would be) made; null when there is none. */
  mode: EntryMode | null;
  reason: string | null;
  hint: string | null;
  /** Files written, and their bytes (copy mode). */
  files: number;
  bytes: number;
  /** Copy: files and folders an `ignore` glob leaves out. */
  ignored?: number;
}

/** An app's result with nothing done yet. */
export function newResult<S extends AppStatus>(
  name: string,
  app: App | undefined,
  status: S,
  mode: EntryMode | null = null,
): AppResult<S> {
  return { name, app, status, mode, reason: null, hint: null, files: 0, bytes: 0 };
}

/** The fields of an app's result alone (a refined one, such as a plan, carries more). */
export function resultOf<S extends AppStatus>(result: AppResult<S>): AppResult<S> {
  const { name, app, status, mode, reason, hint, files, bytes } = result;
  return {
    name,
    app,
    status,
    mode,
    reason,
    hint,
    files,
    bytes,
    ...(result.ignored !== undefined ? { ignored: result.ignored } : {}),
  };
}

const LINK_FAILS: ReadonlySet<AppStatus> = new Set<AppStatus>(['conflict', 'error', 'escape']);
const VERIFY_PASSES: ReadonlySet<AppStatus> = new Set<AppStatus>(['ok', 'no-media']);

/** Whether a status makes the task exit non-zero: clean fails only on errors, verify on anything not ok. */
export function isFailing(task: TaskName, status: AppStatus, conflicts: 'warn' | 'fail' = 'fail'): boolean {
  if (task === 'verify') return !VERIFY_PASSES.has(status);
  if (status === 'conflict' && conflicts === 'warn') return false;
  if (task === 'clean') return status === 'error';
  if (task === 'find') return status === 'not-found';
  if (task === 'publish') return LINK_FAILS.has(status) || status === 'held';
  return LINK_FAILS.has(status);
}

export interface ReportInput {
  task: TaskName;
  dryRun: boolean;
  projectRoot: string;
  mediaRoot: string;
  started: number;
  apps: AppReport[];
  warnings: string[];
  /** link: `warn` keeps conflicts from failing the run. */
  conflicts?: 'warn' | 'fail';
}

export function buildReport(input: ReportInput): Report {
  const counts: Report['counts'] = {};
  for (const app of input.apps) counts[app.status] = (counts[app.status] ?? 0) + 1;
  return {
    task: input.task,
    dryRun: input.dryRun,
    mediaRoot: toDisplay(input.projectRoot, input.mediaRoot),
    ms: Math.round(performance.now() - input.started),
    counts,
    apps: input.apps,
    warnings: input.warnings,
    failed: input.apps.some((app) => isFailing(input.task, app.status, input.conflicts)),
  };
}

/** The report of a verify (of mediaRoot or of collectRoot): it only looks, so it is never a dry run. */
export function verifyReport(
  config: Pick<ResolvedConfig, 'projectRoot' | 'mediaRoot'>,
  started: number,
  apps: AppReport[],
  warnings: string[] = [],
): Report {
  return buildReport({
    task: 'verify',
    dryRun: false,
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    started,
    warnings,
    apps,
  });
}

/** An app's result as the report shows it. */
export function reportOf(result: AppResult, projectRoot: string, mediaRoot: string): AppReport {
  // What a copy leaves out is said only of a copy.
  const { ignored, ...shown } = resultOf(result);
  return appReport(projectRoot, mediaRoot, {
    ...shown,
    source: result.app?.mediaDir ?? null,
    ...(ignored !== undefined && result.mode === 'copy' ? { ignored } : {}),
  });
}

export function appReport(
  projectRoot: string,
  mediaRoot: string,
  fields: Omit<AppReport, 'target' | 'source'> & { source: string | null },
): AppReport {
  return {
    name: fields.name,
    status: fields.status,
    mode: fields.mode,
    source: fields.source === null ? null : toDisplay(projectRoot, fields.source),
    target: toDisplay(projectRoot, path.join(mediaRoot, fields.name)),
    files: fields.files,
    bytes: fields.bytes,
    reason: fields.reason,
    hint: fields.hint,
    ...(fields.ignored !== undefined ? { ignored: fields.ignored } : {}),
    ...(fields.url !== undefined ? { url: fields.url } : {}),
  };
}

const DRY_VERBS: Partial<Record<AppStatus, string>> = {
  linked: 'would link',
  copied: 'would copy',
  relinked: 'would relink',
  pruned: 'would prune',
  removed: 'would remove',
  collected: 'would collect',
  published: 'would publish',
};

const NOTICE: ReadonlySet<AppStatus> = new Set<AppStatus>(['no-media', 'kept', 'shadowed', 'held']);

/** The status words' colours (picocolors), used only where the caller asked for colour (wantsColor). */
const PAINT = picocolors.createColors(true);

function paint(color: 'red' | 'yellow' | 'green' | 'dim' | undefined, text: string, enabled: boolean): string {
  if (!enabled || !color) return text;
  return PAINT[color](text);
}

const GOOD: ReadonlySet<AppStatus> = new Set<AppStatus>([
  'linked',
  'copied',
  'relinked',
  'pruned',
  'removed',
  'ok',
  'found',
  'collected',
  'published',
]);

/** One line per app, then reason and hint lines where there is something to say, then the summary. */
export function formatLines(report: Report, color = false): Array<{ level: 'info' | 'warn' | 'error'; text: string }> {
  const lines: Array<{ level: 'info' | 'warn' | 'error'; text: string }> = [];
  const nameWidth = Math.min(24, Math.max(4, ...report.apps.map((app) => app.name.length)));
  for (const warning of report.warnings) lines.push({ level: 'warn', text: `warning: ${warning}` });
  for (const app of report.apps) {
    const label = report.dryRun ? (DRY_VERBS[app.status] ?? app.status) : app.status;
    const level =
      isFailing(report.task, app.status) || app.status === 'conflict'
        ? 'error'
        : NOTICE.has(app.status)
          ? 'warn'
          : 'info';
    const tone = level === 'error' ? 'red' : level === 'warn' ? 'yellow' : GOOD.has(app.status) ? 'green' : 'dim';
    lines.push({
      level,
      text: `${paint(tone, label.padEnd(12), color)} ${app.name.padEnd(nameWidth)}  ${describeEntry(app)}`,
    });
    if (app.reason) lines.push({ level, text: `${' '.repeat(13)}${app.reason}` });
    if (app.hint) lines.push({ level, text: `${' '.repeat(13)}hint: ${app.hint}` });
  }
  lines.push({ level: report.failed ? 'error' : 'info', text: summaryLine(report) });
  return lines;
}

const SHOWS_SOURCE: ReadonlySet<AppStatus> = new Set<AppStatus>([
  'linked',
  'copied',
  'relinked',
  'up-to-date',
  'ok',
  'escape',
  'exposed',
  'unserved',
  'found',
  'shadowed',
  'collected',
]);

function describeEntry(app: AppReport): string {
  const written = app.files > 0 ? `, ${app.files} file${app.files === 1 ? '' : 's'}, ${formatBytes(app.bytes)}` : '';
  const ignored = app.ignored ? `, ${app.ignored} ignored` : '';
  // publish has no mode, but says what it uploaded.
  const mode = app.mode
    ? ` (${app.mode}${written}${ignored})`
    : written && app.status === 'published'
      ? ` (${written.slice(2)})`
      : '';
  if (app.status === 'shadowed') return `${app.source ?? app.target} (not published)`;
  if (app.source && SHOWS_SOURCE.has(app.status)) {
    return `${app.target} -> ${app.source}${mode}${app.url ? ` at ${app.url}` : ''}`;
  }
  return `${app.target}${mode}`;
}

export function summaryLine(report: Report): string {
  const parts = Object.entries(report.counts).map(
    ([status, count]) => `${count} ${report.dryRun ? (DRY_VERBS[status as AppStatus] ?? status) : status}`,
  );
  const what =
    parts.length > 0 ? parts.join(', ') : report.task === 'clean' ? 'nothing to remove' : 'no apps configured';
  const prefix = report.dryRun ? 'dry run, nothing written: ' : '';
  if (report.task === 'collect') {
    const held =
      report.apps.some(
        (app) =>
          app.status === 'held' || app.status === 'conflict' || app.status === 'error' || app.status === 'escape',
      ) && !report.dryRun;
    const build = report.build ? `; build ${report.build}` : '';
    const done = [
      report.written
        ? `${report.written} file${report.written === 1 ? '' : 's'} ${report.dryRun ? 'to write' : 'written'}`
        : '',
      report.removed ? `${report.removed} of older builds ${report.dryRun ? 'to remove' : 'removed'}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return (
      `media:collect: ${prefix}${what} in ${report.collectRoot ?? report.mediaRoot}${build}` +
      `${done ? ` (${done})` : ''}${held ? '; nothing written, manifest.json unchanged' : ''} (${report.ms} ms)`
    );
  }
  return (
    `media:${report.task}: ${prefix}${what} in ${report.destination ?? report.collectRoot ?? report.mediaRoot} ` +
    `(${report.ms} ms)`
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Logs the report. A link run is quiet about what did not change: an
 * up-to-date app with nothing to say gets no line (the summary counts it),
 * unless `verbose`. So a run on every install prints one line when all is well.
 */
export function logReport(report: Report, logger: Logger | undefined, verbose = false): void {
  if (!logger) return;
  const shown =
    verbose || report.task !== 'link'
      ? report
      : {
          ...report,
          apps: report.apps.filter((app) => app.status !== 'up-to-date' || app.reason !== null || app.hint !== null),
        };
  for (const line of formatLines(shown, logger.color ?? false)) logger[line.level](line.text);
}

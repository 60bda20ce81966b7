/**
 * media:publish: puts what media:collect wrote in collectRoot into an
 * S3-compatible bucket under a prefix: read the collect output (collected.ts),
 * open the store (client.ts), apply (apply.ts, which plans with plan.ts), report.
 */
import { realpath } from 'node:fs/promises';
import { loadConfig } from '../core/config/load.js';
import { toDisplay } from '../core/display.js';
import { buildReport, logReport } from '../core/report.js';
import type { AppReport, AppStatus, Logger, Report, RunOptions } from '../core/types.js';
import { applyPublish, type PublishOutcome, type PublishProgress } from './apply.js';
import { readCollected } from './collected.js';
import { Store } from './client.js';
import { uploadProgress } from './progress.js';
import { publishSettings, type PublishSettings } from './settings.js';

export type { PublishSettings };

export interface PublishRunOptions {
  dryRun?: boolean;
  logger?: Logger;
  verbose?: boolean;
  onProgress?: (progress: PublishProgress) => void;
  /** Called when the uploads are over, before any line is logged (clears a progress line). */
  beforeReport?: () => void;
}

export async function runPublish(settings: PublishSettings, options: PublishRunOptions = {}): Promise<Report> {
  const started = performance.now();
  const display = toDisplay(settings.projectRoot, settings.collectRoot);
  const collected = await readCollected(settings.collectRoot, display);
  const realRoot = await realpath(settings.collectRoot);
  const store = await Store.open(settings.store);
  try {
    const outcome = await applyPublish({
      store,
      collected,
      realRoot,
      keep: settings.keep,
      cacheControl: settings.cacheControl,
      dryRun: options.dryRun ?? false,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const report = publishReport(settings, display, store, outcome, options.dryRun ?? false, started);
    options.beforeReport?.();
    logReport(report, options.logger, options.verbose ?? false);
    return report;
  } finally {
    store.close();
  }
}

interface AppTally {
  uploaded: number;
  bytes: number;
  unchanged: number;
  adopted: number;
  deleted: number;
  notes: string[];
  status: AppStatus | undefined;
}

function publishReport(
  settings: PublishSettings,
  display: string,
  store: Store,
  outcome: PublishOutcome,
  dryRun: boolean,
  started: number,
): Report {
  const apps = new Map<string, AppTally>();
  const tally = (app: string): AppTally => {
    let found = apps.get(app);
    if (!found) {
      found = { uploaded: 0, bytes: 0, unchanged: 0, adopted: 0, deleted: 0, notes: [], status: undefined };
      apps.set(app, found);
    }
    return found;
  };
  for (const item of outcome.plan.unchanged) tally(item.app).unchanged++;
  for (const item of outcome.uploaded) {
    const app = tally(item.app);
    app.uploaded++;
    app.bytes += item.size;
  }
  for (const item of outcome.adopted) tally(item.app).adopted++;
  for (const item of outcome.deleted) tally(item.app).deleted++;
  for (const item of outcome.conflicts) {
    const app = tally(item.app);
    app.status = 'conflict';
    app.notes.push(`${item.rel}: ${item.reason}`);
  }
  for (const item of outcome.failures) {
    const app = tally(item.app);
    app.status = 'error';
    app.notes.push(`${item.rel}: ${item.reason}`);
  }
  for (const item of outcome.released) tally(item.app).notes.push(`${item.rel}: ${item.reason}`);
  if (outcome.held) {
    for (const document of outcome.plan.documents) {
      const app = tally(document.app);
      app.status ??= 'held';
    }
  }

  const hints: Partial<Record<AppStatus, string>> = {
    conflict:
      'app-media never overwrites an object it did not upload: move or delete that object by hand, ' +
      'or publish under another prefix',
    error: 'run media:collect again, then media:publish',
    held: 'fix the lines above and publish again: pages keep the previous build until then',
  };
  const reports: AppReport[] = [...apps.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, app]) => {
      const status: AppStatus =
        app.status ??
        (app.uploaded + app.adopted > 0
          ? 'published'
          : app.deleted > 0
            ? app.unchanged === 0
              ? 'pruned'
              : 'published'
            : 'up-to-date');
      const parts = [
        app.deleted > 0
          ? `${app.deleted} object${app.deleted === 1 ? '' : 's'} of earlier builds ${dryRun ? 'would be ' : ''}deleted`
          : '',
        app.adopted > 0 ? `${app.adopted} already in the bucket with the same bytes` : '',
      ].filter(Boolean);
      if (status === 'held')
        parts.push('not uploaded: an asset of this build is not in place, so pages keep the previous build');
      const notes = [
        ...parts,
        ...app.notes.slice(0, 5),
        ...(app.notes.length > 5 ? [`and ${app.notes.length - 5} more`] : []),
      ];
      const isDocument = name === 'manifest.json' || name === 'rev-manifest.json';
      return {
        name,
        status,
        mode: null,
        source: isDocument ? `${display}/${name}` : `${display}/${name}/`,
        target: isDocument ? store.url(name) : `${store.url(name)}/`,
        files: app.uploaded,
        bytes: app.bytes,
        reason: notes.length > 0 ? notes.join('\n             ') : null,
        hint: hints[status] ?? null,
      };
    });
  const report = buildReport({
    task: 'publish',
    dryRun,
    projectRoot: settings.projectRoot,
    mediaRoot: settings.collectRoot,
    started,
    warnings: outcome.warnings,
    apps: reports,
  });
  report.destination = store.url();
  report.publish = {
    bucket: settings.store.bucket,
    prefix: settings.store.prefix,
    build: outcome.plan.build.id,
    uploaded: { files: outcome.uploaded.length, bytes: outcome.uploaded.reduce((sum, item) => sum + item.size, 0) },
    unchanged: outcome.plan.unchanged.length,
    adopted: outcome.adopted.length,
    deleted: outcome.deleted.length,
    released: outcome.released.length,
    requests: { ...store.requests },
  };
  return report;
}

/** media:publish: upload collectRoot's current build to the configured bucket (see the README). */
export async function publish(options: RunOptions = {}): Promise<Report> {
  const config = await loadConfig(options);
  const settings = publishSettings(config);
  // A person watching a terminal sees the uploads go; --json, --silent and the quiet API do not.
  const progress = options.logger && !options.onProgress ? uploadProgress() : undefined;
  const onProgress = options.onProgress ?? progress?.onProgress;
  try {
    return await runPublish(settings, {
      dryRun: options.dryRun ?? false,
      verbose: options.verbose ?? false,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(progress ? { beforeReport: () => progress.stop() } : {}),
    });
  } finally {
    progress?.stop();
  }
}

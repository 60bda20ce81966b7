/**
 * How apply makes an app's entry, and records it: a link (each strategy in turn, a refusal
 * remembered for the rest of the run) or a copy, the app's media folder held open while it is read.
 */
import { errors } from '../core/errors.js';
import { checkLink, isLinkRefusal, type LinkMaker } from '../core/fs/link.js';
import { pause } from '../core/fs/pause.js';
import type { RecordChanges, RecordsTrust } from '../core/fs/records-file.js';
import { MediaReader } from '../core/fs/source.js';
import { sourceStamps, stampCopy } from '../core/fs/stamp.js';
import { walkTree, type TreeFacts } from '../core/fs/walk.js';
import type { Workspace } from '../core/fs/workspace.js';
import { linkRecord, recordedSourceOf, type CopyRecord, type OwnRecord } from '../core/records.js';
import type { AppResult } from '../core/report.js';
import type { EntryMode } from '../core/types.js';
import { createCopy, type CopyResult } from './copy.js';
import { copyRecordOf, planCopy, sameRecord, type CopyPlan } from './copy-plan.js';
import { noteLeftOut, type AppPlan, type Strategy } from './plan.js';

/** Something else appeared, or changed, at the entry's path while apply worked: left as it is. */
export class EntryInTheWay extends Error {}

export interface ApplyContext {
  projectRoot: string;
  mediaRoot: string;
  realMediaRoot: string;
  relative: boolean;
  ignore: readonly string[];
  /** mediaRoot held open, with this run's temporary names (made by the caller, which closes it). */
  ws: Workspace;
  /** Whose records file may be read back before each write. */
  trust: RecordsTrust;
  /** Told after each file a copy writes, with the run's totals so far. */
  onProgress?: (progress: { files: number; bytes: number }) => void;
}

/** What one application of a plan holds while it runs, beside its context. */
export interface RunContext extends ApplyContext {
  /** The vinyl-fs streams the run's links are made through. */
  links: LinkMaker;
  /** Files and bytes copied so far, for the progress display. */
  totals: { files: number; bytes: number };
  /** Links of the tool's, renamed aside and checked, that `del` removes once the apps are done. */
  discarded: string[];
  /** Strategies refused so far. */
  fallback: Fallback;
  /** What the records file is to say once the run is over, app by app. */
  records: RecordChanges;
  /** The run's warnings. */
  warnings: string[];
}

/** Strategies that failed with a refusal stay off for the rest of the run. */
export interface Fallback {
  refused: Map<Strategy, NodeJS.ErrnoException>;
  warned: boolean;
}

export interface Made {
  mode: EntryMode;
  record: ReturnType<typeof linkRecord> | CopyRecord;
  result: CopyResult;
  /** The source tree a fallback copy walked (the plan had none). */
  walked?: TreeFacts;
}

export function settle(result: AppResult, plan: AppPlan, made: Made): void {
  result.mode = made.mode;
  result.files = made.result.files;
  result.bytes = made.result.bytes;
  if (plan.status === 'linked' || plan.status === 'copied') result.status = made.mode === 'copy' ? 'copied' : 'linked';
  if (made.walked) noteLeftOut(result, made.walked);
}

/** Tries each strategy in turn; a refusal moves to the next one and is remembered for the rest of the run. */
export async function createEntry(
  plan: AppPlan,
  strategies: Strategy[],
  copy: CopyPlan | 'walk',
  ctx: RunContext,
): Promise<Made> {
  const { fallback, warnings } = ctx;
  const app = requireApp(plan);
  const usable = strategies.filter((strategy) => !fallback.refused.has(strategy));
  let lastRefusal: NodeJS.ErrnoException | undefined = [...fallback.refused.values()].pop();
  for (const strategy of usable) {
    if (strategy === 'copy') {
      if (fallback.refused.size > 0 && !fallback.warned) {
        fallback.warned = true;
        warnings.push(
          `links are refused here (${describeRefusal(fallback.refused)}); copying instead. ` +
            `Entries stay correct but are not live: run media:link again after changing app media.`,
        );
      }
      const walked =
        copy === 'walk'
          ? await walkTree(app.mediaDir, {
              ignore: ctx.ignore,
              followInternalLinks: true,
              sourceStamps: {},
            })
          : undefined;
      const copyPlan = walked ? planCopy(walked, undefined, undefined) : (copy as CopyPlan);
      const result = await readingMedia(plan, (reader) =>
        createCopy(ctx.ws, reader, app.mediaDir, plan.name, copyPlan, progressOf(ctx)),
      ).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST')
          throw new EntryInTheWay(`${plan.name} appeared while it was being copied`);
        throw error;
      });
      const made: Made = {
        mode: 'copy',
        result,
        record: stamped(copyRecord(ctx, plan, copyPlan), ctx, plan.name, copyPlan, plan.record),
      };
      if (walked) made.walked = walked;
      return made;
    }
    const text = strategy === 'junction' ? plan.absoluteText : plan.linkText;
    try {
      const link = { kind: strategy, name: plan.name, text };
      if (!ctx.links.isQueued(link)) pause('link', plan.name);
      await ctx.links.make(link);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new EntryInTheWay(`${plan.name} appeared while it was being linked`);
      if (!isLinkRefusal(error)) throw error;
      fallback.refused.set(strategy, error);
      lastRefusal = error;
      continue;
    }
    const check = checkLink(ctx.ws.root, plan.name, text, app.mediaDir, app.appDir, plan.sourceId);
    if (!check.ok) throw new EntryInTheWay(`${plan.name}: ${check.why}`);
    if (strategy === 'junction' && !fallback.warned) {
      fallback.warned = true;
      warnings.push(`symbolic links are refused here (${describeRefusal(fallback.refused)}); made junctions instead.`);
    }
    return {
      mode: strategy,
      result: { files: 0, bytes: 0 },
      record: linkRecord(strategy, text, recordedSourceOf(ctx.projectRoot, app.mediaDir)),
    };
  }
  throw errors.linkRefused(lastRefusal ?? Object.assign(new Error('no link strategy left'), { code: 'EPERM' }));
}

function describeRefusal(refused: Map<Strategy, NodeJS.ErrnoException>): string {
  return [...refused].map(([strategy, error]) => `${strategy}: ${error.code ?? error.message}`).join(', ');
}

/** Per-file callback that keeps the run's totals for the progress display. */
export function progressOf(ctx: RunContext): ((bytes: number) => void) | undefined {
  const report = ctx.onProgress;
  if (!report) return undefined;
  return (bytes) => {
    ctx.totals.files += 1;
    ctx.totals.bytes += bytes;
    report({ ...ctx.totals });
  };
}

export function copyRecord(ctx: ApplyContext, plan: AppPlan, copy: CopyPlan): CopyRecord {
  const { mediaDir } = requireApp(plan);
  const record = copyRecordOf(copy, recordedSourceOf(ctx.projectRoot, mediaDir));
  const stamps = copy.source ? sourceStamps(mediaDir, record, copy.source) : undefined;
  if (stamps) record.sourceStamps = stamps;
  return record;
}

/**
 * The record of a copy just carried out, with its folder stamps (core/fs/stamp.ts): new ones when
 * the copy's folders changed; when nothing in them did and the record says the same, the old
 * ones (still true); none otherwise.
 */
export function stamped(
  record: CopyRecord,
  ctx: ApplyContext,
  name: string,
  copy: CopyPlan,
  before: OwnRecord | undefined,
): CopyRecord {
  const changed = copy.writes.length + copy.deletes.length + copy.mkdirs.length + copy.rmdirs.length > 0;
  const previous = before?.kind === 'copy' ? before.stamps : undefined;
  const stamps =
    !changed && before?.kind === 'copy' && sameRecord(record, before)
      ? previous
      : stampCopy(ctx.ws.root, name, record, previous);
  if (stamps) record.stamps = stamps;
  return record;
}

/** Runs `work` with the app's media folder held open (core/fs/source.ts, MediaReader), then lets it go. */
export async function readingMedia<T>(plan: AppPlan, work: (reader: MediaReader) => Promise<T>): Promise<T> {
  const app = requireApp(plan);
  const reader = MediaReader.open(app.mediaDir, app.appDir, plan.sourceId);
  try {
    return await work(reader);
  } finally {
    reader.close();
  }
}

export function requireApp(plan: AppPlan): NonNullable<AppPlan['app']> {
  if (!plan.app) throw new Error(`internal: no app for entry ${plan.name}`);
  return plan.app;
}

/**
 * What media:verify concludes about each entry of mediaRoot, from the probe's
 * facts alone. Pure, like the planner, and read-only by construction: it
 * returns findings, never actions.
 */
import type { App } from '../core/discover.js';
import { ignoreMatcher, type TreeFacts } from '../core/fs/walk.js';
import { ownsCopy, ownsLink, recordMode, type OwnRecord } from '../core/records.js';
import { planCopy, provesCopy } from './copy-plan.js';
import type { AppFacts, ProbeResult, RootEntry } from './probe.js';
import { describeSystemError, systemErrorHint, type SystemError } from '../core/system-errors.js';
import { newResult, type AppResult } from '../core/report.js';
import type { EntryMode, Mode, VerifyStatus } from '../core/types.js';
import { listSome } from '../core/util/list.js';

/** What verify found of one app: its result, and a file to fetch. */
export interface Finding extends AppResult<VerifyStatus> {
  /** A file that mediaRoot/<name>/ serves (relative to it), for the --url check. */
  sample: string | null;
}

const RUN_LINK = 'run media:link';

/** One configured app's finding: verify checks each app as soon as the probe has seen it, then lets go of its walks. */
export function checkAppEntry(
  facts: AppFacts,
  probed: Pick<ProbeResult, 'records'>,
  exposed: readonly string[],
  mode: Mode,
  projectRoot: string,
): Finding {
  if (facts.unreadable) return unreadable(facts.app.name, facts.app, facts.unreadable, projectRoot);
  return checkApp(facts, probed.records.entries[facts.app.name], ignoreMatcher(exposed), mode);
}

/** The findings of the whole run from its apps': the tool's own entries no configured app claims are stale. */
export function finishChecks(
  findings: Finding[],
  probed: Pick<ProbeResult, 'records' | 'unclaimed'>,
  projectRoot: string,
): Finding[] {
  for (const unclaimed of probed.unclaimed) {
    const stale = unclaimed.unreadable
      ? unreadable(unclaimed.name, undefined, unclaimed.unreadable, projectRoot)
      : checkUnclaimed(unclaimed, probed.records.entries[unclaimed.name]);
    if (stale) findings.push(stale);
  }
  return findings;
}

function finding(
  name: string,
  app: App | undefined,
  status: VerifyStatus,
  mode: EntryMode | null,
  reason: string | null = null,
  hint: string | null = null,
): Finding {
  return { ...newResult(name, app, status, mode), reason, hint, sample: null };
}

/** A look that failed on a system call (EACCES on a folder): nothing can be said of this entry, and verify fails. */
function unreadable(name: string, app: App | undefined, error: SystemError, projectRoot: string): Finding {
  return finding(name, app, 'error', null, describeSystemError(error, projectRoot), systemErrorHint(error.code));
}

function checkApp(
  facts: AppFacts,
  record: OwnRecord | undefined,
  looksSecret: (rel: string) => boolean,
  mode: Mode,
): Finding {
  const { app, source, entry } = facts;
  const own = isOwn(entry, record, facts.entryTree, facts.sourceTree);

  if (source.kind === 'escape') {
    return finding(
      app.name,
      app,
      'escape',
      own ? entryMode(entry, record) : null,
      `${app.mediaDirname}/${app.name}/ leads outside the app's folder (to ` +
        `${source.real ?? '?'})${own ? '; its old entry still publishes it' : ''}`,
      `replace the link with the folder itself, inside the app, then ${RUN_LINK}`,
    );
  }
  if (source.kind !== 'dir' || source.real === undefined) {
    if (own) {
      return finding(
        app.name,
        app,
        'stale',
        entryMode(entry, record),
        `the app has no ${app.mediaDirname}/${app.name}/ folder any more, but its old entry is still published`,
        `${RUN_LINK} (it prunes the old entry) or media:clean`,
      );
    }
    const hint = source.misnamed ? `found ${source.misnamed.found}: ${source.misnamed.fix}` : null;
    return finding(app.name, app, 'no-media', null, `the app has no ${app.mediaDirname}/${app.name}/ folder`, hint);
  }

  let result: Finding;
  switch (entry.kind) {
    case 'missing':
      return finding(app.name, app, 'missing', null, 'nothing is published for this app', RUN_LINK);
    case 'symlink': {
      const linkMode = own ? entryMode(entry, record) : 'symlink';
      if (!own && entry.resolved !== source.real) {
        return finding(
          app.name,
          app,
          'conflict',
          'symlink',
          `a link not made by app-media is in the way (it leads to ${entry.linkText ?? '?'})`,
          'remove it by hand if it is yours to remove, or rename the app with "name" in its apps entry',
        );
      }
      if (entry.resolved === null)
        return finding(
          app.name,
          app,
          'dangling',
          linkMode,
          `its link leads nowhere (${entry.linkText ?? '?'})`,
          `${RUN_LINK} to relink it`,
        );
      if (entry.resolved !== source.real)
        return finding(
          app.name,
          app,
          'wrong-target',
          linkMode,
          `its link leads to ${entry.linkText ?? '?'}, not to the app's media folder`,
          `${RUN_LINK} to relink it`,
        );
      result =
        own && mode === 'copy'
          ? finding(
              app.name,
              app,
              'drift',
              linkMode,
              'it is a link, but the configured mode is copy',
              `${RUN_LINK} to replace it with a copy`,
            )
          : finding(
              app.name,
              app,
              'ok',
              linkMode,
              own ? null : 'a link made outside app-media; it leads to the right folder',
            );
      break;
    }
    case 'dir': {
      if (!own || !ownsCopy(record) || !facts.entryTree || !facts.sourceTree) {
        return finding(
          app.name,
          app,
          'conflict',
          null,
          'a folder not made by app-media is in the way',
          'move or remove that folder by hand (app-media never deletes what it did not create), or rename the app',
        );
      }
      const drift = describeDrift(facts.sourceTree, facts.entryTree, record);
      if (drift) {
        result = finding(
          app.name,
          app,
          'drift',
          'copy',
          `the copy differs from the source: ${drift.text}`,
          drift.edited
            ? "edit the app's media folder, not the copy: move your changes there; " +
                'media:link leaves files changed by hand alone'
            : `${RUN_LINK} to bring the copy in line`,
        );
      } else if (mode === 'symlink') {
        result = finding(
          app.name,
          app,
          'drift',
          'copy',
          'it is a copy, but the configured mode is symlink',
          `${RUN_LINK} to replace it with a link`,
        );
      } else {
        result = finding(app.name, app, 'ok', 'copy');
      }
      break;
    }
    default:
      return finding(
        app.name,
        app,
        'conflict',
        null,
        `a ${entry.kind === 'file' ? 'file' : 'special file'} not made by app-media is in the way`,
        'move or remove it by hand (app-media never deletes what it did not create), or rename the app',
      );
  }
  return checkContents(result, facts.publishedTree, looksSecret);
}

/**
 * A published entry may publish what it should not, whether or not it is
 * otherwise right: a leak outranks drift (which is then named in the reason).
 */
function checkContents(result: Finding, tree: TreeFacts | undefined, looksSecret: (rel: string) => boolean): Finding {
  if (!tree) return result;
  // The --url check fetches a plain file: servers often deny dotfiles, and a secret must not be fetched.
  result.sample =
    [...tree.files.keys()]
      .sort()
      .find(
        (rel) => !rel.split('/').some((part) => part.startsWith('.')) && !looksSecret(rel) && !tree.links?.has(rel),
      ) ?? null;
  const also = result.status === 'drift' && result.reason ? ` (also: ${result.reason})` : '';
  if (tree.escapes.length > 0) {
    result.status = 'escape';
    result.reason =
      `${listSome(tree.escapes)} inside the published media lead${tree.escapes.length === 1 ? 's' : ''} ` +
      `outside the app's media folder${also}`;
    result.hint =
      'replace each such link with the file itself, or remove it: a web server follows it to whatever it points at';
    return result;
  }
  const secret = [
    ...tree.dirs.filter(looksSecret).map((dir) => `${dir}/`),
    ...[...tree.files.keys()].filter(looksSecret),
  ].sort();
  if (secret.length > 0) {
    result.status = 'exposed';
    result.reason =
      `published file${secret.length === 1 ? '' : 's'} that look${secret.length === 1 ? 's' : ''} secret: ` +
      `${listSome(secret)}${also}`;
    result.hint =
      result.mode === 'copy'
        ? 'move it out of the app\'s media folder (then run media:link), or add a pattern to "ignore"'
        : 'move it out of the app\'s media folder: a link publishes everything in it ("ignore" only applies to copies)';
  }
  return result;
}

function checkUnclaimed(unclaimed: RootEntry, record: OwnRecord | undefined): Finding | undefined {
  if (!isOwn(unclaimed.entry, record, unclaimed.tree, undefined)) return undefined;
  return finding(
    unclaimed.name,
    undefined,
    'stale',
    entryMode(unclaimed.entry, record),
    'made by app-media for an app that is no longer configured',
    `${RUN_LINK} (it prunes the tool's own stale entries) or media:clean`,
  );
}

function isOwn(
  entry: AppFacts['entry'],
  record: OwnRecord | undefined,
  tree: TreeFacts | undefined,
  source: TreeFacts | undefined,
): boolean {
  if (entry.kind === 'symlink') return ownsLink(record, entry.linkText ?? '');
  return entry.kind === 'dir' && ownsCopy(record) && tree !== undefined && provesCopy(record, tree, source);
}

function entryMode(entry: AppFacts['entry'], record: OwnRecord | undefined): EntryMode | null {
  if (!record) return null;
  return recordMode(record, entry.kind === 'dir' ? 'dir' : 'symlink');
}

function describeDrift(
  source: TreeFacts,
  dest: TreeFacts,
  record: Parameters<typeof planCopy>[2],
): { text: string; edited: boolean } | undefined {
  const plan = planCopy(source, dest, record);
  const changed = plan.writes.filter((file) => dest.files.has(file.rel)).map((file) => `${file.rel} changed`);
  const missing = plan.writes.filter((file) => !dest.files.has(file.rel)).map((file) => `${file.rel} missing`);
  const extra = plan.deletes.map((rel) => `${rel} no longer in the source`);
  const kept = plan.kept.map(
    (file) => `${file.rel} ${file.why === 'edited' ? 'changed by hand' : 'not written by app-media'}`,
  );
  const dirs = plan.mkdirs.map((dir) => `${dir}/ missing`);
  const retimed = (plan.touch ?? []).map((file) => `${file.rel} has another time or mode`);
  const all = [...changed, ...missing, ...extra, ...kept, ...dirs, ...retimed];
  if (all.length === 0) return undefined;
  return { text: listSome(all), edited: kept.length > 0 };
}

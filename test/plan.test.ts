/**
 * The planner without a disk: every data-safety decision of media:link is made
 * from probe facts built here in memory. Paths are fake (`/proj/...`) and
 * never touched.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { App } from '../src/core/discover.js';
import { isInside, type FileFacts, type TreeFacts } from '../src/core/fs/walk.js';
import {
  emptyRecords as emptyManifest,
  linkRecord,
  ownsCopy,
  ownsLink,
  parseRecords,
  pendingRecord,
  recordedDirs,
  recordedFiles,
  recordedSource,
  serializeRecords as serializeManifest,
  type CopyRecord,
  type OwnRecord,
  type Records,
} from '../src/core/records.js';
import {
  plannedResult,
  planLink,
  strategiesFor,
  type AppPlan,
  type LinkPlan,
  type LinkPlanInput,
} from '../src/link/plan.js';
import { planCopy, recordStays, sameFacts, type CopyPlan } from '../src/link/copy-plan.js';
import { checkSafety } from '../src/link/guards.js';
import type { ResolvedConfig } from '../src/core/config/load.js';
import type { AppMediaError } from '../src/core/errors.js';
import { checkAppEntry, finishChecks } from '../src/link/check.js';
import { planClean } from '../src/link/clean-plan.js';
import type { SourceFacts } from '../src/core/media-folder.js';
import type { AppFacts, EntryFacts, ProbeResult, RootEntry } from '../src/link/probe.js';
import type { SystemError } from '../src/core/system-errors.js';
import type { Mode } from '../src/core/types.js';
import { mulberry32 } from './support/scenario.js';

// ---- fixtures ---------------------------------------------------------------

const ROOT = path.resolve('/proj');
const MEDIA = path.join(ROOT, 'public', 'media');

function makeApp(name: string): App {
  const appDir = path.join(ROOT, 'apps', name);
  return {
    name,
    kind: 'folder',
    appDir,
    mediaDirname: 'app_media',
    mediaDir: path.join(appDir, 'app_media', name),
    field: 'apps[0]',
    label: `./apps/${name}`,
  };
}
const src = (name: string): string => makeApp(name).mediaDir;
/** The relative link text a user expects from public/media/<name>. */
const rel = (name: string): string => path.join('..', '..', 'apps', name, 'app_media', name);
const recordSource = (name: string): string => `apps/${name}/app_media/${name}`;

const MISSING: EntryFacts = { kind: 'missing' };
const link = (linkText: string, resolved: string | null): EntryFacts => ({ kind: 'symlink', linkText, resolved });
const folder = (empty = false): EntryFacts => ({ kind: 'dir', empty });

const f = (size: number, mtimeMs: number): FileFacts => ({ size, mtimeMs, mode: 0o644, dev: 1, ino: 1 });
function tree(files: Record<string, FileFacts>, extraDirs: string[] = []): TreeFacts {
  const dirs = new Set(extraDirs);
  for (const file of Object.keys(files)) {
    const parts = file.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return { files: new Map(Object.entries(files)), dirs: [...dirs].sort(), escapes: [], ignored: 0, skipped: [] };
}
function copyRecord(name: string, files: Record<string, FileFacts>): CopyRecord {
  const recorded: CopyRecord['files'] = {};
  for (const [file, facts] of Object.entries(files)) recorded[file] = [facts.size, facts.mtimeMs];
  return { kind: 'copy', source: recordSource(name), files: recorded };
}

interface Slot {
  source?: SourceFacts | undefined;
  entry?: EntryFacts | undefined;
  record?: OwnRecord | undefined;
  sourceTree?: TreeFacts | undefined;
  entryTree?: TreeFacts | undefined;
  unreadable?: SystemError | undefined;
}
/** The records file's text read back (as the records file test below names it). */
const parseManifest = (text: string | undefined): { manifest: Records } => ({ manifest: parseRecords(text).records });

/** The tool's own link, as recorded in the records file. */
const ownLink = (name: string, text = rel(name), resolved: string | null = src(name)): Slot => ({
  entry: link(text, resolved),
  record: linkRecord('symlink', text, recordSource(name)),
});
/** The tool's own copy: `copy` is what is in mediaRoot now, `written` what the tool recorded writing. */
const ownCopy = (
  name: string,
  source: Record<string, FileFacts>,
  copy = source,
  written = copy,
  extraDirs: string[] = [],
): Slot => ({
  entry: folder(),
  record: copyRecord(name, written),
  sourceTree: tree(source),
  entryTree: tree(copy, extraDirs),
});

/** Configured apps by name, plus recorded entries that no configured app claims. */
interface Unclaimed {
  entry: EntryFacts;
  record?: OwnRecord | undefined;
  tree?: TreeFacts | undefined;
  unreadable?: SystemError | undefined;
}
function probeOf(apps: Record<string, Slot>, unclaimed: Record<string, Unclaimed> = {}): ProbeResult {
  const manifest = emptyManifest();
  const facts: AppFacts[] = Object.entries(apps).map(([name, slot]) => {
    const app = makeApp(name);
    const result: AppFacts = {
      app,
      source: slot.source ?? { kind: 'dir', real: app.mediaDir },
      entry: slot.entry ?? MISSING,
    };
    if (slot.sourceTree) result.sourceTree = slot.sourceTree;
    if (slot.entryTree) result.entryTree = slot.entryTree;
    if (slot.unreadable) result.unreadable = slot.unreadable;
    if (slot.record) manifest.entries[name] = slot.record;
    return result;
  });
  for (const [name, { record }] of Object.entries(unclaimed)) if (record) manifest.entries[name] = record;
  return {
    mediaRoot: MEDIA,
    realMediaRoot: MEDIA,
    realProjectRoot: ROOT,
    mediaRootExists: true,
    records: manifest,
    apps: facts,
    leftovers: 0,
    unclaimed: Object.entries(unclaimed).map(([name, { entry, tree, unreadable }]) => ({
      name,
      entry,
      ...(tree ? { tree } : {}),
      ...(unreadable ? { unreadable } : {}),
    })),
  };
}

function planFor(probed: ProbeResult, options: Partial<Omit<LinkPlanInput, 'probed'>> = {}): LinkPlan {
  return planLink({
    probed,
    projectRoot: ROOT,
    mode: 'auto',
    relative: true,
    prune: true,
    platform: 'linux',
    ...options,
  });
}
function only(plan: LinkPlan, name: string): AppPlan {
  const found = plan.apps.filter((app) => app.name === name);
  expect(found, `plans for ${name}`).to.have.length(1);
  return found[0] as AppPlan;
}
const ops = (app: AppPlan): string[] => app.actions.map((action) => action.op);
function syncOf(app: AppPlan): CopyPlan {
  const [action] = app.actions;
  if (action?.op !== 'sync') throw new Error(`expected one sync action, got ${ops(app).join(', ')}`);
  return action.copy;
}
const writtenRels = (copy: CopyPlan): string[] => copy.writes.map((file) => file.rel);

// ---- strategies and new entries -----------------------------------------------

/** A copy plan with nothing to do but `fields`. */
function copyPlanWith(fields: Partial<CopyPlan>): CopyPlan {
  return {
    mkdirs: [],
    writes: [],
    deletes: [],
    rmdirs: [],
    kept: [],
    unchanged: new Map(),
    edited: new Map(),
    ...fields,
  };
}

describe('planner: strategies', () => {
  it('symlink mode never falls back to a copy; copy mode only copies', () => {
    expect(strategiesFor('symlink', 'linux')).to.deep.equal(['symlink']);
    expect(strategiesFor('symlink', 'win32')).to.not.include('copy');
    expect(strategiesFor('copy', 'linux')).to.deep.equal(['copy']);
    expect(strategiesFor('copy', 'win32')).to.deep.equal(['copy']);
  });

  it('auto tries symlink then copy, and on Windows a junction in between', () => {
    expect(strategiesFor('auto', 'linux')).to.deep.equal(['symlink', 'copy']);
    expect(strategiesFor('auto', 'darwin')).to.deep.equal(['symlink', 'copy']);
    expect(strategiesFor('auto', 'win32')).to.deep.equal(['symlink', 'junction', 'copy']);
  });

  const rows: Array<[Mode, NodeJS.Platform, string[], 'linked' | 'copied']> = [
    ['symlink', 'linux', ['symlink'], 'linked'],
    ['auto', 'linux', ['symlink', 'copy'], 'linked'],
    ['auto', 'win32', ['symlink', 'junction', 'copy'], 'linked'],
    ['copy', 'linux', ['copy'], 'copied'],
  ];
  for (const [mode, platform, strategies, status] of rows) {
    it(`an empty slot is created (${mode} on ${platform}: ${strategies.join(' → ')})`, () => {
      const plan = planFor(probeOf({ blog: {} }), { mode, platform });
      const blog = only(plan, 'blog');
      expect(blog.status).to.equal(status);
      expect(blog.mode).to.equal(strategies[0]);
      expect(blog.actions).to.deep.equal([{ op: 'create', strategies, copy: 'walk' }]);
      expect(plan.writes).to.equal(true);
    });
  }

  it('a new copy writes every source file, folders parents first', () => {
    const sourceTree = tree({ 'css/site.css': f(10, 1000), 'img/icons/a.svg': f(3, 1000) });
    const blog = only(planFor(probeOf({ blog: { sourceTree } }), { mode: 'copy' }), 'blog');
    const [create] = blog.actions;
    if (create?.op !== 'create' || create.copy === 'walk') throw new Error('expected a create with a copy plan');
    expect(create.copy.mkdirs).to.deep.equal(['css', 'img', 'img/icons']);
    expect(writtenRels(create.copy).sort()).to.deep.equal(['css/site.css', 'img/icons/a.svg']);
    expect(create.copy.deletes).to.deep.equal([]);
  });

  it('link text is relative to mediaRoot by default, absolute with relative: false', () => {
    const relative = only(planFor(probeOf({ blog: {} })), 'blog');
    expect(relative.linkText.split(path.sep).join('/')).to.equal('../../apps/blog/app_media/blog');
    expect(relative.absoluteText).to.equal(src('blog'));
    const absolute = only(planFor(probeOf({ blog: {} }), { relative: false }), 'blog');
    expect(absolute.linkText).to.equal(src('blog'));
  });

  it('link text goes through the real project path (project reached through a link)', () => {
    const probed = {
      ...probeOf({ blog: {} }),
      realProjectRoot: path.resolve('/real/proj'),
      realMediaRoot: path.resolve('/real/proj/public/media'),
    };
    const blog = only(planFor(probed, { relative: false }), 'blog');
    expect(blog.linkText).to.equal(path.resolve('/real/proj/apps/blog/app_media/blog'));
  });
});

// ---- the tool's own links -----------------------------------------------------

describe('planner: own links', () => {
  it('an own link to the right folder is up-to-date and nothing is written', () => {
    const plan = planFor(probeOf({ blog: ownLink('blog') }));
    expect(only(plan, 'blog')).to.include({ status: 'up-to-date', mode: 'symlink' });
    expect(only(plan, 'blog').actions).to.deep.equal([]);
    expect(plan.writes).to.equal(false);
  });

  it('an own link that leads elsewhere is relinked: the link (only) is removed, then made again', () => {
    const old = path.join('..', '..', 'old', 'blog');
    const blog = only(planFor(probeOf({ blog: ownLink('blog', old, path.join(ROOT, 'old', 'blog')) })), 'blog');
    expect(blog.status).to.equal('relinked');
    expect(blog.reason).to.match(/elsewhere/);
    expect(blog.actions).to.deep.equal([
      { op: 'remove-link', linkText: old },
      { op: 'create', strategies: ['symlink', 'copy'], copy: 'walk' },
    ]);
  });

  it('an own dangling link is relinked', () => {
    const blog = only(planFor(probeOf({ blog: ownLink('blog', '../../gone', null) })), 'blog');
    expect(blog.status).to.equal('relinked');
    expect(blog.reason).to.match(/dangling/);
    expect(ops(blog)).to.deep.equal(['remove-link', 'create']);
  });

  it('an own absolute link is relinked when relative: true, and kept when relative: false', () => {
    const slot = ownLink('blog', src('blog'));
    const relative = only(planFor(probeOf({ blog: slot })), 'blog');
    expect(relative.status).to.equal('relinked');
    expect(relative.actions[0]).to.deep.equal({ op: 'remove-link', linkText: src('blog') });
    const absolute = only(planFor(probeOf({ blog: slot }), { relative: false }), 'blog');
    expect(absolute).to.include({ status: 'up-to-date' });
    expect(absolute.actions).to.deep.equal([]);
  });

  it('an own relative link is relinked when relative: false', () => {
    const blog = only(planFor(probeOf({ blog: ownLink('blog') }), { relative: false }), 'blog');
    expect(blog.status).to.equal('relinked');
    expect(ops(blog)).to.deep.equal(['remove-link', 'create']);
  });

  it(
    'an own absolute link under a pending record (a run cut short after relative: false) ' +
      'is relinked when relative: true, off Windows (regression, soak kill seed 20361228)',
    () => {
      // The run that was cut short meant to replace the absolute link made with relative: false.
      const earlier = linkRecord('symlink', src('blog'), recordSource('blog'));
      const slot: Slot = {
        entry: link(src('blog'), src('blog')),
        record: pendingRecord(recordSource('blog'), [rel('blog'), src('blog')], earlier),
      };
      const blog = only(planFor(probeOf({ blog: slot }), { mode: 'symlink' }), 'blog');
      expect(blog).to.include({ status: 'relinked', mode: 'symlink' });
      expect(blog.actions).to.deep.equal([
        { op: 'remove-link', linkText: src('blog') },
        { op: 'create', strategies: ['symlink'], copy: 'walk' },
      ]);
      // On Windows the same absolute link may be a junction made because symbolic links were refused:
      // it is kept, as one.
      const windows = only(planFor(probeOf({ blog: slot }), { mode: 'symlink', platform: 'win32' }), 'blog');
      expect(windows).to.include({ status: 'up-to-date', mode: 'junction' });
      expect(ops(windows)).to.deep.equal(['adopt']);
    },
  );

  it('an own junction (always absolute) is up-to-date even with relative: true', () => {
    const slot: Slot = {
      entry: link(src('blog'), src('blog')),
      record: linkRecord('junction', src('blog'), recordSource('blog')),
    };
    const blog = only(planFor(probeOf({ blog: slot }), { platform: 'win32' }), 'blog');
    expect(blog).to.include({ status: 'up-to-date', mode: 'junction' });
    expect(blog.actions).to.deep.equal([]);
  });
});

// ---- entries the tool did not make ----------------------------------------------

describe('planner: foreign entries are never touched', () => {
  it('a foreign link to the right folder is accepted as up-to-date, with no actions', () => {
    for (const mode of ['auto', 'symlink', 'copy'] as const) {
      const plan = planFor(probeOf({ blog: { entry: link(rel('blog'), src('blog')) } }), { mode });
      expect(only(plan, 'blog').status, mode).to.equal('up-to-date');
      expect(only(plan, 'blog').actions, mode).to.deep.equal([]);
      expect(plan.writes, mode).to.equal(false);
    }
  });

  const foreign: Array<[string, Slot]> = [
    ['a foreign link leading elsewhere', { entry: link('/srv/other', '/srv/other') }],
    ['a dangling foreign link', { entry: link('../nowhere', null) }],
    ['a regular file', { entry: { kind: 'file' } }],
    ['a socket or other special file', { entry: { kind: 'other' } }],
    [
      'a folder with files',
      { entry: folder(), entryTree: tree({ 'mine.txt': f(4, 1) }), sourceTree: tree({ 'mine.txt': f(4, 1) }) },
    ],
    ['an empty folder', { entry: folder(true), entryTree: tree({}), sourceTree: tree({}) }],
    [
      'the link the tool recorded, replaced by hand with another link',
      {
        entry: link('../../mine', path.join(ROOT, 'mine')),
        record: linkRecord('symlink', rel('blog'), recordSource('blog')),
      },
    ],
    [
      'a folder where the manifest records a link',
      {
        entry: folder(),
        entryTree: tree({ 'a.css': f(1, 1) }),
        record: linkRecord('symlink', rel('blog'), recordSource('blog')),
      },
    ],
    [
      'a link where the manifest records a copy',
      { entry: link('/srv/other', '/srv/other'), record: copyRecord('blog', {}) },
    ],
  ];
  for (const [what, slot] of foreign) {
    it(`${what} is a conflict with a hint and no action, in every mode`, () => {
      for (const mode of ['auto', 'symlink', 'copy'] as const) {
        for (const prune of [true, false]) {
          const plan = planFor(probeOf({ blog: slot, shop: {} }), { mode, prune, platform: 'win32' });
          const blog = only(plan, 'blog');
          expect(blog.status, `${mode} prune=${prune}`).to.equal('conflict');
          expect(blog.hint, mode).to.be.a('string').and.not.equal('');
          expect(blog.actions, mode).to.deep.equal([]);
          expect(only(plan, 'shop').actions, 'the other app still runs').to.have.length(1);
        }
      }
    });
  }
});

// ---- apps without media ---------------------------------------------------------

describe('planner: apps without a media folder', () => {
  it('reports no-media and plans nothing', () => {
    const blog = only(planFor(probeOf({ blog: { source: { kind: 'missing' } } })), 'blog');
    expect(blog).to.include({ status: 'no-media', hint: null });
    expect(blog.reason).to.include('app_media/blog/');
    expect(blog.actions).to.deep.equal([]);
    const notDir = only(planFor(probeOf({ blog: { source: { kind: 'not-dir' } } })), 'blog');
    expect(notDir.status).to.equal('no-media');
    expect(notDir.reason).to.match(/not a folder/);
  });

  it('passes on the hint when the probe saw a misnamed sibling folder', () => {
    const misnamed = { found: 'app_media/blgo', fix: 'rename it to app_media/blog/, or give the app "name": "blgo"' };
    const blog = only(planFor(probeOf({ blog: { source: { kind: 'missing', misnamed } } })), 'blog');
    expect(blog.status).to.equal('no-media');
    expect(blog.hint).to.include('app_media/blgo').and.include('rename it to app_media/blog/');
  });

  it('its own leftover link is pruned, but only with prune on', () => {
    const slot: Slot = { ...ownLink('blog', rel('blog'), null), source: { kind: 'missing' } };
    const pruned = only(planFor(probeOf({ blog: slot })), 'blog');
    expect(pruned.status).to.equal('pruned');
    expect(pruned.actions).to.deep.equal([{ op: 'remove-link', linkText: rel('blog') }]);
    const kept = only(planFor(probeOf({ blog: slot }), { prune: false }), 'blog');
    expect(kept.status).to.equal('no-media');
    expect(kept.actions).to.deep.equal([]);
  });

  it('a foreign link left where its media was is not pruned', () => {
    const blog = only(planFor(probeOf({ blog: { entry: link('../x', null), source: { kind: 'missing' } } })), 'blog');
    expect(blog.status).to.equal('no-media');
    expect(blog.actions).to.deep.equal([]);
  });
});

// ---- the tool's own copies --------------------------------------------------------

const SRC = { 'css/site.css': f(10, 1000), 'img/logo.png': f(20, 1000) };

describe('planner: own copies', () => {
  it('an unchanged copy is up-to-date: no action at all, so the run writes nothing', () => {
    const blog = only(planFor(probeOf({ blog: ownCopy('blog', SRC) }), { mode: 'copy' }), 'blog');
    expect(blog).to.include({ status: 'up-to-date', mode: 'copy' });
    expect(blog.actions).to.deep.equal([]);
  });

  it('an unchanged copy whose record lacks a file identical to the source still gets its record completed', () => {
    const partial: CopyRecord = {
      kind: 'copy',
      source: 'apps/blog/app_media/blog',
      files: { 'css/site.css': [10, 1000] },
    };
    const blog = only(planFor(probeOf({ blog: ownCopy('blog', SRC, SRC, SRC) }), { mode: 'copy' }), 'blog');
    const withPartial = only(
      planFor(probeOf({ blog: { ...ownCopy('blog', SRC, SRC, SRC), record: partial } }), { mode: 'copy' }),
      'blog',
    );
    expect(blog.actions).to.deep.equal([]);
    expect(withPartial.status).to.equal('up-to-date');
    expect(writtenRels(syncOf(withPartial))).to.deep.equal([]);
  });

  it("a record that differs from the copy in one file's time only is brought up to date, with nothing written", () => {
    const stale: CopyRecord = {
      kind: 'copy',
      source: 'apps/blog/app_media/blog',
      files: { 'css/site.css': [10, 999], 'img/logo.png': [20, 1000] },
    };
    const blog = only(
      planFor(probeOf({ blog: { ...ownCopy('blog', SRC, SRC, SRC), record: stale } }), { mode: 'copy' }),
      'blog',
    );
    expect(blog.status).to.equal('up-to-date');
    expect(blog.actions.map((action) => action.op)).to.deep.equal(['sync']);
    expect(writtenRels(syncOf(blog))).to.deep.equal([]);
  });

  it('a changed source file is written again, and only that file', () => {
    const source = { ...SRC, 'css/site.css': f(11, 2000) };
    const blog = only(planFor(probeOf({ blog: ownCopy('blog', source, SRC) }), { mode: 'copy' }), 'blog');
    expect(blog.status).to.equal('copied');
    expect(syncOf(blog).writes).to.deep.equal([{ rel: 'css/site.css', ...f(11, 2000) }]);
    expect(syncOf(blog).deletes).to.deep.equal([]);
  });

  it('a file deleted from the source is deleted from the copy, then its empty folder', () => {
    const blog = only(
      planFor(probeOf({ blog: ownCopy('blog', { 'css/site.css': f(10, 1000) }, SRC) }), { mode: 'copy' }),
      'blog',
    );
    expect(blog.status).to.equal('copied');
    expect(syncOf(blog)).to.deep.include({ writes: [], deletes: ['img/logo.png'], rmdirs: ['img'] });
  });

  it('a file edited by hand in the copy is kept (not overwritten, not deleted) and reported', () => {
    const source = { 'css/site.css': f(11, 2000), 'img/logo.png': f(21, 2000) };
    const copy = { ...SRC, 'css/site.css': f(99, 5000) };
    const blog = only(planFor(probeOf({ blog: ownCopy('blog', source, copy, SRC) }), { mode: 'copy' }), 'blog');
    expect(blog.status).to.equal('conflict');
    expect(blog.reason).to.include('css/site.css (changed by hand)');
    expect(blog.hint).to.be.a('string');
    const sync = syncOf(blog);
    expect(sync.kept).to.deep.equal([{ rel: 'css/site.css', why: 'edited' }]);
    expect(writtenRels(sync), 'the other change still goes through').to.deep.equal(['img/logo.png']);

    const gone = only(
      planFor(probeOf({ blog: ownCopy('blog', { 'img/logo.png': f(20, 1000) }, copy, SRC) }), { mode: 'copy' }),
      'blog',
    );
    expect(syncOf(gone).deletes, 'its source is gone, still kept').to.deep.equal([]);
    expect(syncOf(gone).kept).to.deep.equal([{ rel: 'css/site.css', why: 'edited' }]);
  });

  it('a file the user added inside the copy is kept, even under a name the source now uses', () => {
    const copy = { ...SRC, 'notes.txt': f(5, 5000), 'js/app.js': f(7, 5000) };
    const source = { ...SRC, 'js/app.js': f(8, 1000) };
    const blog = only(planFor(probeOf({ blog: ownCopy('blog', source, copy, SRC) }), { mode: 'copy' }), 'blog');
    const sync = syncOf(blog);
    expect(sync.kept).to.deep.equal([
      { rel: 'js/app.js', why: 'foreign' },
      { rel: 'notes.txt', why: 'foreign' },
    ]);
    expect(sync.writes).to.deep.equal([]);
    expect(sync.deletes).to.deep.equal([]);
    expect(blog.status).to.equal('conflict');
  });

  it('a folder in the copy where the source has a file is kept, not written over', () => {
    const source = { ...SRC, fonts: f(3, 1000) };
    const blog = only(
      planFor(probeOf({ blog: ownCopy('blog', source, SRC, SRC, ['fonts']) }), { mode: 'copy' }),
      'blog',
    );
    expect(syncOf(blog).kept).to.deep.equal([{ rel: 'fonts', why: 'foreign' }]);
    expect(writtenRels(syncOf(blog))).to.deep.equal([]);
  });

  it('a link or special file inside the own copy is never written over or through', () => {
    // The copy side is walked without following links, so a link the user put in
    // the copy lands in `skipped`, which planCopy never reads: the source's file of
    // that name is planned as a write (renamed over the link) and the source's
    // folder of that name as a mkdir, whose files are then written through the link.
    const source = { ...SRC, 'fonts/a.woff': f(4, 1000) };
    const slot = ownCopy('blog', source, { 'img/logo.png': f(20, 1000) }, { 'img/logo.png': f(20, 1000) }, ['css']);
    slot.entryTree?.skipped.push('css/site.css', 'fonts');
    const sync = syncOf(only(planFor(probeOf({ blog: slot }), { mode: 'copy' }), 'blog'));
    expect(writtenRels(sync)).to.deep.equal([]);
    expect(sync.mkdirs).to.not.include('fonts');
    expect(sync.kept.map((kept) => kept.rel)).to.include.members(['css/site.css', 'fonts']);
  });
});

describe('planner: the files a copy writes', () => {
  const createOf = (app: AppPlan): CopyPlan => {
    const [action] = app.actions;
    if (action?.op !== 'create' || action.copy === 'walk')
      throw new Error(`expected a create with a copy plan, got ${ops(app).join(', ')}`);
    return action.copy;
  };

  it(
    'each write is at the path the tree lists it under, with its facts, ' +
      'even when a facts object names another path',
    () => {
      // The walks set `rel` on each file's facts, and a plan then lists that same object. A facts
      // object that names another path (a walk's bug, a fixture) must not move the write there.
      const source = tree({ 'css/site.css': { ...f(10, 1000), rel: 'css/other.css' }, 'img/logo.png': f(20, 2000) });
      const blog = only(planFor(probeOf({ blog: { sourceTree: source } }), { mode: 'copy' }), 'blog');
      const writes = createOf(blog).writes.map(({ rel, size, mtimeMs }) => ({ rel, size, mtimeMs }));
      expect(writes).to.deep.equal([
        { rel: 'css/site.css', size: 10, mtimeMs: 1000 },
        { rel: 'img/logo.png', size: 20, mtimeMs: 2000 },
      ]);
    },
  );

  it('a file whose facts carry its own path is listed as that object, not a copy (no object per file)', () => {
    const facts: FileFacts = { ...f(10, 1000), rel: 'css/site.css' };
    const blog = only(
      planFor(probeOf({ blog: { sourceTree: tree({ 'css/site.css': facts }) } }), { mode: 'copy' }),
      'blog',
    );
    expect(createOf(blog).writes[0]).to.equal(facts);
  });
});

describe('records file', () => {
  it('reads back exactly as written, one line per copied file', () => {
    const manifest = emptyManifest();
    manifest.entries['blog'] = {
      kind: 'copy',
      source: 'apps/blog/app_media/blog',
      files: { 'css/site.css': [10, 1000], 'img/"odd" name.png': [20, 2000] },
      dirs: ['empty'],
    };
    manifest.entries['admin'] = linkRecord('symlink', '../../apps/admin/app_media/admin', 'apps/admin/app_media/admin');
    manifest.entries['docs'] = {
      kind: 'pending',
      source: 'apps/docs/app_media/docs',
      targets: [`sha256:${'0'.repeat(64)}`],
      files: { 'a.txt': [1, 1] },
    };
    manifest.entries['none'] = { kind: 'copy', source: 'apps/none/app_media/none', files: {} };
    const text = serializeManifest(manifest);
    const read = parseManifest(text).manifest;
    expect(Object.keys(read.entries)).to.deep.equal(['admin', 'blog', 'docs', 'none']);
    for (const name of Object.keys(manifest.entries))
      expect(read.entries[name], name).to.deep.equal(manifest.entries[name]);
    expect(text.split('\n')).to.include('    "css/site.css": [10,1000],');
    expect(parseManifest(serializeManifest(emptyManifest())).manifest.entries).to.deep.equal({});
  });
});

describe('records file: what it keeps, and what it takes from a file anyone who can write mediaRoot may write', () => {
  it(
    "an app's folder outside the project is kept from its last node_modules/ on, else as a hash: " +
      'no folder name of the machine (a user name) is ever kept',
    () => {
      const hash = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;
      const away = '../../../home/alice/site/apps/blog/app_media/blog';
      const cases: Array<[string, string]> = [
        ['apps/blog/app_media/blog', 'apps/blog/app_media/blog'],
        ['../../node_modules/@acme/blog/app_media/blog', 'node_modules/@acme/blog/app_media/blog'],
        ['/home/alice/.npm/node_modules/blog/app_media/blog', 'node_modules/blog/app_media/blog'],
        ['../../alice_node_modules/blog/app_media/blog', hash('../../alice_node_modules/blog/app_media/blog')],
        [away, hash(away)],
      ];
      expect(cases.map(([rel]) => [rel, recordedSource(rel)])).to.deep.equal(cases);
    },
  );

  it("a record's folders are its files' folders, and those a copy record lists; a link record has none", () => {
    const pending: OwnRecord = { kind: 'pending', source: 's', targets: [], files: { 'css/a/b.css': [1, 1] } };
    expect([...recordedDirs(pending)].sort()).to.deep.equal(['css', 'css/a']);
    expect([...recordedDirs(linkRecord('symlink', '../x', 's'))]).to.deep.equal([]);
    const copy: OwnRecord = { kind: 'copy', source: 's', files: { 'a.css': [1, 1] }, dirs: ['empty'] };
    expect([...recordedDirs(copy)]).to.deep.equal(['empty']);
  });

  it(
    'a record without a string source of at most 4096 characters, or whose "dirs" is not a list of plain ' +
      'relative paths, is left out and named: it proves nothing',
    () => {
      const files = { 'css/a.css': [1, 1] };
      const malformed: Record<string, unknown> = {
        nosource: { kind: 'copy', files: { '../../.env': [1, 1] } },
        numbersource: { kind: 'copy', source: 5, files },
        longsource: { kind: 'copy', source: 'a'.repeat(4097), files },
        climbs: { kind: 'copy', source: 's', files, dirs: ['css', '../../victim'] },
        absolute: { kind: 'copy', source: 's', files, dirs: ['/etc'] },
        number: { kind: 'copy', source: 's', files, dirs: [5] },
        nothing: { kind: 'copy', source: 's', files, dirs: [null] },
        notalist: { kind: 'copy', source: 's', files, dirs: 'css' },
      };
      const good = { kind: 'copy', source: 'a'.repeat(4096), files, dirs: ['css', 'empty/inner'] };
      const text = JSON.stringify({ tool: 'gulp-app-media', version: 1, entries: { ...malformed, good } });
      const { records, foreign } = parseRecords(text);
      expect(foreign).to.equal(undefined);
      expect(Object.keys(records.entries)).to.deep.equal(['good']);
      expect(records.ignored).to.deep.equal(
        Object.keys(malformed).map((name) => `"${name}" (its record is malformed)`),
      );
    },
  );
});

// ---- switching modes --------------------------------------------------------------

describe('planner: mode switches', () => {
  it('an own copy becomes a link (copy-to-link), falling back to a sync only where auto allows copies', () => {
    const symlink = only(planFor(probeOf({ blog: ownCopy('blog', SRC) }), { mode: 'symlink' }), 'blog');
    expect(symlink).to.include({ status: 'relinked', mode: 'symlink' });
    const [action] = symlink.actions;
    if (action?.op !== 'copy-to-link') throw new Error(`expected copy-to-link, got ${ops(symlink).join(', ')}`);
    expect(action.strategies).to.deep.equal(['symlink']);
    expect(action.fallback.kept).to.deep.equal([]);
    const auto = only(planFor(probeOf({ blog: ownCopy('blog', SRC) }), { mode: 'auto', platform: 'win32' }), 'blog');
    expect(auto.actions[0]).to.deep.include({ op: 'copy-to-link', strategies: ['symlink', 'junction', 'copy'] });
  });

  it('an own copy holding a hand-edited or added file is not replaced by a link: conflict, no actions', () => {
    for (const copy of [
      { ...SRC, 'css/site.css': f(99, 5000) },
      { ...SRC, 'notes.txt': f(1, 1) },
    ]) {
      const blog = only(planFor(probeOf({ blog: ownCopy('blog', SRC, copy, SRC) }), { mode: 'symlink' }), 'blog');
      expect(blog.status).to.equal('conflict');
      expect(blog.reason).to.match(/cannot replace the copy with a link/);
      expect(blog.actions).to.deep.equal([]);
    }
  });

  it('an own link becomes a copy in copy mode: remove the link, create a copy', () => {
    const blog = only(
      planFor(probeOf({ blog: { ...ownLink('blog'), sourceTree: tree(SRC) } }), { mode: 'copy' }),
      'blog',
    );
    expect(blog).to.include({ status: 'relinked', mode: 'copy' });
    expect(ops(blog)).to.deep.equal(['remove-link', 'create']);
    expect(blog.actions[1]).to.deep.include({ strategies: ['copy'] });
  });
});

// ---- pruning ------------------------------------------------------------------------

describe('planner: pruning entries no app claims', () => {
  const old = { entry: link(rel('old'), src('old')), record: linkRecord('symlink', rel('old'), recordSource('old')) };

  it('the own link of an app no longer configured is removed (the link only) with prune on', () => {
    const gone = only(planFor(probeOf({ blog: {} }, { old })), 'old');
    expect(gone).to.include({ status: 'pruned', app: undefined });
    expect(gone.actions).to.deep.equal([{ op: 'remove-link', linkText: rel('old') }]);
    const dangling = only(planFor(probeOf({}, { old: { ...old, entry: link(rel('old'), null) } })), 'old');
    expect(dangling.reason).to.match(/dangling/);
  });

  it('with prune off it is left alone', () => {
    const plan = planFor(probeOf({ blog: {} }, { old }), { prune: false });
    expect(plan.apps.map((app) => app.name)).to.deep.equal(['blog']);
  });

  it('a foreign entry under an unconfigured name is never removed, whatever the manifest says', () => {
    const entries: EntryFacts[] = [link('/srv/x', '/srv/x'), link('../y', null), folder(), { kind: 'file' }, MISSING];
    for (const entry of entries) {
      const plan = planFor(probeOf({}, { old: { entry, record: old.record } }));
      expect(
        plan.apps.flatMap((app) => app.actions),
        entry.kind,
      ).to.deep.equal([]);
      expect(plan.writes).to.equal(false);
    }
  });

  it('the own copy of an app no longer configured is removed: its recorded files only, folders if empty', () => {
    const copy = { ...SRC, 'notes.txt': f(5, 5000) };
    const plan = planFor(
      probeOf({ blog: {} }, { old: { entry: folder(), record: copyRecord('old', SRC), tree: tree(copy) } }),
    );
    const gone = only(plan, 'old');
    expect(gone.status).to.equal('pruned');
    const [action] = gone.actions;
    if (action?.op !== 'remove-copy') throw new Error(`expected remove-copy, got ${ops(gone).join(', ')}`);
    expect(action.copy.deletes.sort()).to.deep.equal(['css/site.css', 'img/logo.png']);
    expect(action.copy.kept, 'the file added by hand stays').to.deep.equal([{ rel: 'notes.txt', why: 'foreign' }]);
    expect(
      planFor(probeOf({}, { old: { entry: folder(), record: copyRecord('old', SRC), tree: tree(copy) } }), {
        prune: false,
      }).apps,
    ).to.deep.equal([]);
  });

  it('an own copy with a file edited by hand is kept, with no action, when its app is gone or lost its media', () => {
    const edited = { ...SRC, 'css/site.css': f(99, 5000) };
    const unclaimed = only(
      planFor(probeOf({}, { old: { entry: folder(), record: copyRecord('old', SRC), tree: tree(edited) } })),
      'old',
    );
    expect(unclaimed.status).to.equal('conflict');
    expect(unclaimed.reason).to.include('css/site.css (changed by hand)');
    expect(unclaimed.actions).to.deep.equal([]);
    const noMedia = only(
      planFor(probeOf({ blog: { ...ownCopy('blog', SRC, edited, SRC), source: { kind: 'missing' } } })),
      'blog',
    );
    expect(noMedia.actions).to.deep.equal([]);
  });

  it('an unchanged own copy whose app lost its media folder is pruned', () => {
    const blog = only(planFor(probeOf({ blog: { ...ownCopy('blog', SRC), source: { kind: 'missing' } } })), 'blog');
    expect(blog.status).to.equal('pruned');
    expect(ops(blog)).to.deep.equal(['remove-copy']);
  });
});

// ---- looks that failed ----------------------------------------------------------------

describe('planner, verify and clean: an entry that could not be looked at', () => {
  /** What the probe keeps when a walk fails (an unreadable folder): the error itself. */
  function eacces(file: string): SystemError {
    return Object.assign(new Error(`EACCES: permission denied, scandir '${file}'`), {
      code: 'EACCES',
      syscall: 'scandir',
      path: file,
      errno: -13,
    });
  }
  const unreadableJs = eacces(path.join(src('shop'), 'js'));
  const LINE = 'EACCES (scandir) apps/shop/app_media/shop/js';

  it(
    'link: that app is error with the call, the path and the hint, and nothing is planned for it; ' +
      'the others are planned as ever',
    () => {
      for (const mode of ['copy', 'auto', 'symlink'] as const) {
        const plan = planFor(
          probeOf({
            blog: { entry: MISSING, sourceTree: tree(SRC) },
            // The probe knows nothing of the entry then (`other`), whatever the record says.
            shop: { entry: { kind: 'other' }, record: copyRecord('shop', SRC), unreadable: unreadableJs },
          }),
          { mode },
        );
        const shop = only(plan, 'shop');
        expect(shop, mode).to.include({ status: 'error', reason: LINE, mode: null });
        expect(shop.hint).to.match(/may read the app's media folder/);
        expect(shop.actions, mode).to.deep.equal([]);
        expect(ops(only(plan, 'blog')), mode).to.deep.equal(['create']);
      }
    },
  );

  it(
    "link: the tool's own copy of an app no longer configured that could not be walked is error, " +
      'not pruned (and not silently skipped)',
    () => {
      const gone = eacces(path.join(MEDIA, 'old', 'js'));
      const plan = planFor(
        probeOf({ blog: {} }, { old: { entry: { kind: 'other' }, record: copyRecord('old', SRC), unreadable: gone } }),
      );
      const old = only(plan, 'old');
      expect(old).to.include({ status: 'error', reason: 'EACCES (scandir) public/media/old/js' });
      expect(old.actions).to.deep.equal([]);
      expect(
        planFor(probeOf({ blog: {} }, { old: { entry: { kind: 'other' }, unreadable: gone } }), {
          prune: false,
        }).apps.map((app) => app.name),
      ).to.deep.equal(['blog']);
    },
  );

  it('verify: that app is error (verify fails), the others are checked as ever', () => {
    const probed = probeOf(
      {
        blog: ownCopy('blog', SRC),
        shop: { entry: { kind: 'other' }, record: copyRecord('shop', SRC), unreadable: unreadableJs },
      },
      {
        old: { entry: { kind: 'other' }, record: copyRecord('old', SRC), unreadable: eacces(path.join(MEDIA, 'old')) },
      },
    );
    const findings = finishChecks(
      probed.apps.map((facts) => checkAppEntry(facts, probed, [], 'copy', ROOT)),
      probed,
      ROOT,
    );
    expect(findings.map((found) => [found.name, found.status, found.reason])).to.deep.equal([
      ['blog', 'ok', null],
      ['shop', 'error', LINE],
      ['old', 'error', 'EACCES (scandir) public/media/old'],
    ]);
  });

  it('clean: that entry is error and left as it is; the others are removed', () => {
    const probed = probeOf(
      {},
      {
        blog: {
          entry: link(rel('blog'), src('blog')),
          record: linkRecord('symlink', rel('blog'), recordSource('blog')),
        },
        shop: {
          entry: { kind: 'other' },
          record: copyRecord('shop', SRC),
          unreadable: eacces(path.join(MEDIA, 'shop', 'js')),
        },
      },
    );
    const plan = planClean(probed.unclaimed, probed.records, true, ROOT);
    expect(plan.apps.map((app) => [app.name, app.status, app.reason, ops(app)])).to.deep.equal([
      ['blog', 'removed', null, ['remove-link']],
      ['shop', 'error', 'EACCES (scandir) public/media/shop/js', []],
    ]);
  });
});

describe('planner: purity (what --dry-run relies on)', () => {
  // planLink has no dry-run flag: api.ts reports this same plan and skips apply.
  it('does not change its input and plans the same twice', () => {
    const old = { entry: folder(), record: copyRecord('old', SRC), tree: tree(SRC) };
    const probed = probeOf(
      { blog: ownCopy('blog', { 'css/site.css': f(11, 2000) }, SRC), shop: ownLink('shop', '../x', null), news: {} },
      { old },
    );
    const before = structuredClone(probed);
    const first = planFor(probed, { mode: 'copy' });
    expect(probed).to.deep.equal(before);
    expect(planFor(probed, { mode: 'copy' })).to.deep.equal(first);
  });
});

// ---- property: nothing foreign is ever touched ----------------------------------------

const KINDS = [
  'none',
  'own-link-right',
  'own-link-wrong',
  'foreign-link-right',
  'foreign-link',
  'dangling-foreign',
  'file',
  'folder',
  'own-copy',
] as const;
type Kind = (typeof KINDS)[number];
const POOL = ['a.css', 'css/site.css', 'css/print.css', 'img/logo.png'];

function scenario(seed: number): {
  probed: ProbeResult;
  input: Omit<LinkPlanInput, 'probed'>;
  kinds: Record<string, Kind>;
} {
  const rand = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const chance = (p: number): boolean => rand() < p;
  // Few distinct sizes and times, so copies, records and sources often agree.
  const facts = (): FileFacts => f(pick([1, 2]), pick([1000, 2000]));
  const files = (): Record<string, FileFacts> =>
    Object.fromEntries(POOL.filter(() => chance(0.5)).map((file) => [file, facts()]));
  const input = {
    projectRoot: ROOT,
    mode: pick(['auto', 'symlink', 'copy'] as const),
    relative: chance(0.5),
    prune: chance(0.7),
    platform: pick(['linux', 'win32'] as const),
  };
  const apps: Record<string, Slot> = {};
  const unclaimed: Record<string, Unclaimed> = {};
  const kinds: Record<string, Kind> = {};
  for (const name of ['a', 'b', 'c', 'd', 'e']) {
    const kind = pick(KINDS);
    kinds[name] = kind;
    const source = chance(0.85) ? files() : undefined;
    const text = chance(0.5) ? rel(name) : src(name);
    const otherRecord = pick([
      undefined,
      linkRecord('symlink', '../../elsewhere', recordSource(name)),
      copyRecord(name, files()),
    ]);
    const slot: Slot = { source: source ? { kind: 'dir', real: src(name) } : { kind: 'missing' } };
    if (kind === 'own-link-right')
      Object.assign(
        slot,
        chance(0.8)
          ? ownLink(name, text)
          : { entry: link(src(name), src(name)), record: linkRecord('junction', src(name), recordSource(name)) },
      );
    if (kind === 'own-link-wrong')
      Object.assign(slot, ownLink(name, '../../old', chance(0.5) ? null : path.join(ROOT, 'old')));
    if (kind === 'foreign-link-right') Object.assign(slot, { entry: link(text, src(name)), record: otherRecord });
    if (kind === 'foreign-link')
      Object.assign(slot, { entry: link('/srv/elsewhere', '/srv/elsewhere'), record: otherRecord });
    if (kind === 'dangling-foreign') Object.assign(slot, { entry: link('../gone', null), record: otherRecord });
    if (kind === 'file') Object.assign(slot, { entry: { kind: 'file' }, record: otherRecord });
    if (kind === 'folder' || kind === 'own-copy') {
      const written = files();
      const copy: Record<string, FileFacts> = {};
      for (const file of POOL) {
        const choice = pick(['absent', 'written', 'source', 'other']);
        const value =
          choice === 'written'
            ? written[file]
            : choice === 'source'
              ? source?.[file]
              : choice === 'other'
                ? facts()
                : undefined;
        if (value) copy[file] = value;
      }
      const extraDirs = chance(0.15) ? ['a.css'] : [];
      if (extraDirs.length) delete copy['a.css'];
      const record =
        kind === 'own-copy'
          ? copyRecord(name, written)
          : pick([undefined, linkRecord('symlink', rel(name), recordSource(name))]);
      Object.assign(slot, { entry: folder(Object.keys(copy).length === 0), entryTree: tree(copy, extraDirs), record });
    }
    if (source && (input.mode === 'copy' || slot.entry?.kind === 'dir')) slot.sourceTree = tree(source);
    if (chance(0.7)) apps[name] = slot;
    else if (slot.record) unclaimed[name] = { entry: slot.entry ?? MISSING, record: slot.record, tree: slot.entryTree };
  }
  return { probed: probeOf(apps, unclaimed), input, kinds };
}

/** Every copy plan an action carries. */
function copyPlans(app: AppPlan): CopyPlan[] {
  return app.actions.flatMap((action) => {
    if (action.op === 'copy-to-link') return [action.fallback];
    if (action.op === 'remove-link' || action.op === 'adopt') return [];
    return action.copy === 'walk' ? [] : [action.copy];
  });
}

describe('planner: property (seeded)', () => {
  const base = Number(process.env['PLAN_SEED'] ?? 0x5eed);

  it(
    'in 300 random scenarios, no entry the tool does not own gets an action, ' +
      'and no hand-made file is written or deleted',
    () => {
      const seenKinds = new Set<Kind>();
      const seenStatuses = new Set<string>();
      for (let i = 0; i < 300; i++) {
        const seed = base + i;
        const { probed, input, kinds } = scenario(seed);
        const plan = planLink({ probed, ...input });
        const entries = [
          ...probed.apps.map((facts) => ({
            name: facts.app.name,
            entry: facts.entry,
            dest: facts.entryTree,
            source: facts.sourceTree,
          })),
          ...probed.unclaimed.map(({ name, entry, tree: dest }) => ({ name, entry, dest, source: undefined })),
        ];
        for (const { name, entry, dest, source } of entries) {
          const why =
            `seed ${seed} (replay: PLAN_SEED=${seed}), entry ${name} (${kinds[name]}), ` + `${JSON.stringify(input)}`;
          const record = probed.records.entries[name];
          const owned =
            entry.kind === 'symlink'
              ? ownsLink(record, entry.linkText ?? '')
              : entry.kind === 'dir' && ownsCopy(record);
          const planned = plan.apps.filter((app) => app.name === name);
          expect(planned.length, why).to.be.at.most(1);
          const app = planned[0];
          seenKinds.add(kinds[name] as Kind);
          if (!app) continue;
          seenStatuses.add(app.status);
          if (entry.kind !== 'missing' && !owned) {
            expect(app.actions, why).to.deep.equal([]);
            expect(app.status, why).to.be.oneOf(['conflict', 'up-to-date', 'no-media']);
          }
          if (entry.kind === 'missing')
            expect(
              ops(app).filter((op) => op !== 'create'),
              why,
            ).to.deep.equal([]);
          if (app.status === 'pruned') expect(owned, why).to.equal(true);

          for (const copy of copyPlans(app)) {
            const kept = new Set(copy.kept.map((k) => k.rel));
            for (const file of [...writtenRels(copy), ...copy.deletes]) {
              expect(kept.has(file), `${why}: ${file} is kept and touched`).to.equal(false);
              expect(dest?.dirs.includes(file), `${why}: ${file} is a folder in the copy`).to.not.equal(true);
              const current = dest?.files.get(file);
              if (!current) continue;
              // Independent oracle: only a file the tool wrote, unchanged since, may be replaced or deleted.
              const recorded = ownsCopy(record) ? recordedFiles(record)[file] : undefined;
              expect(
                recorded && recorded[0] === current.size && recorded[1] === current.mtimeMs,
                `${why}: ${file} touched but not the tool's`,
              ).to.equal(true);
            }
          }
          const toLink = app.actions.find((action) => action.op === 'copy-to-link');
          if (toLink && dest && ownsCopy(record)) {
            for (const [file, current] of dest.files) {
              const recorded = recordedFiles(record)[file];
              const mine = recorded?.[0] === current.size && recorded[1] === current.mtimeMs;
              const same = source?.files.get(file);
              expect(
                mine || (same?.size === current.size && same.mtimeMs === current.mtimeMs),
                `${why}: ${file} would be lost by copy-to-link`,
              ).to.equal(true);
            }
          }
        }
      }
      // The generator must keep reaching every case, or the property proves little.
      expect([...seenKinds].sort()).to.deep.equal([...KINDS].sort());
      expect([...seenStatuses]).to.include.members([
        'linked',
        'copied',
        'up-to-date',
        'relinked',
        'conflict',
        'no-media',
        'pruned',
      ]);
    },
  );
});

describe('isInside (the loop guard and the walk\'s "does this link stay inside")', () => {
  it(
    'says what path.relative says, for resolved POSIX paths, ' + 'including prefixes that are not parents and the root',
    () => {
      const byRelative = (parent: string, child: string): boolean => {
        const rel = path.posix.relative(parent, child);
        return rel === '' || (!rel.startsWith('../') && rel !== '..' && !path.posix.isAbsolute(rel));
      };
      const paths = ['/', '/a', '/a/b', '/a/b/c', '/ab', '/a-b', '/a/bc', '/b', '/a/b.c', '/a b', '/é', '/é/x'];
      let inside = 0;
      for (const parent of paths) {
        for (const child of paths) {
          expect(isInside(parent, child), `${parent} holds ${child}`).to.equal(byRelative(parent, child));
          if (isInside(parent, child)) inside++;
        }
      }
      // Both answers occur (the table is not all false or all true).
      expect(inside).to.be.within(1, paths.length * paths.length - 1);
      expect(isInside('/a', '/ab')).to.equal(false);
      expect(isInside('/', '/a/b')).to.equal(true);
    },
  );
});

describe('ignore globs: one test by base name where a glob cannot match across "/"', () => {
  it('matches as picomatch on the whole path or the base name does, for globs of every kind', async () => {
    const { ignoreMatcher } = await import('../src/core/fs/walk.js');
    const picomatch = (await import('picomatch')).default;
    const globSets = [
      ['.*', '*~'],
      ['*.map'],
      ['*.{map,bak}'],
      ['?ache'],
      ['.DS_Store', 'Thumbs.db'],
      ['**'],
      ['css/*.css'],
      ['!keep.css'],
      ['[ab]*'],
      ['@(x|y).js'],
      ['**/*.min.js'],
      ['vendor'],
      ['ven*'],
      ['*'],
      ['.*', 'vendor/**'],
    ];
    const paths = [
      'a.css',
      '.hidden',
      'css/.hidden',
      'css/a.css',
      'css/a.css~',
      'a.map',
      'js/a.map',
      'js/a.bak',
      'cache',
      'x/cache',
      'x/tache',
      '.DS_Store',
      'img/.DS_Store',
      'keep.css',
      'css/keep.css',
      'a.js',
      'b/a.js',
      'x.js',
      'd/y.js',
      'a.min.js',
      'js/lib/a.min.js',
      'vendor',
      'css/vendor',
      'vendor/x.css',
      'vendors/x',
      'é/ü.css',
      'a/b/c/d.txt',
    ];
    let fast = 0;
    for (const globs of globSets) {
      const match = picomatch(globs, { dot: true });
      const both = (rel: string): boolean => match(rel) || match(rel.slice(rel.lastIndexOf('/') + 1));
      const ignored = ignoreMatcher(globs);
      for (const rel of paths) expect(ignored(rel), `${globs.join(' ')} on ${rel}`).to.equal(both(rel));
      if (globs.every((glob) => /^[^/\\[\]!()@+]*$/.test(glob) && !glob.includes('**'))) fast++;
    }
    expect(fast, 'both ways of matching are exercised').to.be.within(1, globSets.length - 1);
  });
});

describe('recordStays: whether a no-change copy plan leaves its record as it is, without making the record', () => {
  it('says what making the record (copyRecordOf) and comparing it (sameRecord) says', async () => {
    const { copyRecordOf, recordStays, sameRecord } = await import('../src/link/copy-plan.js');
    const random = mulberry32(20261129);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const names = ['a.css', 'css/b.css', 'css/vendor/c.css', 'img/d.png', 'js/e.js'];
    let stays = 0;
    for (let round = 0; round < 400; round++) {
      const unchanged = new Map<string, FileFacts>();
      for (const rel of names)
        if (random() < 0.7)
          unchanged.set(rel, {
            size: pick([1, 2, 3]),
            mtimeMs: pick([1000, 1000.4, 1000.6, 2000]),
            mode: 0o644,
            dev: 1,
            ino: 1,
          });
      const dirs = ['css', 'css/vendor', 'img', 'js', 'empty'].filter(() => random() < 0.6);
      const copy = copyPlanWith({ unchanged, dirs });
      const source = pick(['apps/x/app_media/x', 'apps/y/app_media/y']);
      // A record made from a plan like this one, then perhaps changed a little.
      const record = copyRecordOf(copy, 'apps/x/app_media/x');
      const change = pick(['none', 'none', 'size', 'mtime', 'extra', 'missing', 'dirs', 'order']);
      const first = Object.keys(record.files)[0];
      if (change === 'size' && first) record.files[first] = [99, (record.files[first] as [number, number])[1]];
      if (change === 'mtime' && first) record.files[first] = [(record.files[first] as [number, number])[0], 5];
      if (change === 'extra') record.files['new.txt'] = [1, 1000];
      if (change === 'missing' && first) delete record.files[first];
      if (change === 'dirs') record.dirs = [...(record.dirs ?? []), 'other'];
      if (change === 'order') record.files = Object.fromEntries(Object.entries(record.files).reverse());
      const made = sameRecord(copyRecordOf(copy, source), record);
      // Key order aside (it does not change what the record says), both answers agree.
      const expected =
        change === 'order' ? sameRecord(copyRecordOf(copy, source), copyRecordOf(copy, 'apps/x/app_media/x')) : made;
      expect(recordStays(copy, source, record), `round ${round}: ${change}`).to.equal(expected);
      if (expected) stays++;
    }
    expect(stays, 'both answers occur').to.be.within(1, 399);
  });
});

// ---- mutation survivors (issue 29): what the guards, the planners and the copy arithmetic must decide ----------

describe('guards: the mediaRoots refused before anything is looked at (checkSafety, pure)', () => {
  // A home folder and a project outside every system folder, so each refusal below is the system folder's own.
  const HOME = '/export/home/alice';
  const PROJECT = '/export/proj';
  /** The refusal's reason (the message after "refusing mediaRoot ...: "), or undefined when mediaRoot is taken. */
  function refusal(mediaRoot: string): string | undefined {
    const config = { file: undefined, projectRoot: PROJECT, mediaRoot } as unknown as ResolvedConfig;
    try {
      checkSafety(config, { realMediaRoot: mediaRoot, realProjectRoot: PROJECT, apps: [] }, { home: HOME });
      return undefined;
    } catch (error) {
      expect((error as AppMediaError).code, mediaRoot).to.equal('APP_MEDIA_UNSAFE_MEDIA_ROOT');
      return (error as Error).message.slice((error as Error).message.indexOf(': ') + 2);
    }
  }
  before(function () {
    if (path.sep !== '/') this.skip(); // POSIX folders; Windows has its own guard rails
  });

  it('each system folder is refused as mediaRoot, named in the reason', () => {
    const system = ['/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt'];
    system.push('/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/local', '/usr/share');
    system.push('/var', '/var/lib', '/var/tmp');
    for (const folder of system) expect(refusal(folder), folder).to.equal(`it is the system folder ${folder}`);
  });

  it('a folder inside a system folder that no web root is in is refused, naming that system folder', () => {
    const never = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin'];
    never.push('/sys', '/usr/bin', '/usr/include', '/usr/lib', '/usr/lib32', '/usr/lib64', '/usr/libexec', '/usr/sbin');
    never.push('/var/lib');
    for (const folder of never)
      expect(refusal(`${folder}/site/media`), folder).to.equal(`it is inside the system folder ${folder}`);
    // Web roots and folders of one's own below the other system folders are fine.
    for (const fine of ['/srv/www/media', '/var/www/html/media', '/usr/local/site/media', '/opt/site/media'])
      expect(refusal(fine), fine).to.equal(undefined);
  });

  it('a mediaRoot inside node_modules or .git is refused, saying who owns it', () => {
    expect(refusal(`${PROJECT}/node_modules/.cache/media`)).to.equal(
      'it is inside node_modules, which the package manager owns (npm ci deletes it)',
    );
    expect(refusal(`${PROJECT}/.git/media`)).to.equal('it is inside .git, which git owns');
    expect(refusal('/srv/site/.git/media'), 'outside the project too').to.equal('it is inside .git, which git owns');
  });
});

describe('planner: decisions a run reports or records', () => {
  it('a dry run counts the files and the bytes a new copy would write', () => {
    const sourceTree = tree({ 'a.css': f(10, 1000), 'img/b.png': f(32, 1000) });
    const blog = only(planFor(probeOf({ blog: { sourceTree } }), { mode: 'copy' }), 'blog');
    expect(plannedResult(blog)).to.include({ status: 'copied', files: 2, bytes: 42 });
  });

  it('on Windows an own symbolic link is judged by its own text, not taken for a junction', () => {
    const relative = only(planFor(probeOf({ blog: ownLink('blog') }), { platform: 'win32' }), 'blog');
    expect(relative).to.include({ status: 'up-to-date', mode: 'symlink' });
    expect(relative.actions).to.deep.equal([]);
    // An absolute one (made with relative: false) is made again relative, as anywhere else.
    const absolute = only(planFor(probeOf({ blog: ownLink('blog', src('blog')) }), { platform: 'win32' }), 'blog');
    expect(absolute).to.include({ status: 'relinked', mode: 'symlink' });
    expect(ops(absolute)).to.deep.equal(['remove-link', 'create']);
  });

  it('a right link made under a pending record is adopted as what it is: a symlink, on Windows a junction', () => {
    const linux: Slot = {
      entry: link(rel('blog'), src('blog')),
      record: pendingRecord(recordSource('blog'), [rel('blog')], undefined),
    };
    expect(only(planFor(probeOf({ blog: linux })), 'blog').actions).to.deep.equal([
      { op: 'adopt', record: linkRecord('symlink', rel('blog'), recordSource('blog')) },
    ]);
    const windows: Slot = {
      entry: link(src('blog'), src('blog')),
      record: pendingRecord(recordSource('blog'), [src('blog')], undefined),
    };
    expect(only(planFor(probeOf({ blog: windows }), { platform: 'win32' }), 'blog').actions).to.deep.equal([
      { op: 'adopt', record: linkRecord('junction', src('blog'), recordSource('blog')) },
    ]);
  });

  it('an own copy whose source only gained an empty folder is copied (the folder is made), not up-to-date', () => {
    const slot = ownCopy('blog', SRC);
    slot.sourceTree = tree(SRC, ['fonts']);
    const blog = only(planFor(probeOf({ blog: slot }), { mode: 'copy' }), 'blog');
    expect(blog).to.include({ status: 'copied', reason: null, hint: null });
    expect(syncOf(blog).mkdirs).to.deep.equal(['fonts']);
  });

  it("a file changed by hand whose source is gone is a conflict, not a file added beside the app's", () => {
    const copy = { ...SRC, 'css/site.css': f(99, 5000) };
    const blog = only(
      planFor(probeOf({ blog: ownCopy('blog', { 'img/logo.png': f(20, 1000) }, copy, SRC) }), { mode: 'copy' }),
      'blog',
    );
    expect(blog.status).to.equal('conflict');
    expect(blog.reason).to.include('css/site.css (changed by hand)');
  });

  it("a file only added beside the app's files is kept and named, and is no conflict", () => {
    const copy = { ...SRC, 'notes.txt': f(5, 5000) };
    const blog = only(planFor(probeOf({ blog: ownCopy('blog', SRC, copy, SRC) }), { mode: 'copy' }), 'blog');
    expect(blog.status).to.equal('up-to-date');
    expect(blog.reason).to.equal("kept notes.txt (added by hand, not part of the app's media)");
    expect(syncOf(blog).kept).to.deep.equal([{ rel: 'notes.txt', why: 'foreign' }]);
  });

  it('a file added by hand where the source has a folder (even an empty one) is in the way: conflict', () => {
    const slot = ownCopy('blog', SRC, { ...SRC, fonts: f(1, 1) }, SRC);
    slot.sourceTree = tree(SRC, ['fonts']);
    const blog = only(planFor(probeOf({ blog: slot }), { mode: 'copy' }), 'blog');
    expect(blog.status).to.equal('conflict');
    expect(blog.reason).to.include('fonts (not written by app-media)');
  });

  it(
    'a copy replaced by a link counts as its own the stale files the tool wrote, ' + 'and its folders go deepest first',
    () => {
      const written = { ...SRC, 'img/icons/a.svg': f(3, 1000) };
      const source = { ...written, 'css/site.css': f(11, 2000) };
      const blog = only(planFor(probeOf({ blog: ownCopy('blog', source, written) }), { mode: 'symlink' }), 'blog');
      const [action] = blog.actions;
      if (action?.op !== 'copy-to-link') throw new Error(`expected copy-to-link, got ${ops(blog).join(', ')}`);
      expect([...action.own.files].sort()).to.deep.equal(['css/site.css', 'img/icons/a.svg', 'img/logo.png']);
      expect(action.own.seen.get('css/site.css'), 'as the plan saw it').to.deep.equal(f(10, 1000));
      expect(action.own.dirs).to.deep.equal(['img/icons', 'img', 'css']);
    },
  );

  it('an app whose media folder leads outside the app is escape, and its own entry goes even with prune off', () => {
    const escape: SourceFacts = { kind: 'escape', real: '/etc' };
    const bare = only(planFor(probeOf({ blog: { source: escape } })), 'blog');
    expect(bare).to.include({ status: 'escape' });
    expect(bare.reason).to.include("leads outside the app's folder (to /etc)");
    expect(bare.actions).to.deep.equal([]);
    const linked = only(planFor(probeOf({ blog: { ...ownLink('blog'), source: escape } }), { prune: false }), 'blog');
    expect(linked).to.include({ status: 'escape' });
    expect(linked.actions).to.deep.equal([{ op: 'remove-link', linkText: rel('blog') }]);
  });
});

describe("copy arithmetic: what proves a copy the tool's, what is the same, what the record keeps", () => {
  it('times a whole millisecond or more apart are not the same', () => {
    expect(sameFacts(f(1, 1000), [1, 1000])).to.equal(true);
    expect(sameFacts(f(1, 1000.6), [1, 1000])).to.equal(true);
    expect(sameFacts(f(1, 1001), [1, 1000])).to.equal(false);
    expect(sameFacts(f(1, 999), [1, 1000])).to.equal(false);
  });

  it('with --checksum the contents decide; without, a source of the same size but another time is written', () => {
    const hashed = (size: number, mtimeMs: number, hash: string): FileFacts => ({ ...f(size, mtimeMs), hash });
    const record = copyRecord('blog', { 'a.css': f(10, 1000) });
    const otherBytes = planCopy(
      tree({ 'a.css': hashed(10, 1000, 'A') }),
      tree({ 'a.css': hashed(10, 1000, 'B') }),
      record,
    );
    expect(writtenRels(otherBytes), 'same size and time, other contents').to.deep.equal(['a.css']);
    const sameBytes = planCopy(
      tree({ 'a.css': hashed(10, 2000, 'A') }),
      tree({ 'a.css': hashed(10, 1000, 'A') }),
      record,
    );
    expect(writtenRels(sameBytes), 'same contents, other time').to.deep.equal([]);
    expect(sameBytes.touch?.map((file) => file.rel)).to.deep.equal(['a.css']);
    const unhashed = planCopy(tree({ 'a.css': f(10, 2000) }), tree({ 'a.css': f(10, 1000) }), record);
    expect(writtenRels(unhashed), 'no hashes: size and time').to.deep.equal(['a.css']);
  });

  it('a folder the copy has only below a link put in it is not recorded as made by the tool', () => {
    const source = tree({ 'a.css': f(1, 1000), 'fonts/a.woff': f(4, 1000) });
    const dest = tree({ 'a.css': f(1, 1000) });
    dest.skipped.push('fonts');
    expect(planCopy(source, dest, copyRecord('blog', { 'a.css': f(1, 1000) })).dirs).to.deep.equal([]);
  });

  it('a record listing other folders (as many) than the copy has does not stay', () => {
    const copy = copyPlanWith({ dirs: ['new'] });
    const source = recordSource('blog');
    expect(recordStays(copy, source, { kind: 'copy', source, files: {}, dirs: ['new'] })).to.equal(true);
    expect(recordStays(copy, source, { kind: 'copy', source, files: {}, dirs: ['old'] })).to.equal(false);
  });

  it("a folder under a pending record is the tool's copy only if each file is the source's, and nothing else", () => {
    const pending = (): Slot => ({
      entry: folder(),
      record: pendingRecord(recordSource('blog'), [rel('blog')], undefined),
      sourceTree: tree(SRC),
      entryTree: tree(SRC),
    });
    const same = only(planFor(probeOf({ blog: pending() }), { mode: 'copy' }), 'blog');
    expect(same).to.include({ status: 'up-to-date', mode: 'copy' });
    expect(ops(same), 'its record is written for good').to.deep.equal(['sync']);

    const withLink = pending();
    withLink.entryTree?.skipped.push('by-hand');
    const other = pending();
    other.entryTree = tree({ 'img/logo.png': f(21, 3000) });
    for (const [what, slot] of [
      ['a link in it', withLink],
      ['a file unlike the source', other],
    ] as const) {
      const blog = only(planFor(probeOf({ blog: slot }), { mode: 'copy' }), 'blog');
      expect(blog.status, what).to.equal('conflict');
      expect(blog.reason, what).to.equal('a folder not made by app-media is in the way');
      expect(blog.actions, what).to.deep.equal([]);
    }
  });

  it("a copy whose record holds no file is the tool's only while no file of it is at a path the source has", () => {
    const slot = ownCopy('blog', SRC, { 'css/site.css': f(10, 1000), 'notes.txt': f(1, 1) }, {});
    const blog = only(planFor(probeOf({ blog: slot }), { mode: 'copy' }), 'blog');
    expect(blog).to.include({ status: 'conflict', reason: 'a folder not made by app-media is in the way' });
    expect(blog.actions).to.deep.equal([]);
  });
});

describe('clean planner: what is removed, kept or forgotten, and whether the run writes', () => {
  function cleanOf(entries: Array<RootEntry & { record?: OwnRecord }>): ReturnType<typeof planClean> {
    const records = emptyManifest();
    for (const { name, record } of entries) if (record) records.entries[name] = record;
    return planClean(
      entries.map(({ record: _record, ...entry }) => entry),
      records,
      false,
      ROOT,
    );
  }
  const ownLinkEntry = (name: string): RootEntry & { record: OwnRecord } => ({
    name,
    entry: link(rel(name), src(name)),
    record: linkRecord('symlink', rel(name), recordSource(name)),
  });
  const foreignEntries: RootEntry[] = [
    { name: 'mine', entry: folder() },
    { name: 'yours', entry: link('/srv/x', '/srv/x') },
  ];

  it("entries that are not the tool's only: nothing to write, nothing to forget", () => {
    const plan = cleanOf(foreignEntries);
    expect(plan.apps.map((app) => app.status)).to.deep.equal(['foreign', 'foreign']);
    expect(plan).to.deep.include({ forget: [], writes: false });
  });

  it('an own link beside foreign entries is removed: the run writes', () => {
    const plan = cleanOf([...foreignEntries, ownLinkEntry('blog')]);
    expect(plan.apps.map((app) => [app.name, app.status, ops(app)])).to.deep.equal([
      ['mine', 'foreign', []],
      ['yours', 'foreign', []],
      ['blog', 'removed', ['remove-link']],
    ]);
    expect(plan).to.deep.include({ forget: [], writes: true });
  });

  it('a record whose entry is gone is forgotten: the run writes (the records file, under the lock)', () => {
    const plan = cleanOf([{ ...ownLinkEntry('gone'), entry: MISSING }]);
    expect(plan).to.deep.equal({ apps: [], forget: ['gone'], writes: true });
  });

  it('an own copy holding a file or an empty folder added by hand is kept: its files go, the folder stays', () => {
    const record = copyRecord('old', SRC);
    const added = cleanOf([{ name: 'old', entry: folder(), tree: tree({ ...SRC, 'notes.txt': f(5, 5000) }), record }]);
    const [withFile] = added.apps;
    expect(withFile).to.include({ status: 'kept', mode: 'copy' });
    expect(withFile?.reason).to.include('not notes.txt (not made by app-media)');
    expect(withFile && ops(withFile)).to.deep.equal(['remove-copy']);
    const [withFolder] = cleanOf([{ name: 'old', entry: folder(), tree: tree(SRC, ['extra']), record }]).apps;
    expect(withFolder).to.include({ status: 'kept' });
    expect(withFolder?.reason).to.include('not extra/ (not made by app-media)');
    const [plain] = cleanOf([{ name: 'old', entry: folder(), tree: tree(SRC), record }]).apps;
    expect(plain).to.include({ status: 'removed', reason: null });
  });

  it('an own copy is removed deepest folder first', () => {
    const files = { ...SRC, 'img/icons/a.svg': f(3, 1000) };
    const [old] = cleanOf([{ name: 'old', entry: folder(), tree: tree(files), record: copyRecord('old', files) }]).apps;
    const [action] = old?.actions ?? [];
    if (action?.op !== 'remove-copy') throw new Error('expected remove-copy');
    expect(action.copy.rmdirs).to.deep.equal(['img/icons', 'img', 'css']);
  });

  it("an own copy of an empty media folder (no file recorded, none there) is the tool's and removed", () => {
    const [empty] = cleanOf([{ name: 'old', entry: folder(true), tree: tree({}), record: copyRecord('old', {}) }]).apps;
    expect(empty).to.include({ status: 'removed', mode: 'copy' });
  });

  it('a copy under a pending record (a run cut short) is removed when one recorded file is still as written', () => {
    const written = copyRecord('old', { 'a.css': f(1, 1000), 'b.css': f(2, 1000) });
    const record = pendingRecord(recordSource('old'), [], written);
    const [old] = cleanOf([{ name: 'old', entry: folder(), tree: tree({ 'a.css': f(1, 1000) }), record }]).apps;
    expect(old).to.include({ status: 'removed', mode: 'copy' });
    expect(old && ops(old)).to.deep.equal(['remove-copy']);
  });
});

/**
 * The non-destruction property (issue 8, spec §6 rules 1 and 2), randomized and
 * seeded: random apps, random pre-existing mediaRoot contents (files, folders,
 * foreign and dangling links, entries of an earlier config), random configs and
 * random steps (link, clean, clean --force, verify, dry run, mode and relative
 * switches, apps added, renamed or removed, sources edited, copies edited or
 * added to by hand, entries and copy sub-folders replaced by hand).
 *
 * After every step of the tool: every byte it did not create is unchanged,
 * nothing outside mediaRoot changed, no temporary file or lock is left; after a
 * link, each app not in conflict is served exactly as its media folder says
 * and verify agrees with that independent look. See test/support/scenario.ts.
 *
 * This is the fast slice (`npm test`), on fast-check: each test draws one scenario from its seed, and a failing one
 * is shrunk to the fewest, simplest steps that still fail. `npm run test:soak` runs 10,000 on the scenario's own seeds.
 * Replay one seed: PROPERTY_SEED=123 npx mocha --no-config --node-option import=tsx test/property.test.ts
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs, {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { clean, link, verify, type Report } from '../src/index.js';
import { LinkMaker } from '../src/core/fs/link.js';
import { mediaFiles, projectState, removeTempDirs, tempDir, writeTree } from './support/project.js';
import { FOLDER_KINDS, useFolderKind } from './support/folder-kind.js';
import { formatFailure, runScenario, STEP_WEIGHTS, type StepKind } from './support/scenario.js';

const DEFAULT_SEEDS = Array.from({ length: 80 }, (_, index) => 1 + index);

function seedsFromEnv(): number[] {
  const raw = process.env['PROPERTY_SEED'];
  if (!raw) return DEFAULT_SEEDS;
  return raw
    .split(',')
    .map((part) => Number.parseInt(part.trim(), 10))
    .filter((seed) => Number.isFinite(seed));
}

/**
 * A scenario as fast-check draws it: the steps (weighted as the soak draws them, 4 to 8, a final link added) and the
 * seed that draws the rest (the apps, mediaRoot's contents, each step's details). On a failure fast-check shrinks both:
 * fewer steps, each the simplest that still fails, and smaller seeds.
 */
const scenarios = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  kinds: fc.array(
    fc.oneof(...STEP_WEIGHTS.map(([kind, weight]) => ({ arbitrary: fc.constant<StepKind>(kind), weight }))),
    { minLength: 4, maxLength: 8 },
  ),
});

describe('property: the tool never destroys what it did not create (fast-check scenarios)', function () {
  this.timeout(60_000);
  const seeds = seedsFromEnv();
  const replayPath = process.env['PROPERTY_PATH'];
  let toolRuns = 0;

  after(() => {
    if (process.env['PROPERTY_VERBOSE'])
      console.log(`    ${seeds.length} scenarios, ${toolRuns} runs of link/clean/verify`);
  });

  for (const seed of seeds) {
    it(
      `seed ${seed}: foreign bytes and app sources unchanged after every step, nothing left behind, ` +
        `link then verify agree`,
      async () => {
        const replay =
          `PROPERTY_SEED=${seed} PROPERTY_PATH=<the path fast-check names above> npx mocha --no-config ` +
          `--node-option import=tsx --timeout 600000 test/property.test.ts`;
        await fc.assert(
          fc.asyncProperty(scenarios, async (drawn) => {
            const result = await runScenario(drawn.seed, {
              kinds: drawn.kinds,
              keep: process.env['PROPERTY_KEEP'] === '1',
            });
            toolRuns += result.toolRuns;
            expect(result.violations, formatFailure(result, replay)).to.deep.equal([]);
          }),
          // One scenario per test, drawn from the test's seed: a failure is shrunk, and fast-check's report names the
          // path of the smallest one (PROPERTY_PATH=<path> with the same seed replays just that).
          { seed, numRuns: 1, ...(replayPath ? { path: replayPath } : {}) },
        );
      },
    );
  }

  it(
    'the steps fast-check draws are the steps the scenario runs (then a final link), ' +
      'so a shrunk list is what replays',
    async () => {
      const result = await runScenario(7, { kinds: ['verify', 'clean', 'source-edit'] });
      expect(result.violations).to.deep.equal([]);
      // The set-up (which may run a link of an earlier config) ends with its "setup: config" line.
      const after = result.steps.slice(result.steps.findLastIndex((step) => step.startsWith('setup: config')) + 1);
      const kinds = after.map((step) => step.split(':')[0]);
      expect(kinds).to.deep.equal(['verify', 'clean', 'source-edit', 'link']);
    },
  );
});

// ---------------------------------------------------------------------------
// Bugs the property found, each as its smallest case (unskip once fixed in src/).

describe('property: minimal cases of violations found by the soak', function () {
  this.timeout(30_000);
  after(removeTempDirs);

  function copiedBlog(): string {
    const root = tempDir('property-bug');
    writeTree(root, mediaFiles('apps/blog', 'blog'));
    writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({ mediaRoot: 'public/media', mode: 'copy', apps: ['./apps/blog'] }),
    );
    return root;
  }
  const switchTo = (root: string, mode: string): void =>
    writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({ mediaRoot: 'public/media', mode, apps: ['./apps/blog'] }),
    );
  /** What a run killed after putting blog's entry in place and before recording it leaves: a pending record. */
  function recordPending(root: string): void {
    const recordsPath = path.join(root, 'public/media/.app-media.json');
    const records = JSON.parse(readFileSync(recordsPath, 'utf8')) as { entries: Record<string, { source: string }> };
    const source = records.entries['blog']?.source as string;
    records.entries['blog'] = { kind: 'pending', source, targets: [] } as unknown as { source: string };
    writeFileSync(recordsPath, JSON.stringify(records));
  }
  /** `run` with one of node:fs's functions replaced (for src/'s named imports too), put back after. */
  async function withFs<K extends 'fchmodSync' | 'lstatSync' | 'openSync' | 'readdirSync' | 'renameSync', T>(
    name: K,
    replace: (real: (typeof fs)[K]) => (typeof fs)[K],
    run: () => Promise<T>,
  ): Promise<T> {
    const real = fs[name];
    fs[name] = replace(real);
    syncBuiltinESMExports();
    try {
      return await run();
    } finally {
      fs[name] = real;
      syncBuiltinESMExports();
    }
  }

  it(
    'copy -> link after the source gained a file in a new folder: relinked, the old copy gone, ' +
      "the new link the tool's own (regression, seeds 128, 220, 898, 926, 1343, 1662, 2008, 2669, 2926)",
    async () => {
      const root = copiedBlog();
      expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
      writeTree(root, { 'apps/blog/app_media/blog/newdir/b.css': 'b' });
      switchTo(root, 'symlink');
      const report = await link({ cwd: root });
      expect(report.apps[0]?.status, report.apps[0]?.reason ?? '').to.equal('relinked');
      expect(readdirSync(path.join(root, 'public/media')).sort()).to.deep.equal(['.app-media.json', 'blog']);
      expect((await verify({ cwd: root })).failed).to.equal(false);
      const cleaned = await clean({ cwd: root });
      expect(cleaned.apps[0]?.status, 'clean removes the link the tool made').to.equal('removed');
    },
  );

  it(
    'an empty folder added by hand inside a copy survives a switch to link mode (regression, ' +
      'seeds 1570, 1958, 2159, 5047, 5179)',
    async () => {
      const root = copiedBlog();
      await link({ cwd: root });
      const mine = path.join(root, 'public/media/blog/img/my-drafts');
      mkdirSync(mine);
      switchTo(root, 'symlink');
      const report = await link({ cwd: root });
      expect(existsSync(mine), `${report.apps[0]?.status}: ${report.apps[0]?.reason ?? ''}`).to.equal(true);
    },
  );
  it(
    'a copy recorded only as pending (a run killed after the copy was in place, before its record) ' +
      'is replaced by a link: no conflict over its folders (regression, soak kill seed 1000018)',
    async () => {
      const root = copiedBlog();
      expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
      // What a run killed between renaming a new copy into place and writing its record leaves: a pending record
      // without files.
      recordPending(root);
      switchTo(root, 'symlink');
      const report = await link({ cwd: root });
      expect(report.apps[0]?.status, report.apps[0]?.reason ?? '').to.equal('relinked');
      expect(readdirSync(path.join(root, 'public/media')).sort()).to.deep.equal(['.app-media.json', 'blog']);
      expect((await verify({ cwd: root })).failed).to.equal(false);
    },
  );

  it(
    'a new copy put in place by a run killed before it set its mode (still private, 0700, under a pending record): ' +
      'the next run makes it readable again (regression, soak kill seed 21261231)',
    async () => {
      const root = copiedBlog();
      expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
      recordPending(root);
      const copy = path.join(root, 'public/media/blog');
      chmodSync(copy, 0o700);
      const report = await link({ cwd: root });
      expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
      expect(statSync(copy).mode & 0o777).to.equal(0o755 & ~process.umask());
      expect((await verify({ cwd: root })).failed).to.equal(false);
      // Once recorded for good, a mode of the copy's own folder is left as it is.
      chmodSync(copy, 0o700);
      await link({ cwd: root });
      expect(statSync(copy).mode & 0o777).to.equal(0o700);
    },
  );

  it(
    "a new copy in place whose mode cannot be set (EIO): that app is error, the copy stays the tool's (its pending " +
      'record kept), and the next run makes it readable',
    async () => {
      const root = copiedBlog();
      let refused = 0;
      const first = await withFs(
        'fchmodSync',
        (real) =>
          (fd: number, mode: fs.Mode): void => {
            if (refused === 0 && fs.fstatSync(fd).isDirectory()) {
              refused++;
              throw Object.assign(new Error('EIO: i/o error, fchmod'), { code: 'EIO', syscall: 'fchmod', errno: -5 });
            }
            real(fd, mode);
          },
        () => link({ cwd: root }),
      );
      expect(refused, 'the mode of the copy in place was refused').to.equal(1);
      expect(first.apps[0]?.status).to.equal('error');
      expect(first.apps[0]?.reason).to.match(/^EIO \(fchmod\)/);
      const copy = path.join(root, 'public/media/blog');
      expect(statSync(copy).mode & 0o777).to.equal(0o700);
      const records = JSON.parse(readFileSync(path.join(root, 'public/media/.app-media.json'), 'utf8')) as {
        entries: Record<string, { kind: string }>;
      };
      expect(records.entries['blog']?.kind).to.equal('pending');
      const again = await link({ cwd: root });
      expect(again.failed, JSON.stringify(again.apps)).to.equal(false);
      expect(statSync(copy).mode & 0o777).to.equal(0o755 & ~process.umask());
      expect((await verify({ cwd: root })).failed).to.equal(false);
    },
  );

  /** The records' kind for blog, if there are records and one for blog. */
  function blogRecord(root: string): string | undefined {
    const file = path.join(root, 'public/media/.app-media.json');
    if (!existsSync(file)) return undefined;
    return (JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, { kind: string }> }).entries['blog']
      ?.kind;
  }
  const isTemp = (file: string): boolean => path.basename(file).startsWith('.app-media-tmp-');
  /** `run`, with `hook` called once, right after the first rename `match` accepts is done. */
  function afterRename<T>(
    match: (from: string, to: string) => boolean,
    hook: (from: string, to: string) => void,
    run: () => Promise<T>,
  ): Promise<T> {
    let done = false;
    return withFs(
      'renameSync',
      (real) =>
        (from: fs.PathLike, to: fs.PathLike): void => {
          real(from, to);
          if (done || !match(String(from), String(to))) return;
          done = true;
          hook(String(from), String(to));
        },
      run,
    );
  }
  /** Someone who can write mediaRoot: the folder at `at` moved to `away`, and theirs (blog's files) put there. */
  function swapForTheirs(root: string, at: string, away: string): void {
    renameSync(at, away);
    cpSync(path.join(root, 'apps/blog/app_media/blog'), at, { recursive: true, preserveTimestamps: true });
  }
  /**
   * The first run (`first`) and the next one never took their folder at blog (mode 0700) for the copy; 'put back':
   * their folder (holding theirs.txt) is the one the run put back at blog.
   */
  async function expectNeverTaken(root: string, first: Report, putBack?: 'put back'): Promise<void> {
    const theirs = path.join(root, 'public/media/blog');
    if (putBack)
      expect(readFileSync(path.join(theirs, 'theirs.txt'), 'utf8'), 'their folder, put back').to.equal('theirs');
    expect(first.apps[0]?.status, first.apps[0]?.reason ?? '').to.equal('conflict');
    expect(blogRecord(root), 'no record for what is at the name').to.equal(undefined);
    const before = projectState(theirs);
    const again = await link({ cwd: root });
    expect(again.apps[0]?.status, again.apps[0]?.reason ?? '').to.equal('conflict');
    expect((statSync(theirs).mode & 0o777).toString(8), 'their folder keeps its mode').to.equal('700');
    expect(projectState(theirs), 'their folder is untouched').to.deep.equal(before);
    expect(blogRecord(root)).to.equal(undefined);
  }
  const placedCopy = (from: string, to: string): boolean => path.basename(to) === 'blog' && isTemp(from);
  /**
   * A first copy run whose open of the new copy at its name fails once with `code`; `swap` runs right after the copy
   * is renamed into place.
   */
  async function placeFailing(root: string, code: string, swap?: () => void): Promise<Report> {
    let placed = false;
    let refused = 0;
    const report = await afterRename(
      placedCopy,
      () => {
        placed = true;
        swap?.();
      },
      () =>
        withFs(
          'openSync',
          (real) =>
            (file: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode | null): number => {
              if (placed && refused === 0 && path.basename(String(file)) === 'blog') {
                refused++;
                throw Object.assign(new Error(`${code}: open`), { code, syscall: 'open', path: String(file) });
              }
              return real(file, flags, mode);
            },
          () => link({ cwd: root }),
        ),
    );
    expect(refused, 'the open at the name was refused').to.equal(1);
    return report;
  }

  for (const code of ['EACCES', 'EMFILE']) {
    it(
      `a new copy swapped for a folder of someone else's right after it was put in place, the open at its name then ` +
        `failing (${code}): a conflict, no record for that folder, and the next run never takes it for the copy`,
      async () => {
        const root = copiedBlog();
        const media = path.join(root, 'public/media');
        mkdirSync(media, { recursive: true });
        const first = await placeFailing(root, code, () => {
          swapForTheirs(root, path.join(media, 'blog'), path.join(media, 'moved'));
          chmodSync(path.join(media, 'blog'), 0o700);
        });
        await expectNeverTaken(root, first);
      },
    );
  }

  describe('folders held by path (systems without /proc)', () => {
    useFolderKind('path');

    it(
      "a new copy swapped for a folder of someone else's between the look at its name and the setting of its mode: " +
        'a conflict, no record for that folder, and the next run never takes it for the copy',
      async () => {
        const root = copiedBlog();
        const media = path.join(root, 'public/media');
        mkdirSync(media, { recursive: true });
        const theirs = path.join(media, 'blog');
        let placed = false;
        let swapped = false;
        const first = await afterRename(
          placedCopy,
          () => (placed = true),
          () =>
            withFs(
              'lstatSync',
              (real) =>
                ((...args: Parameters<typeof fs.lstatSync>) => {
                  const seen = real(...args);
                  if (placed && !swapped && String(args[0]) === theirs) {
                    // Right after the look at the name (a folder held by path is looked at with lstat).
                    swapped = true;
                    swapForTheirs(root, theirs, path.join(media, 'moved'));
                    chmodSync(theirs, 0o700);
                  }
                  return seen;
                }) as typeof fs.lstatSync,
              () => link({ cwd: root }),
            ),
        );
        expect(swapped, 'swapped after the look at the name').to.equal(true);
        await expectNeverTaken(root, first);
      },
    );
  });

  for (const kind of FOLDER_KINDS) {
    describe(`folders held by ${kind}`, () => {
      useFolderKind(kind);

      it(
        "a copy set aside for a link, swapped at its temporary name for a folder of someone else's: that folder is " +
          'put back where the run took it from, with no record, and the next run never takes it for the copy',
        async () => {
          const root = copiedBlog();
          expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
          switchTo(root, 'symlink');
          const media = path.join(root, 'public/media');
          let swapped = false;
          const first = await afterRename(
            (from, to) => path.basename(from) === 'blog' && isTemp(to),
            (_from, to) => {
              // Right after the copy was set aside: moved on, and a folder of theirs (one file more) put there.
              swapped = true;
              swapForTheirs(root, to, path.join(media, 'moved'));
              writeFileSync(path.join(to, 'theirs.txt'), 'theirs');
              chmodSync(to, 0o700);
            },
            () => link({ cwd: root }),
          );
          expect(swapped, 'swapped at the temporary name').to.equal(true);
          await expectNeverTaken(root, first, 'put back');
        },
      );

      it(
        'links refused, and the mode of the copy put back cannot be given back at first (EIO): the copy falls back ' +
          'to a copy with its mode (it stayed 0700, unreadable by the web server, with verify saying ok)',
        async () => {
          const root = copiedBlog();
          expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
          switchTo(root, 'auto');
          const make: unknown = Reflect.get(LinkMaker.prototype, 'make');
          LinkMaker.prototype.make = () =>
            Promise.reject(Object.assign(new Error('EPERM: operation not permitted, symlink'), { code: 'EPERM' }));
          let folderModes = 0;
          let refused = 0;
          let report: Report;
          try {
            report = await withFs(
              'fchmodSync',
              (real) =>
                (fd: number, mode: fs.Mode): void => {
                  // The first folder mode set is the copy made private as it is set aside; the second gives it back.
                  if (fs.fstatSync(fd).isDirectory() && ++folderModes === 2) {
                    refused++;
                    throw Object.assign(new Error('EIO: i/o error, fchmod'), { code: 'EIO', syscall: 'fchmod' });
                  }
                  real(fd, mode);
                },
              () => link({ cwd: root }),
            );
          } finally {
            Reflect.set(LinkMaker.prototype, 'make', make);
          }
          expect(refused, 'the mode given back was refused once').to.equal(1);
          expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
          expect(report.apps[0]?.mode).to.equal('copy');
          const copy = path.join(root, 'public/media/blog');
          expect((statSync(copy).mode & 0o777).toString(8)).to.equal((0o755 & ~process.umask()).toString(8));
          expect(blogRecord(root)).to.equal('copy');
        },
      );

      it(
        "a copy moved away as it was being set aside for a link (the rename fails), a folder of someone else's then " +
          'put at its name: that app is error, no record for that folder, and the next run never takes it for the copy',
        async () => {
          const root = copiedBlog();
          expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
          switchTo(root, 'symlink');
          const media = path.join(root, 'public/media');
          const theirs = path.join(media, 'blog');
          let raced = false;
          const first = await withFs(
            'renameSync',
            (real) =>
              (from: fs.PathLike, to: fs.PathLike): void => {
                if (raced || path.basename(String(from)) !== 'blog' || !isTemp(String(to))) return real(from, to);
                raced = true;
                real(theirs, path.join(media, 'moved'));
                try {
                  real(from, to);
                } finally {
                  cpSync(path.join(root, 'apps/blog/app_media/blog'), theirs, {
                    recursive: true,
                    preserveTimestamps: true,
                  });
                  chmodSync(theirs, 0o700);
                }
              },
            () => link({ cwd: root }),
          );
          expect(raced, 'the rename raced').to.equal(true);
          expect(first.apps[0]?.status, first.apps[0]?.reason ?? '').to.equal('error');
          expect(first.apps[0]?.reason).to.match(/^ENOENT \(rename\)/);
          expect(blogRecord(root), 'no record for what is at the name').to.equal(undefined);
          const before = projectState(theirs);
          const again = await link({ cwd: root });
          expect(again.apps[0]?.status, again.apps[0]?.reason ?? '').to.equal('conflict');
          expect(projectState(theirs), 'their folder is untouched').to.deep.equal(before);
        },
      );

      it(
        "a copy set aside for a link and opened there, then swapped for a folder of someone else's before it is " +
          'looked at: that folder is put back where the run took it from, with no record, and never taken for the copy',
        async () => {
          const root = copiedBlog();
          expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
          switchTo(root, 'symlink');
          const media = path.join(root, 'public/media');
          let aside: string | undefined;
          let swapped = false;
          const first = await afterRename(
            (from, to) => path.basename(from) === 'blog' && isTemp(to),
            (_from, to) => (aside = to),
            () =>
              withFs(
                'readdirSync',
                (real) =>
                  ((...args: Parameters<typeof fs.readdirSync>) => {
                    if (aside !== undefined && !swapped) {
                      // The walk of the copy set aside: first, the copy moved on (a file added to it) and a folder of
                      // theirs (one file more) put at its temporary name.
                      swapped = true;
                      swapForTheirs(root, aside, path.join(media, 'moved'));
                      writeFileSync(path.join(media, 'moved', 'added.txt'), 'added');
                      writeFileSync(path.join(aside, 'theirs.txt'), 'theirs');
                      chmodSync(aside, 0o700);
                    }
                    return real(...args);
                  }) as typeof fs.readdirSync,
                () => link({ cwd: root }),
              ),
          );
          expect(swapped, 'swapped before the walk of the copy set aside').to.equal(true);
          await expectNeverTaken(root, first, 'put back');
        },
      );
    });
  }

  it(
    'a new copy in place that cannot be opened at its name (EMFILE), nothing swapped: that app is error, the copy ' +
      'keeps its pending record, and the next run makes it readable',
    async () => {
      const root = copiedBlog();
      const first = await placeFailing(root, 'EMFILE');
      expect(first.apps[0]?.status).to.equal('error');
      expect(first.apps[0]?.reason).to.match(/^EMFILE \(open\)/);
      const copy = path.join(root, 'public/media/blog');
      expect((statSync(copy).mode & 0o777).toString(8)).to.equal('700');
      expect(blogRecord(root)).to.equal('pending');
      const again = await link({ cwd: root });
      expect(again.failed, JSON.stringify(again.apps)).to.equal(false);
      expect(statSync(copy).mode & 0o777).to.equal(0o755 & ~process.umask());
      expect((await verify({ cwd: root })).failed).to.equal(false);
    },
  );

  it(
    'a copy being replaced by a link is private (0700) before it leaves its name for a temporary one; ' +
      'it is then replaced by the link',
    async () => {
      const root = copiedBlog();
      expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
      switchTo(root, 'symlink');
      const modes: string[] = [];
      const report = await withFs(
        'renameSync',
        (real) =>
          (from: fs.PathLike, to: fs.PathLike): void => {
            if (path.basename(String(to)).startsWith('.app-media-tmp-') && lstatSync(from).isDirectory())
              modes.push((lstatSync(from).mode & 0o777).toString(8));
            real(from, to);
          },
        () => link({ cwd: root }),
      );
      expect(report.apps[0]?.status, report.apps[0]?.reason ?? '').to.equal('relinked');
      expect(modes, 'the mode of the copy as it was set aside').to.deep.equal(['700']);
      expect(lstatSync(path.join(root, 'public/media/blog')).isSymbolicLink()).to.equal(true);
    },
  );

  it(
    'a copy set aside that cannot be opened at its temporary name (EMFILE): back in place with its mode, ' +
      'that app is error, and the next run replaces it by the link',
    async () => {
      const root = copiedBlog();
      expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
      switchTo(root, 'symlink');
      let refused = 0;
      const first = await withFs(
        'openSync',
        (real) =>
          (file: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode | null): number => {
            if (
              refused === 0 &&
              path.basename(String(file)).startsWith('.app-media-tmp-') &&
              lstatSync(file, { throwIfNoEntry: false })?.isDirectory() === true
            ) {
              refused++;
              throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', syscall: 'open' });
            }
            return real(file, flags, mode);
          },
        () => link({ cwd: root }),
      );
      expect(refused, 'the open at the temporary name was refused').to.equal(1);
      expect(first.apps[0]?.status).to.equal('error');
      const copy = path.join(root, 'public/media/blog');
      expect(lstatSync(copy).isDirectory(), 'the copy is back at its name').to.equal(true);
      expect((statSync(copy).mode & 0o777).toString(8)).to.equal((0o755 & ~process.umask()).toString(8));
      const again = await link({ cwd: root });
      expect(again.apps[0]?.status, again.apps[0]?.reason ?? '').to.equal('relinked');
    },
  );

  it(
    'an empty lock draft left by a run killed while taking the lock is swept by the next run (regression, ' +
      'soak kill seed 1100061)',
    async () => {
      const root = copiedBlog();
      await link({ cwd: root });
      const draft = path.join(root, 'public/media/.app-media.lock.4a422ec45db8d8c3');
      writeFileSync(draft, '');
      const report = await link({ cwd: root });
      expect(report.apps[0]?.status).to.equal('up-to-date');
      expect(existsSync(draft), 'the empty draft is gone').to.equal(false);
      expect(readdirSync(path.join(root, 'public/media')).sort()).to.deep.equal(['.app-media.json', 'blog']);
    },
  );
  it(
    "a copy left with only files added by hand (its source's last file deleted) is still the tool's: " +
      'verify says drift, not conflict (regression, soak seeds 23840, 25175)',
    async () => {
      const root = tempDir('property-bug');
      writeTree(root, { 'apps/maps/app_media/maps/js/f0.txt': 'only file' });
      writeFileSync(
        path.join(root, 'app-media.config.json'),
        JSON.stringify({ mediaRoot: 'public/media', mode: 'copy', apps: ['./apps/maps'] }),
      );
      expect((await link({ cwd: root })).apps[0]?.status).to.equal('copied');
      rmSync(path.join(root, 'apps/maps/app_media/maps/js/f0.txt'));
      writeTree(root, { 'public/media/maps/user-1.txt': 'mine', 'public/media/maps/js/user-2.txt': 'mine too' });
      const linked = await link({ cwd: root });
      expect(linked.apps[0]?.status, linked.apps[0]?.reason ?? '').to.equal('copied');
      const checked = await verify({ cwd: root });
      expect(checked.apps[0]?.status, checked.apps[0]?.reason ?? '').to.equal('drift');
      expect(readFileSync(path.join(root, 'public/media/maps/js/user-2.txt'), 'utf8')).to.equal('mine too');
      expect(existsSync(path.join(root, 'public/media/maps/js/f0.txt'))).to.equal(false);
    },
  );
});

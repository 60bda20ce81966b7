/**
 * media:collect under the rules of the link and copy core (issue 23's threat model, for
 * collectRoot; a security review of issue 27's collect):
 *
 * - what is read from an app's media: a media folder that leads out of its app is `escape`;
 *   a source is read only if it is the very file the walk saw, inside the media folder;
 * - swaps during a run, at the exact moment (the run pauses at a pause point, src/core/fs/pause.ts,
 *   and the test acts as the racing process), with folders held by descriptor (Linux) and by
 *   path (other systems' code): nothing is written or deleted through a folder swapped for a link;
 * - the names the tool reserves: only a killed run's temporary names are swept, yours stay;
 * - a temporary file is never, even for a moment, writable by others where they can reach it.
 *
 * Each test checks what a user would: the bytes outside collectRoot, the build, the report.
 */
import { expect } from 'chai';
import { FOLDER_KINDS, useFolderKind } from './support/folder-kind.js';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { hostname } from 'node:os';
import path from 'node:path';
import { collect } from '../src/index.js';
import { folderKind } from '../src/core/fs/folder.js';
import { onPause, type PausePoint } from '../src/core/fs/pause.js';
import type { Report } from '../src/core/types.js';
import { faultEnv, needShim } from './support/copy.js';
import { appMedia, gulp, jsonReport, removeTempDirs, snapshot, tempDir, writeTree } from './support/project.js';
import {
  collectedInProcess,
  makeCollectProject,
  outFiles,
  outState,
  OUT,
  readManifest,
  sri,
} from './support/collect.js';

after(removeTempDirs);
afterEach(() => onPause(undefined));

const BLOG = 'apps/blog/app_media/blog';
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function statusOf(report: Report | undefined, name: string): string | undefined {
  return report?.apps.find((app) => app.name === name)?.status;
}

/** Runs `act` once, the `nth` time (1-based) the run passes `point` (for a `detail` that passes `which`). */
function pauseOnce(
  point: PausePoint,
  act: (detail: string) => void,
  nth = 1,
  which?: (detail: string) => boolean,
): { fired: () => boolean } {
  let count = 0;
  let fired = false;
  onPause((at, detail) => {
    if (at !== point || fired || (which && !which(detail))) return;
    if (++count < nth) return;
    fired = true;
    act(detail);
  });
  return { fired: () => fired };
}

/** A collect run that may stop on what it found changed (thrown) or report it: either way, its outcome. */
async function collectOutcome(root: string): Promise<{ report?: Report; error?: Error }> {
  try {
    return { report: await collect({ cwd: root, logger: quiet }) };
  } catch (error) {
    return { error: error as Error };
  }
}

/** A folder of root's, 0700, with files 0600 that hold `PRIVATE`: what no build may ever publish. */
function privateFolder(files: Record<string, string>): string {
  const dir = tempDir('private');
  writeTree(dir, files);
  for (const rel of Object.keys(files)) fs.chmodSync(path.join(dir, rel), 0o600);
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** No file of the build holds `PRIVATE`. */
function nothingPrivateIn(root: string): void {
  for (const name of outFiles(root))
    expect(fs.readFileSync(path.join(root, OUT, name)).includes('PRIVATE'), name).to.equal(false);
}

/** A pid no process has now: one that just ended. */
function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
  );
}

/** What a killed run leaves in `folder`: its lock, its process gone; the lock's token. */
function killedRunLock(folder: string): string {
  const token = randomBytes(8).toString('hex');
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 16);
  fs.writeFileSync(path.join(folder, '.app-media.lock'), `${JSON.stringify({ pid: deadPid(), host, token })}\n`);
  return token;
}

describe("media:collect: what is read from an app's media", function () {
  this.timeout(30_000);

  it(
    'a media folder replaced by a link to a root-only folder (0600 files): escape, exit 1, ' +
      'nothing of it read or published; verify --collect says escape',
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      const before = outState(root);
      const secret = privateFolder({
        'css/site.css': '.a { content: "PRIVATE KEY MATERIAL" }',
        'img/logo.png': 'PRIVATE',
      });
      // As the app folder's owner would: `mv blog blog.real && ln -s /root/private blog`.
      fs.renameSync(path.join(root, BLOG), path.join(root, `${BLOG}.real`));
      fs.symlinkSync(secret, path.join(root, BLOG));
      const run = appMedia(root, ['collect']);
      expect(run.status, run.output).to.equal(1);
      expect(run.output).to.match(/escape\s+blog\s+dist\/media\/blog/);
      expect(run.output).to.match(
        /app_media\/blog\/ leads outside the app's folder \(to .*private.*\): nothing of it is published/,
      );
      expect(run.output).to.match(/held\s+shop/);
      expect(outState(root), 'nothing written, the old build and manifest as they were').to.deep.equal(before);
      nothingPrivateIn(root);
      const checked = appMedia(root, ['verify', '--collect', '--json', '--silent']);
      expect(checked.status).to.equal(1);
      expect(jsonReport(checked).apps.map((app) => [app['name'], app['status']])).to.deep.equal([
        ['blog', 'escape'],
        ['shop', 'ok'],
      ]);
      // The same from a first run, with no build yet: nothing of it is ever read.
      fs.rmSync(path.join(root, OUT), { recursive: true });
      const first = await collect({ cwd: root, logger: quiet });
      expect(first.failed).to.equal(true);
      expect(statusOf(first, 'blog')).to.equal('escape');
      expect(fs.existsSync(path.join(root, OUT, 'manifest.json'))).to.equal(false);
      nothingPrivateIn(root);
    },
  );

  for (const where of ['on this thread', 'on the workers']) {
    it(
      `a folder of an app's media swapped, after the walk, for a link to a private folder holding a file of ` +
        `the same name: it is not read (${where}), nothing of it is published, the app is error`,
      async () => {
        // 4 MiB of sources are hashed on this thread; the rest, on the workers.
        const fill = where === 'on the workers' ? { [`${BLOG}/css/fill.bin`]: Buffer.alloc(4 * 1024 * 1024, 1) } : {};
        const root = makeCollectProject({ gulp: false, config: { compress: false }, files: fill });
        const secret = privateFolder({ 'logo.png': 'PRIVATE KEY MATERIAL', 'blog.png': 'PRIVATE' });
        // The first read is css/base.css's; the files of img/ are read after it.
        const swap = pauseOnce('read', () => {
          fs.renameSync(path.join(root, BLOG, 'img'), path.join(root, BLOG, 'img.moved'));
          fs.symlinkSync(secret, path.join(root, BLOG, 'img'));
        });
        const report = await collect({ cwd: root, logger: quiet });
        expect(swap.fired()).to.equal(true);
        expect(statusOf(report, 'blog')).to.equal('error');
        expect(report.apps.find((app) => app.name === 'blog')?.reason).to.match(
          /img\/(blog|logo)\.png was replaced by another file/,
        );
        expect(fs.existsSync(path.join(root, OUT, 'manifest.json'))).to.equal(false);
        nothingPrivateIn(root);
      },
    );
  }

  it(
    "a folder of an app's media moved out of it after the walk, a link to where it went in its place: " +
      'the same files, but no longer inside the media folder: not read',
    async function () {
      if (folderKind() !== 'descriptor') this.skip(); // the open file's own path comes from /proc (Linux)
      const root = makeCollectProject({ gulp: false, config: { compress: false } });
      const elsewhere = tempDir('elsewhere');
      const swap = pauseOnce('read', () => {
        fs.renameSync(path.join(root, BLOG, 'img'), path.join(elsewhere, 'img'));
        fs.symlinkSync(path.join(elsewhere, 'img'), path.join(root, BLOG, 'img'));
      });
      const report = await collect({ cwd: root, logger: quiet });
      expect(swap.fired()).to.equal(true);
      expect(statusOf(report, 'blog')).to.equal('error');
      expect(report.apps.find((app) => app.name === 'blog')?.reason).to.match(
        /img\/(blog|logo)\.png is no longer inside the app's media folder/,
      );
      expect(fs.existsSync(path.join(root, OUT, 'manifest.json'))).to.equal(false);
    },
  );
});

for (const kind of FOLDER_KINDS) {
  describe(
    `media:collect: swaps in collectRoot during a run, ` + `at the exact moment (folders held by ${kind})`,
    function () {
      this.timeout(30_000);
      useFolderKind(kind);

      it(
        'a build folder swapped for a link to a folder outside after the first write in it: ' +
          'nothing is written there, the old manifest stays',
        async () => {
          const root = makeCollectProject({ gulp: false, config: { compress: false } });
          await collectedInProcess(root);
          const manifest = fs.readFileSync(path.join(root, OUT, 'manifest.json'));
          writeTree(root, { [`${BLOG}/css/a.css`]: 'a{}', [`${BLOG}/css/b.css`]: 'b{}' });
          const victim = tempDir('victim');
          writeTree(victim, { 'keep.txt': 'keep' });
          const victimBefore = snapshot(victim);
          const swap = pauseOnce(
            'write',
            () => {
              fs.renameSync(path.join(root, OUT, 'blog/css'), path.join(root, OUT, 'blog/css.moved'));
              fs.symlinkSync(victim, path.join(root, OUT, 'blog/css'));
            },
            3,
            (name) => name.startsWith('blog/css/'),
          );
          const outcome = await collectOutcome(root);
          expect(swap.fired()).to.equal(true);
          expect(snapshot(victim), 'nothing written outside collectRoot').to.deep.equal(victimBefore);
          expect(
            outcome.error !== undefined ||
              !['collected', 'up-to-date'].includes(statusOf(outcome.report, 'blog') ?? ''),
            'not reported as done',
          ).to.equal(true);
          expect(
            fs.readFileSync(path.join(root, OUT, 'manifest.json')).equals(manifest),
            'the old manifest stays',
          ).to.equal(true);
        },
      );

      it(
        "an old build's file, its folder swapped for a link to a folder outside holding a file of the same name, " +
          'size and time: that file stays',
        async () => {
          const root = makeCollectProject({ gulp: false, config: { compress: false, keep: 0 } });
          writeTree(root, { [`${BLOG}/css/a.css`]: 'a{}', [`${BLOG}/css/b.css`]: 'b{}' });
          await collectedInProcess(root);
          const old = readManifest(root).files['blog/css/a.css']!.path.split('/').pop() as string;
          const victim = tempDir('victim');
          expect(
            spawnSync('cp', ['-p', path.join(root, OUT, 'blog/css', old), path.join(victim, old)]).status,
          ).to.equal(0);
          writeTree(victim, { 'keep.txt': 'victim data' });
          const victimBefore = snapshot(victim);
          fs.writeFileSync(path.join(root, BLOG, 'css/a.css'), 'A{}');
          const swap = pauseOnce(
            'delete',
            () => {
              fs.renameSync(path.join(root, OUT, 'blog/css'), path.join(root, OUT, 'blog/css.moved'));
              fs.symlinkSync(victim, path.join(root, OUT, 'blog/css'));
            },
            1,
            (name) => name === `blog/css/${old}`,
          );
          await collectOutcome(root);
          expect(swap.fired()).to.equal(true);
          expect(snapshot(victim), 'the file outside collectRoot is still there, unchanged').to.deep.equal(
            victimBefore,
          );
        },
      );

      it(
        'a build folder swapped for a link to a folder outside before a folder is made in it: ' +
          'nothing is made there',
        async () => {
          const root = makeCollectProject({ gulp: false, config: { compress: false } });
          await collectedInProcess(root);
          writeTree(root, { [`${BLOG}/css/zz/deep.css`]: 'z{}', [`${BLOG}/css/a.css`]: 'a{}' });
          const victim = tempDir('victim');
          writeTree(victim, { 'keep.txt': 'keep' });
          const victimBefore = snapshot(victim);
          // The first write (blog/css/a.<hash>.css) comes after every new folder is made: swap at the
          // read of the last source, after the plan's look at collectRoot.
          const swap = pauseOnce(
            'read',
            () => {
              fs.renameSync(path.join(root, OUT, 'blog/css'), path.join(root, OUT, 'blog/css.moved'));
              fs.symlinkSync(victim, path.join(root, OUT, 'blog/css'));
            },
            1,
            (name) => name === 'blog/css/zz/deep.css',
          );
          const outcome = await collectOutcome(root);
          expect(swap.fired()).to.equal(true);
          expect(snapshot(victim), 'no folder made, nothing written outside collectRoot').to.deep.equal(victimBefore);
          expect(
            outcome.error !== undefined || statusOf(outcome.report, 'blog') !== 'collected',
            'not reported as done',
          ).to.equal(true);
        },
      );
    },
  );
}

describe('media:collect: who may write collectRoot', function () {
  this.timeout(30_000);

  it(
    'a collectRoot others can write (everyone, or owned by another user), or a folder on the way to it: ' +
      'APP_MEDIA_SHARED_ROOT before anything is written; verify --collect still reads it',
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      fs.writeFileSync(path.join(root, BLOG, 'img/logo.png'), 'a new logo');
      const cases: Array<[string, () => void, () => void, RegExp]> = [
        [
          'mode 0777',
          () => fs.chmodSync(path.join(root, OUT), 0o777),
          () => fs.chmodSync(path.join(root, OUT), 0o755),
          /dist\/media \(collectRoot or a folder on the way to it\) can be written by everyone/,
        ],
        [
          'dist/ mode 0777',
          () => fs.chmodSync(path.join(root, 'dist'), 0o777),
          () => fs.chmodSync(path.join(root, 'dist'), 0o755),
          /dist \(collectRoot or a folder on the way to it\) can be written by everyone/,
        ],
      ];
      if (process.getuid?.() === 0) {
        cases.push([
          'owned by nobody',
          () => fs.chownSync(path.join(root, OUT), 65534, 65534),
          () => fs.chownSync(path.join(root, OUT), 0, 0),
          /can be written by user nobody \(uid 65534\)/,
        ]);
      }
      for (const [title, share, unshare, who] of cases) {
        share();
        const before = outState(root);
        const run = appMedia(root, ['collect']);
        expect(run.status, title).to.equal(1);
        expect(run.stderr, title).to.contain('APP_MEDIA_SHARED_ROOT').and.match(who);
        expect(outState(root), title).to.deep.equal(before);
        expect(appMedia(root, ['verify', '--collect']).output, title).to.not.contain('APP_MEDIA_SHARED_ROOT');
        unshare();
      }
      expect(appMedia(root, ['collect']).status).to.equal(0);
    },
  );
});

describe('media:collect: the names it reserves, and yours that look like them', function () {
  this.timeout(30_000);

  it(
    'your .app-media-tmp-* files, at the top of collectRoot and in a build folder, ' +
      "stay through a writing run and the sweep of a killed run's names",
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      const out = path.join(root, OUT);
      const yours = {
        '.app-media-tmp-notes.txt': 'notes',
        '.app-media-tmp-drafts/a.txt': 'draft',
        'blog/css/.app-media-tmp-notes.txt': 'mine',
        [`.app-media-tmp-${randomBytes(8).toString('hex')}-0c0ffee00-.staging`]:
          'a name of a run whose lock is not left behind',
      };
      writeTree(out, yours);
      const token = killedRunLock(out);
      writeTree(out, {
        [`.app-media-tmp-${token}-0c0ffee00-.staging/0-collect-site.css`]: 'half writ',
        [`.app-media-tmp-${token}-1c0ffee00-.staging`]: 'x',
        // The staging folder of a run of an earlier version (labelled "staged"): swept by its token as well.
        [`.app-media-tmp-${token}-2c0ffee00-staged/0-collect-site.css`]: 'half writ',
      });
      // The runs' private folders.
      for (const folder of ['0c0ffee00-.staging', '2c0ffee00-staged'])
        fs.chmodSync(path.join(out, `.app-media-tmp-${token}-${folder}`), 0o700);
      fs.writeFileSync(path.join(root, BLOG, 'img/logo.png'), 'a new logo');
      const report = await collect({ cwd: root, logger: quiet });
      expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
      expect(statusOf(report, 'blog')).to.equal('collected');
      for (const [rel, text] of Object.entries(yours))
        expect(fs.readFileSync(path.join(out, rel), 'utf8'), rel).to.equal(text);
      // The killed run's names (its token) and its lock are gone.
      expect(
        fs.readdirSync(out).filter((name) => name.includes(token) || name.startsWith('.app-media.lock')),
      ).to.deep.equal([]);
      // Below the top, a name like the tool's is a file like any other: not made by app-media, reported.
      expect(report.warnings.join('\n'))
        .to.contain('not made by app-media')
        .and.contain('blog/css/.app-media-tmp-notes.txt');
    },
  );
});

describe('media:collect: temporary files', function () {
  this.timeout(30_000);

  it(
    'a first build copies a file in the read that hashes it: the file written is the bytes its name was made ' +
      'from, even when the source is rewritten before it is put in place; nothing is left in the staging folder',
    async () => {
      const root = makeCollectProject({ gulp: false, config: { compress: false } });
      const logo = path.join(root, BLOG, 'img/logo.png');
      const before = fs.readFileSync(logo);
      const race = pauseOnce(
        'write',
        () => fs.writeFileSync(logo, 'rewritten after it was hashed'),
        1,
        (detail) => detail.startsWith('blog/img/logo.'),
      );
      const report = await collect({ cwd: root, logger: quiet });
      expect(race.fired(), 'the source was rewritten during the run').to.equal(true);
      expect(statusOf(report, 'blog')).to.equal('collected');
      const entry = readManifest(root).files['blog/img/logo.png']!;
      const written = fs.readFileSync(path.join(root, OUT, entry.path));
      // Read once: the old bytes under the old bytes' name and integrity (a second read would get the new ones).
      expect(written.equals(before)).to.equal(true);
      expect(entry.path).to.contain(createHash('sha256').update(before).digest('hex').slice(0, 8));
      expect(entry.integrity).to.equal(sri(before));
      expect(fs.readdirSync(path.join(root, OUT)).filter((name) => name.startsWith('.app-media-tmp'))).to.deep.equal(
        [],
      );
      // The next run sees the change and builds it.
      await collect({ cwd: root, logger: quiet });
      const next = readManifest(root).files['blog/img/logo.png']!;
      expect(fs.readFileSync(path.join(root, OUT, next.path), 'utf8')).to.equal('rewritten after it was hashed');
    },
  );

  for (const [where, size] of [
    ['a worker', 5 * 1024 * 1024], // over what is hashed on the main thread: read (and copied) by a worker
    ['the main thread', 2048], // a run of a few small files: hashed (and copied) where it runs
  ] as const) {
    it(
      `the disk full while ${where} writes a new file's copy into the staging folder: that app is error, naming ` +
        'the staging folder and ENOSPC; nothing is built (never half a build) and nothing left behind; with ' +
        'room, the next run builds it',
      function () {
        const lib = needShim(this);
        const bytes = randomBytes(size);
        const root = makeCollectProject({
          config: { compress: false },
          files: { [`${BLOG}/video/diskfull.bin`]: bytes },
        });
        const run = gulp(
          root,
          ['media:collect', '--json', '--silent'],
          faultEnv(lib, { FAULT_WRITE_PATH: 'diskfull' }),
        );
        expect(run.status, run.output).to.not.equal(0);
        const apps = jsonReport(run).apps;
        const blog = apps.find((app) => app['name'] === 'blog');
        expect(blog?.['status'], run.output).to.equal('error');
        expect(String(blog?.['reason'])).to.match(/ENOSPC \(writing its copy into the run's staging folder\)/);
        expect(String(blog?.['reason'])).to.contain('diskfull.bin');
        expect(apps.find((app) => app['name'] === 'shop')?.['status'], run.output).to.equal('held');
        const out = path.join(root, OUT);
        expect(
          outFiles(root).filter((name) => !name.startsWith('.app-media')),
          'nothing built',
        ).to.deep.equal([]);
        expect(
          fs.readdirSync(out).filter((name) => name.startsWith('.app-media-tmp')),
          'no staging left',
        ).to.deep.equal([]);
        // Room again: the next run builds it, whole.
        const again = gulp(root, ['media:collect', '--json', '--silent']);
        expect(again.status, again.output).to.equal(0);
        const entry = readManifest(root).files['blog/video/diskfull.bin']!;
        expect(fs.readFileSync(path.join(out, entry.path)).equals(bytes)).to.equal(true);
      },
    );
  }

  it(
    'a source of mode 0666 is never, even for a moment, a file others could write in a folder they ' +
      'can reach (copies are made in a private folder)',
    async () => {
      const root = makeCollectProject({ gulp: false, config: { compress: false } });
      for (const rel of ['img/logo.png', 'css/base.css']) fs.chmodSync(path.join(root, BLOG, rel), 0o666);
      // A first build copies new files as it hashes them, into the private staging folder, made 0644.
      await collectedInProcess(root, { logger: quiet });
      const logoMode = (): number =>
        fs.statSync(path.join(root, OUT, readManifest(root).files['blog/img/logo.png']!.path)).mode & 0o777;
      expect(logoMode(), 'first build').to.equal(0o644 & ~process.umask());
      // A changed file the build knew is copied by copyFile (which gives the new file the source's mode first).
      fs.appendFileSync(path.join(root, BLOG, 'img/logo.png'), 'changed');
      expect(fs.statSync(path.join(root, BLOG, 'img/logo.png')).mode & 0o777).to.equal(0o666);
      const seen: Array<{ dest: string; file: number; folder: number }> = [];
      const real = fs.copyFileSync;
      fs.copyFileSync = function copyFileSpy(this: unknown, ...args: Parameters<typeof fs.copyFileSync>): void {
        real.apply(this, args);
        const dest = String(args[1]);
        // What the new file is, right after it was made: its mode and its folder's.
        seen.push({
          dest,
          file: fs.statSync(dest).mode & 0o7777,
          folder: fs.statSync(path.dirname(dest)).mode & 0o7777,
        });
      };
      syncBuiltinESMExports();
      try {
        await collectedInProcess(root, { logger: quiet });
      } finally {
        fs.copyFileSync = real;
        syncBuiltinESMExports();
      }
      expect(seen.length, 'the copies went through copyFile (so this check can fail)').to.be.greaterThan(0);
      for (const one of seen) {
        const othersCanWrite = (one.file & 0o022) !== 0 && (one.folder & 0o011) !== 0;
        expect(
          othersCanWrite,
          `${one.dest}: file ${one.file.toString(8)} in a folder ${one.folder.toString(8)}`,
        ).to.equal(false);
      }
      expect(logoMode(), 'the re-run').to.equal(0o644 & ~process.umask());
    },
  );
});

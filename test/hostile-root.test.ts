/**
 * A hostile mediaRoot (issue 23): someone who can write mediaRoot, the records file or an app's
 * folder (another, less privileged user; or a process racing the run) must not make the tool
 * destroy, publish or escalate anything. Each reproduction of the issue is a test here:
 *
 * - forged or corrupt records, names that climb out of mediaRoot;
 * - another user who can write mediaRoot or a folder on the way (run as nobody with setpriv);
 * - swaps during a run, at the exact moment: the run pauses at a pause point (src/core/fs/pause.ts)
 *   and the test acts as the racing process; each runs with the folders held open by
 *   descriptor (Linux) and with the path-checked folders other systems use;
 * - sources: setuid bits, a file swapped for a link to a private file or a FIFO mid-copy, a
 *   media folder that is a link out of its app;
 * - names the tool reserves, and the user's files that only look like them.
 *
 * Every test checks what survived: checksums of everything outside the tool's own entries.
 */
import { expect } from 'chai';
import { FOLDER_KINDS, useFolderKind } from './support/folder-kind.js';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { clean, link, verify } from '../src/index.js';
import { onPause, type PausePoint } from '../src/core/fs/pause.js';
import { hashTarget } from '../src/core/records.js';
import type { Report } from '../src/core/types.js';
import { appMediaAsNobody, asNobody, NOBODY, skipUnlessNobody } from './support/nobody.js';
import {
  appMedia,
  exists,
  gulp,
  installPackage,
  isLink,
  jsonReport,
  linkedInProcess,
  makeProject,
  removeTempDirs,
  snapshot,
  tempDir,
  writeTree,
} from './support/project.js';

after(removeTempDirs);

const MEDIA = 'public/media';
const RECORDS = '.app-media.json';
const mediaOf = (root: string): string => path.join(root, MEDIA);
const sourceOf = (root: string, name: string): string => path.join(root, 'apps', name, 'app_media', name);

/** The run's temporary names at the top of mediaRoot (a copy's private folder, the staging folder). */
function tempsIn(root: string): string[] {
  return fs.readdirSync(mediaOf(root)).filter((name) => name.startsWith('.app-media-tmp-'));
}

/** The private folder a new copy of `app` is being built in (there only while that copy runs). */
function buildingCopy(root: string, app = 'blog'): string {
  return path.join(mediaOf(root), tempsIn(root).find((name) => name.endsWith(`-${app}`)) as string);
}

/** What a racing process does: `at` moved to `aside`, and a link to `target` put in its place. */
function swapForLink(at: string, aside: string, target: string): void {
  fs.renameSync(at, aside);
  fs.symlinkSync(target, at);
}

function readRecords(root: string): { tool: string; version: number; entries: Record<string, unknown> } {
  return JSON.parse(fs.readFileSync(path.join(mediaOf(root), RECORDS), 'utf8')) as ReturnType<typeof readRecords>;
}

function writeRecords(root: string, records: unknown): void {
  fs.writeFileSync(path.join(mediaOf(root), RECORDS), `${JSON.stringify(records, null, 1)}\n`);
}

/** `[size, whole-ms mtime]` of every file below `dir`, as a copy record lists them. */
function factsOf(dir: string): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [rel, entry] of snapshot(dir)) {
    if (entry.type !== 'file') continue;
    const stat = fs.statSync(path.join(dir, rel));
    out[rel] = [stat.size, Math.round(stat.mtimeMs)];
  }
  return out;
}

/** Everything of the project but mediaRoot (and public/, which a run may create): what no run may change. */
function outside(root: string): Map<string, unknown> {
  return new Map([...snapshot(root, { skip: (rel) => rel === MEDIA })].filter(([rel]) => rel !== 'public'));
}

/** A copy-mode project of these apps; `files`: more files under the root. */
function copyProject(
  apps: string[],
  extra: Record<string, unknown> = {},
  files: Record<string, string | Buffer> = {},
): string {
  return makeProject({
    apps,
    files,
    config: { mediaRoot: MEDIA, mode: 'copy', apps: apps.map((name) => `./apps/${name}`), ...extra },
  });
}

/** A pid no process has now: one that just ended. */
function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
  );
}

/** What a killed run leaves so that the next writing run sweeps: its lock, with its process gone. */
function killedRunLock(root: string): string {
  const token = randomBytes(8).toString('hex');
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 16);
  fs.writeFileSync(path.join(mediaOf(root), '.app-media.lock'), `${JSON.stringify({ pid: deadPid(), host, token })}\n`);
  return token;
}

function statusOf(report: Report, name: string): string | undefined {
  return report.apps.find((app) => app.name === name)?.status;
}

/** Runs `act` once, the `nth` time (1-based) the run passes `point` (for `detail`, if given). */
function pauseOnce(
  point: PausePoint,
  act: (detail: string) => void,
  nth = 1,
  detail?: (value: string) => boolean,
): { fired: () => boolean } {
  let count = 0;
  let fired = false;
  onPause((at, value) => {
    if (at !== point || (detail && !detail(value)) || fired) return;
    if (++count < nth) return;
    fired = true;
    act(value);
  });
  return { fired: () => fired };
}

afterEach(() => onPause(undefined));

// ---------------------------------------------------------------------------

describe('hostile mediaRoot: forged and corrupt records', function () {
  this.timeout(30_000);

  it(
    'a copy record named "../../apps/blog/app_media/blog" listing the sources\' real sizes and times: ' +
      'gulp media:clean deletes none of them and names the entry it ignored',
    async () => {
      const root = copyProject(['blog']);
      await linkedInProcess(root);
      const records = readRecords(root);
      records.entries['../../apps/blog/app_media/blog'] = {
        kind: 'copy',
        source: 'apps/blog/app_media/blog',
        files: factsOf(sourceOf(root, 'blog')),
      };
      writeRecords(root, records);
      const before = outside(root);
      const run = gulp(root, ['media:clean']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.match(
        new RegExp(
          'the records file lists 1 entry that app-media does not take \\(nothing was done with it\\): ' +
            '"\\.\\./\\.\\./apps/blog/app_media/blog" \\(not an app name\\)',
        ),
      );
      expect(run.output).to.not.match(/removed\s+\.\./);
      expect(outside(root)).to.deep.equal(before);
    },
  );

  it(
    'a copy record named ".." listing every project file (.env, the config, package.json), ' +
      'clean --force: nothing outside mediaRoot is deleted',
    async () => {
      const root = copyProject(['blog'], {}, { '.env': 'SECRET=1\n', 'package.json': '{"name":"site"}\n' });
      await linkedInProcess(root);
      const records = readRecords(root);
      const files: Record<string, [number, number]> = {};
      for (const [rel, facts] of Object.entries(factsOf(root)))
        if (!rel.startsWith('public/') && !rel.startsWith('node_modules/')) files[rel] = facts;
      records.entries['..'] = { kind: 'copy', source: '.', files };
      records.entries['../..'] = { kind: 'copy', source: '.', files };
      writeRecords(root, records);
      const before = outside(root);
      const run = appMedia(root, ['clean', '--force']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.match(/lists 2 entries that app-media does not take/);
      expect(outside(root)).to.deep.equal(before);
      expect(fs.readFileSync(path.join(root, '.env'), 'utf8')).to.equal('SECRET=1\n');
    },
  );

  it(
    'a link record named "../../node_modules/.bin/gulp" with the hash of its real text: ' +
      'media:link does not prune it',
    async () => {
      const root = makeProject({ apps: ['blog'] });
      fs.mkdirSync(path.join(root, 'node_modules', '.bin'), { recursive: true });
      const bin = path.join(root, 'node_modules', '.bin', 'gulp');
      fs.symlinkSync('../gulp/bin/gulp.js', bin);
      await linkedInProcess(root);
      const records = readRecords(root);
      records.entries['../../node_modules/.bin/gulp'] = {
        kind: 'symlink',
        target: hashTarget('../gulp/bin/gulp.js'),
        source: 'x',
      };
      writeRecords(root, records);
      const run = gulp(root, ['media:link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.not.match(/pruned/);
      expect(fs.readlinkSync(bin)).to.equal('../gulp/bin/gulp.js');
    },
  );

  it(
    'a copy record "../../victim" with no files: no writing run enters victim/ (its ' +
      '.app-media-tmp-* files and folders stay)',
    async () => {
      const root = copyProject(
        ['blog', 'shop'],
        {},
        {
          'victim/.app-media-tmp-notes.txt': 'mine',
          'victim/.app-media-tmp-drafts/a.txt': 'draft',
          'victim/keep.txt': 'keep',
        },
      );
      await linkedInProcess(root);
      const records = readRecords(root);
      records.entries['../../victim'] = { kind: 'copy', source: 'x', files: {} };
      writeRecords(root, records);
      killedRunLock(root); // so the run sweeps
      fs.writeFileSync(path.join(sourceOf(root, 'blog'), 'css', 'new.css'), 'new'); // so it writes
      const victim = snapshot(path.join(root, 'victim'));
      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(snapshot(path.join(root, 'victim'))).to.deep.equal(victim);
      expect(
        Object.keys(readRecords(root).entries),
        'the forged entry is dropped when the records are written',
      ).to.deep.equal(['blog', 'shop']);
    },
  );

  const notOurs: Array<[string, string | Buffer]> = [
    ['notes of yours (not JSON)', 'my notes about the media folder\n'],
    ['JSON of another tool', '{"tool":"other","entries":{}}\n'],
    ['a newer version of the format', '{"tool":"gulp-app-media","version":99,"entries":{}}\n'],
  ];
  for (const [title, text] of notOurs) {
    it(
      `a records file that is ${title}: APP_MEDIA_FOREIGN_RECORDS from link, clean and verify; ` +
        `the file is never written over`,
      async () => {
        const root = copyProject(['blog']);
        fs.mkdirSync(mediaOf(root), { recursive: true });
        fs.writeFileSync(path.join(mediaOf(root), RECORDS), text);
        const before = snapshot(root);
        for (const args of [['link'], ['clean', '--force'], ['verify']]) {
          const run = appMedia(root, args);
          expect(run.status, `${args.join(' ')}: ${run.output}`).to.equal(1);
          expect(run.stderr).to.match(
            /^APP_MEDIA_FOREIGN_RECORDS: public\/media\/\.app-media\.json: this is not app-media's records file/,
          );
          expect(run.stderr).to.match(/hint: app-media never writes over it/);
        }
        expect(snapshot(root)).to.deep.equal(before);
      },
    );
  }

  it(
    "a records file that is a link (to a records file of the tool's elsewhere), a FIFO or a folder: " +
      'APP_MEDIA_FOREIGN_RECORDS, nothing followed, no hang',
    async () => {
      const root = copyProject(['blog']);
      await linkedInProcess(root);
      const real = path.join(mediaOf(root), RECORDS);
      const elsewhere = path.join(root, 'elsewhere.json');
      fs.renameSync(real, elsewhere);
      const kinds: Array<[string, () => void]> = [
        ['a link', () => fs.symlinkSync(elsewhere, real)],
        ['a FIFO', () => expect(spawnSync('mkfifo', [real]).status).to.equal(0)],
        ['a folder', () => fs.mkdirSync(real)],
      ];
      for (const [kind, make] of kinds) {
        make();
        const before = snapshot(root);
        const run = appMedia(root, ['clean', '--force']);
        expect(run.status, `${kind}: ${run.output}`).to.equal(1);
        expect(run.stderr, kind).to.match(/APP_MEDIA_FOREIGN_RECORDS/);
        expect(snapshot(root), kind).to.deep.equal(before);
        fs.rmSync(real, { recursive: true });
      }
    },
  );
});

// ---------------------------------------------------------------------------

describe('hostile mediaRoot: another user can write it (nobody, with setpriv)', function () {
  this.timeout(60_000);
  before(function () {
    skipUnlessNobody(this);
  });

  /** A project whose mediaRoot (as root's link made it) is then given to nobody. */
  async function sharedWithNobody(apps: string[], extra: Record<string, unknown> = {}): Promise<string> {
    const root = copyProject(apps, extra);
    await linkedInProcess(root);
    for (let dir = root; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const mode = fs.statSync(dir).mode;
      if ((mode & 0o005) !== 0o005 && !(mode & 0o1000)) fs.chmodSync(dir, (mode & 0o7777) | 0o005);
    }
    fs.chownSync(mediaOf(root), NOBODY, NOBODY);
    return root;
  }

  it(
    "mediaRoot owned by nobody: root's link and clean --force refuse (APP_MEDIA_SHARED_ROOT) " +
      'before writing a byte; verify still reads it',
    async () => {
      const root = await sharedWithNobody(['blog']);
      fs.writeFileSync(path.join(sourceOf(root, 'blog'), 'css', 'new.css'), 'new');
      const before = snapshot(root);
      for (const args of [['media:link'], ['media:clean', '--force']]) {
        const run = gulp(root, args);
        expect(run.status, run.output).to.equal(1);
        expect(run.output).to.match(
          new RegExp(
            'APP_MEDIA_SHARED_ROOT: app-media\\.config\\.json mediaRoot: refusing to write: mediaRoot, ' +
              'public/media, can be written by user nobody \\(uid 65534\\)',
          ),
        );
        expect(run.output).to.match(/hint: run the task as that user \(for example: sudo -u nobody npx app-media/);
      }
      expect(snapshot(root)).to.deep.equal(before);
      const checked = appMedia(root, ['verify']);
      expect(checked.output, 'verify writes nothing: it is not refused').to.not.match(/APP_MEDIA_SHARED_ROOT/);
      // nobody, who owns it, may run the task.
      const own = appMediaAsNobody(root, ['link']);
      expect(own.output).to.not.match(/APP_MEDIA_SHARED_ROOT/);
    },
  );

  for (const [title, extra] of [
    ['', {}],
    [' (sharedMediaRoot: true shares mediaRoot alone)', { sharedMediaRoot: true }],
  ] as const) {
    it(
      `a folder on the way to mediaRoot (public/) writable by nobody: refused, ` + `naming that folder${title}`,
      async () => {
        const root = copyProject(['blog'], extra);
        fs.mkdirSync(path.join(root, 'public'));
        fs.chownSync(path.join(root, 'public'), NOBODY, NOBODY);
        const run = appMedia(root, ['link']);
        expect(run.status, run.output).to.equal(1);
        expect(run.stderr).to.match(
          /refusing to write: a folder on the way to mediaRoot, public, can be written by user nobody/,
        );
        expect(exists(mediaOf(root))).to.equal(false);
      },
    );
  }

  it(
    "mediaRoot writable by a group that is not the runner's, or by everyone: refused; " +
      "by the runner's own group: accepted",
    async () => {
      const root = copyProject(['blog']);
      fs.mkdirSync(mediaOf(root), { recursive: true });
      const cases: Array<[number, number, RegExp | null]> = [
        [NOBODY, 0o775, /can be written by group nogroup \(gid 65534\)/],
        [0, 0o777, /can be written by everyone/],
        [0, 0o1777, /can be written by everyone/],
        [0, 0o775, null],
      ];
      for (const [gid, mode, refused] of cases) {
        fs.chownSync(mediaOf(root), 0, gid);
        fs.chmodSync(mediaOf(root), mode);
        const run = appMedia(root, ['link']);
        if (refused) {
          expect(run.status, run.output).to.equal(1);
          expect(run.stderr, `gid ${gid} mode ${mode.toString(8)}`).to.match(refused);
        } else {
          expect(run.status, run.output).to.equal(0);
        }
      }
    },
  );

  it(
    "sharedMediaRoot: true: a records file nobody wrote (claiming a folder of root's in mediaRoot, " +
      'with its real facts) is APP_MEDIA_FOREIGN_RECORDS; nothing is deleted',
    async () => {
      const root = await sharedWithNobody(['blog'], { sharedMediaRoot: true });
      writeTree(mediaOf(root), { 'archive/2019/a.jpg': 'old upload', 'archive/2019/b.jpg': 'another' });
      const records = readRecords(root);
      records.entries['archive'] = {
        kind: 'copy',
        source: 'apps/blog/app_media/blog',
        files: factsOf(path.join(mediaOf(root), 'archive')),
      };
      const forged = path.join(root, 'forged.json');
      fs.writeFileSync(forged, `${JSON.stringify(records)}\n`);
      fs.chmodSync(root, 0o755);
      fs.chmodSync(forged, 0o644);
      const moved = asNobody(root, [
        'sh',
        '-c',
        `cp ${forged} public/media/.forged && mv public/media/.forged public/media/${RECORDS}`,
      ]);
      expect(moved.status, moved.output).to.equal(0);
      expect(fs.statSync(path.join(mediaOf(root), RECORDS)).uid).to.equal(NOBODY);
      const before = snapshot(mediaOf(root));
      const run = appMedia(root, ['clean', '--force']);
      expect(run.status, run.output).to.equal(1);
      expect(run.stderr).to.match(
        new RegExp(
          'APP_MEDIA_FOREIGN_RECORDS: public/media/\\.app-media\\.json: ' +
            "this is not app-media's records file \\(it belongs to user nobody \\(uid 65534\\)",
        ),
      );
      expect(snapshot(mediaOf(root))).to.deep.equal(before);
    },
  );

  it(
    "sharedMediaRoot: true: nobody swaps the copy being cleaned for a link to the app's sources " +
      'once deletion started: no source file is deleted',
    async () => {
      const root = await sharedWithNobody(['blog'], { sharedMediaRoot: true });
      writeTree(
        sourceOf(root, 'blog'),
        Object.fromEntries(Array.from({ length: 300 }, (_, index) => [`bulk/f${index}.css`, `.f${index} {}`])),
      );
      await linkedInProcess(root);
      const sources = snapshot(sourceOf(root, 'blog'));
      const swap = pauseOnce(
        'delete',
        () => {
          const raced = asNobody(root, [
            'sh',
            '-c',
            'mv public/media/blog public/media/.taken && ln -s ../../apps/blog/app_media/blog public/media/blog',
          ]);
          expect(raced.status, raced.output).to.equal(0);
        },
        5,
      );
      const report = await clean({ cwd: root });
      expect(swap.fired()).to.equal(true);
      expect(snapshot(sourceOf(root, 'blog')), 'every source file is there, unchanged').to.deep.equal(sources);
      expect(statusOf(report, 'blog')).to.equal('conflict');
      expect(isLink(path.join(mediaOf(root), 'blog')), "nobody's link stays").to.equal(true);
    },
  );

  it(
    "sharedMediaRoot: true, mediaRoot sticky and open to all (as /tmp): a link another user put at a killed run's " +
      'temporary name, leading to a folder of the runner: the sweep leaves the link, and not a file behind it goes',
    () => {
      // Before: the sweep gave the name to del, whose recursive rm, refused the unlink of someone else's link
      // in a sticky folder (EPERM), took it for a folder and emptied the folder it led to.
      const root = copyProject(['blog'], { sharedMediaRoot: true });
      for (let dir = root; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        const mode = fs.statSync(dir).mode;
        if ((mode & 0o005) !== 0o005 && !(mode & 0o1000)) fs.chmodSync(dir, (mode & 0o7777) | 0o005);
      }
      const media = mediaOf(root);
      fs.mkdirSync(media, { recursive: true });
      fs.chmodSync(media, 0o1777);
      const victim = path.join(root, 'nobody-files');
      writeTree(victim, { 'keep.txt': 'keep', 'sub/more.txt': 'more' });
      for (const rel of ['', 'keep.txt', 'sub', 'sub/more.txt']) fs.chownSync(path.join(victim, rel), NOBODY, NOBODY);
      const token = killedRunLock(root);
      fs.chownSync(path.join(media, '.app-media.lock'), NOBODY, NOBODY);
      const planted = `.app-media-tmp-${token}-0deadbeef`;
      fs.symlinkSync(victim, path.join(media, planted));
      fs.lchownSync(path.join(media, planted), 4242, 4242);

      const run = appMediaAsNobody(root, ['link']);
      expect(fs.readFileSync(path.join(victim, 'keep.txt'), 'utf8'), run.output).to.equal('keep');
      expect(fs.readFileSync(path.join(victim, 'sub/more.txt'), 'utf8'), run.output).to.equal('more');
      expect(
        fs.lstatSync(path.join(media, planted)).isSymbolicLink(),
        'the link another user put there stays',
      ).to.equal(true);
      expect(run.output).to.contain(`left public/media/${planted} (at the name of an interrupted run's temporary file`);
      expect(run.status, run.output).to.equal(0);
    },
  );

  it(
    'a mediaRoot the runner cannot read: verify reports error (EACCES), not "missing, ' + 'nothing is published"',
    async () => {
      const root = copyProject(['blog']);
      await linkedInProcess(root);
      fs.chmodSync(root, 0o755);
      fs.chmodSync(mediaOf(root), 0o700);
      const run = appMediaAsNobody(root, ['verify', '--json', '--silent']);
      expect(run.status, run.output).to.equal(1);
      // The records file cannot be read: the run fails as a whole, naming the call and the file.
      expect(JSON.parse(run.stdout)).to.deep.include({ task: 'verify' });
      expect(run.stdout).to.match(/"code": "EACCES"/);
      expect(run.stdout).to.match(/public\/media/);
      expect(run.stdout).to.not.match(/missing/);
    },
  );
});

// ---------------------------------------------------------------------------

for (const kind of FOLDER_KINDS) {
  describe(`hostile mediaRoot: swaps during a run, at the exact moment (folders held by ${kind})`, function () {
    this.timeout(30_000);
    useFolderKind(kind);

    /** A folder outside mediaRoot with a file in it, and its snapshot: what a swapped-in link leads to. */
    function victimOf(root: string): { dir: string; before: Map<string, unknown> } {
      const dir = path.join(root, 'victim');
      writeTree(dir, { 'keep.txt': 'keep', 'css/blog.css': "not the app's", '.app-media-tmp-x': 'x' });
      return { dir, before: snapshot(dir) };
    }

    it(
      'the private folder a new copy is built in, swapped for a link to another folder mid-copy: ' +
        'nothing is written or deleted there, nothing is published',
      async () => {
        const root = copyProject(['blog']);
        const victim = victimOf(root);
        const swap = pauseOnce(
          'write',
          () => {
            swapForLink(buildingCopy(root), path.join(mediaOf(root), 'stolen'), victim.dir);
          },
          2,
        );
        const report = await link({ cwd: root });
        expect(swap.fired()).to.equal(true);
        expect(snapshot(victim.dir)).to.deep.equal(victim.before);
        expect(['error', 'conflict']).to.include(statusOf(report, 'blog'));
        expect(exists(path.join(mediaOf(root), 'blog'))).to.equal(false);
      },
    );

    it(
      'a new copy swapped, just before it is put in place, for a link to another folder: ' +
        'not put in place, the folder untouched',
      async () => {
        const root = copyProject(['blog']);
        const victim = victimOf(root);
        const swap = pauseOnce('place', () => {
          swapForLink(buildingCopy(root), path.join(mediaOf(root), 'stolen'), victim.dir);
        });
        const report = await link({ cwd: root });
        expect(swap.fired()).to.equal(true);
        expect(snapshot(victim.dir)).to.deep.equal(victim.before);
        expect(statusOf(report, 'blog')).to.not.equal('copied');
        expect(
          isLink(path.join(mediaOf(root), 'blog')) && fs.readlinkSync(path.join(mediaOf(root), 'blog')) === victim.dir,
          'the link is not published as blog',
        ).to.equal(false);
      },
    );

    it(
      // A run killed while it is there leaves a folder the next run's sweep can prove its own (fs-primitives: the
      // sweep leaves a folder at a killed run's name that is not private).
      'a new copy is private (0700) for as long as it is at its temporary name, up to the moment it is put in ' +
        'place; in place it is readable',
      async () => {
        const root = copyProject(['blog']);
        let modeAtPlace = -1;
        const look = pauseOnce('place', () => {
          modeAtPlace = fs.statSync(buildingCopy(root)).mode & 0o777;
        });
        const report = await link({ cwd: root });
        expect(look.fired()).to.equal(true);
        expect(statusOf(report, 'blog')).to.equal('copied');
        expect(modeAtPlace.toString(8)).to.equal('700');
        expect((fs.statSync(path.join(mediaOf(root), 'blog')).mode & 0o777).toString(8)).to.equal(
          (0o755 & ~process.umask()).toString(8),
        );
      },
    );

    it(
      "clean of a 2,000-file copy, swapped for a link to the app's sources once deletion started: " +
        'no source file is deleted',
      async () => {
        const root = copyProject(['blog']);
        writeTree(
          sourceOf(root, 'blog'),
          Object.fromEntries(
            Array.from({ length: 2000 }, (_, index) => [`bulk/d${index % 20}/f${index}.css`, `.f${index} {}`]),
          ),
        );
        await linkedInProcess(root);
        const sources = snapshot(sourceOf(root, 'blog'));
        const swap = pauseOnce(
          'delete',
          () => {
            fs.renameSync(path.join(mediaOf(root), 'blog'), path.join(mediaOf(root), 'moved'));
            fs.symlinkSync(sourceOf(root, 'blog'), path.join(mediaOf(root), 'blog'));
          },
          100,
        );
        const report = await clean({ cwd: root });
        expect(swap.fired()).to.equal(true);
        expect(snapshot(sourceOf(root, 'blog')), 'every source file is there, unchanged').to.deep.equal(sources);
        expect(['error', 'conflict']).to.include(statusOf(report, 'blog'));
        expect(fs.readlinkSync(path.join(mediaOf(root), 'blog'))).to.equal(sourceOf(root, 'blog'));
      },
    );

    for (const [nth, when] of [
      [1, 'before its first file is deleted'],
      [2, 'after its first file is deleted'],
    ] as const) {
      it(
        `clean: a folder of the copy swapped ${when}, for a link to a twin outside (same names, ` +
          `sizes and times): nothing outside is deleted`,
        async () => {
          const root = copyProject(['blog']);
          writeTree(
            sourceOf(root, 'blog'),
            Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`css/f${index}.css`, `.f${index} {}`])),
          );
          await linkedInProcess(root);
          const css = path.join(mediaOf(root), 'blog', 'css');
          const twin = path.join(root, 'outside', 'css');
          // Times kept: every file there passes the size and time re-check before a delete, so only
          // the refusal to go through a link keeps them (issue 29).
          fs.cpSync(css, twin, { recursive: true, preserveTimestamps: true });
          const outside = snapshot(twin);
          const swap = pauseOnce(
            'delete',
            () => {
              fs.renameSync(css, path.join(mediaOf(root), 'blog', 'css-moved'));
              fs.symlinkSync(twin, css);
            },
            nth,
            (detail) => detail.startsWith('blog/css/'),
          );
          const report = await clean({ cwd: root });
          expect(swap.fired()).to.equal(true);
          expect(snapshot(twin), 'the twin outside is untouched').to.deep.equal(outside);
          expect(fs.readlinkSync(css), 'the link is left as it is').to.equal(twin);
          // Held by descriptor, the folder moved aside is still the one being emptied: the tool's
          // files all go and the run may say removed; otherwise it stops (error or conflict).
          expect(['removed', 'error', 'conflict']).to.include(statusOf(report, 'blog'));
          if (statusOf(report, 'blog') === 'removed') {
            const files = [...snapshot(path.join(mediaOf(root), 'blog')).values()].filter(
              (entry) => entry.type === 'file',
            );
            expect(files, 'removed: no file of the copy is left').to.deep.equal([]);
          }
        },
      );
    }

    it(
      'a sync: the copy swapped for a link to another folder after its first write: ' + 'nothing is written there',
      async () => {
        const root = copyProject(['blog']);
        await linkedInProcess(root);
        writeTree(sourceOf(root, 'blog'), {
          'css/blog.css': '.changed { a: 1 }',
          'css/more.css': 'more',
          'js/blog.js': 'changed();',
        });
        const victim = victimOf(root);
        const swap = pauseOnce(
          'write',
          () => {
            fs.renameSync(path.join(mediaOf(root), 'blog'), path.join(mediaOf(root), 'moved'));
            fs.symlinkSync(victim.dir, path.join(mediaOf(root), 'blog'));
          },
          2,
        );
        const report = await link({ cwd: root });
        expect(swap.fired()).to.equal(true);
        expect(snapshot(victim.dir)).to.deep.equal(victim.before);
        expect(['error', 'conflict']).to.include(statusOf(report, 'blog'));
      },
    );

    it(
      'a sync: a folder of the copy swapped for a link to another folder after the first write: ' +
        'nothing is written there',
      async () => {
        const root = copyProject(['blog']);
        await linkedInProcess(root);
        writeTree(sourceOf(root, 'blog'), { 'css/a.css': 'a', 'css/blog.css': '.changed { a: 1 }', 'css/z.css': 'z' });
        const victim = victimOf(root);
        const swap = pauseOnce(
          'write',
          () => {
            fs.renameSync(path.join(mediaOf(root), 'blog', 'css'), path.join(mediaOf(root), 'blog', 'css-moved'));
            fs.symlinkSync(victim.dir, path.join(mediaOf(root), 'blog', 'css'));
          },
          2,
          (detail) => detail.startsWith('blog/css/'),
        );
        const report = await link({ cwd: root });
        expect(swap.fired()).to.equal(true);
        expect(snapshot(victim.dir)).to.deep.equal(victim.before);
        expect(['error', 'conflict'], "not reported as copied: what is at css/ now is the racer's").to.include(
          statusOf(report, 'blog'),
        );
      },
    );

    it(
      'a new copy: a folder of the private folder it is built in swapped for a link to another folder: ' +
        'nothing is written there',
      async () => {
        const root = copyProject(['blog']);
        writeTree(sourceOf(root, 'blog'), { 'css/a.css': 'a', 'css/z.css': 'z' });
        const victim = victimOf(root);
        const swap = pauseOnce(
          'write',
          () => {
            const building = buildingCopy(root);
            swapForLink(path.join(building, 'css'), path.join(building, 'css-moved'), victim.dir);
          },
          2,
          (detail) => detail.startsWith('blog/css/'),
        );
        const report = await link({ cwd: root });
        expect(swap.fired()).to.equal(true);
        expect(snapshot(victim.dir)).to.deep.equal(victim.before);
        expect(['error', 'conflict']).to.include(statusOf(report, 'blog'));
        expect(exists(path.join(mediaOf(root), 'blog'))).to.equal(false);
      },
    );

    it('a big file (past the size copied at once) is copied whole, into a new copy and when it changes', async () => {
      const big = (fill: number): Buffer => Buffer.alloc(600 * 1024, fill);
      const root = copyProject(['blog'], {}, { 'apps/blog/app_media/blog/img/big.bin': big(1) });
      const copied = path.join(mediaOf(root), 'blog', 'img', 'big.bin');
      expect(statusOf(await link({ cwd: root }), 'blog')).to.equal('copied');
      expect(fs.readFileSync(copied).equals(big(1)), 'the new copy holds it whole').to.equal(true);
      fs.writeFileSync(path.join(sourceOf(root, 'blog'), 'img', 'big.bin'), big(2));
      expect(statusOf(await link({ cwd: root }), 'blog')).to.equal('copied');
      expect(fs.readFileSync(copied).equals(big(2)), 'the sync wrote it whole').to.equal(true);
      expect(tempsIn(root)).to.deep.equal([]);
    });

    it(
      "the tool's own link, swapped for a file of yours right before it is removed: " + 'your file stays where it was',
      async () => {
        const root = makeProject({ apps: ['blog'], gulp: false });
        await linkedInProcess(root, { mode: 'symlink' });
        const swap = pauseOnce('unlink', () => {
          fs.unlinkSync(path.join(mediaOf(root), 'blog'));
          fs.writeFileSync(path.join(mediaOf(root), 'blog'), 'yours');
        });
        const report = await clean({ cwd: root });
        expect(swap.fired()).to.equal(true);
        expect(fs.readFileSync(path.join(mediaOf(root), 'blog'), 'utf8')).to.equal('yours');
        expect(statusOf(report, 'blog')).to.equal('conflict');
      },
    );
  });
}

// ---------------------------------------------------------------------------

describe("hostile mediaRoot: what is read from an app's media", function () {
  this.timeout(30_000);

  it(
    "copies carry no privilege: a 6755 file of nobody's becomes 0755 (and sticky, " +
      'setgid folders plain) when root copies it',
    async function () {
      if (process.getuid?.() !== 0) this.skip();
      const root = makeProject({ apps: ['blog'], config: { mediaRoot: MEDIA, apps: ['./apps/blog'] } });
      const tool = path.join(sourceOf(root, 'blog'), 'bin', 'tool');
      writeTree(sourceOf(root, 'blog'), { 'bin/tool': '#!/bin/sh\nid -u\n', 'bin/plain.txt': 'plain' });
      fs.chownSync(tool, NOBODY, NOBODY);
      fs.chmodSync(tool, 0o6755);
      fs.chmodSync(path.join(sourceOf(root, 'blog'), 'bin', 'plain.txt'), 0o1666);
      const run = gulp(root, ['media:link', '--mode', 'copy']);
      expect(run.status, run.output).to.equal(0);
      const copied = fs.statSync(path.join(mediaOf(root), 'blog', 'bin', 'tool'));
      expect(copied.mode & 0o7777, 'no setuid, no setgid').to.equal(0o755);
      expect(
        fs.statSync(path.join(mediaOf(root), 'blog', 'bin', 'plain.txt')).mode & 0o7777,
        'no sticky bit, no write for others',
      ).to.equal(0o644);
      // A second run finds nothing to change (the copy's mode is what a copy gets).
      const again = appMedia(root, ['link', '--mode', 'copy']);
      expect(again.stdout).to.match(/1 up-to-date/);
    },
  );

  it(
    'a source file swapped for a link to a private file mid-copy: not followed, nothing of it is published, ' +
      'the app is error; the next run converges',
    async () => {
      const root = copyProject(['blog']);
      const secret = path.join(root, 'private', 'secret.txt');
      writeTree(root, { 'private/secret.txt': 'THE SECRET' });
      fs.chmodSync(path.join(root, 'private'), 0o700);
      writeTree(sourceOf(root, 'blog'), { 'css/z.css': '.z {}' });
      const z = path.join(sourceOf(root, 'blog'), 'css', 'z.css');
      const swap = pauseOnce('write', () => {
        fs.unlinkSync(z);
        fs.symlinkSync(secret, z);
      });
      const report = await link({ cwd: root });
      expect(swap.fired()).to.equal(true);
      expect(statusOf(report, 'blog')).to.equal('error');
      expect(report.apps[0]?.reason).to.match(
        /css\/z\.css was replaced or removed while the run was copying \(ELOOP\); nothing it leads to was copied/,
      );
      for (const [rel, entry] of snapshot(mediaOf(root))) {
        if (entry.type === 'file')
          expect(fs.readFileSync(path.join(mediaOf(root), rel), 'utf8'), rel).to.not.contain('THE SECRET');
      }
      fs.unlinkSync(z);
      fs.writeFileSync(z, '.z { restored: 1 }');
      const again = await link({ cwd: root });
      expect(statusOf(again, 'blog')).to.equal('copied');
      expect(fs.readFileSync(path.join(mediaOf(root), 'blog', 'css', 'z.css'), 'utf8')).to.equal('.z { restored: 1 }');
    },
  );

  // A big file is copied on the thread pool, under a private name; the error of that copy must stop
  // the file, as a small file's does. The runner's own process takes the private name first, so
  // the copy fails (EEXIST) and the name holds someone else's bytes: nothing of them is published.
  for (const when of ['a new copy', 'an update'] as const) {
    it(
      `a big file's copy on the thread pool fails (${when}: its private name taken by the runner's own process): ` +
        `nothing of the other bytes is published, the app is not copied, the next run converges`,
      async () => {
        const root = copyProject(['blog']);
        const big = Buffer.alloc(600 * 1024, 'b');
        if (when === 'an update') {
          await linkedInProcess(root);
          writeTree(sourceOf(root, 'blog'), { 'img/big.bin': big });
        } else writeTree(sourceOf(root, 'blog'), { 'img/big.bin': big });
        const planted = Buffer.alloc(600 * 1024, 'X');
        const take = pauseOnce(
          'write',
          () => {
            const temps = tempsIn(root);
            expect(temps, 'the private folder of the copy').to.have.length(1);
            const folder = path.join(mediaOf(root), temps[0] as string);
            // A new copy writes a big file at .pooled-0 of its private folder; an update stages it as <n>-blog-big.bin.
            const name = when === 'a new copy' ? '.pooled-0' : '0-blog-big.bin';
            fs.writeFileSync(path.join(folder, name), planted);
          },
          1,
          (detail) => detail === 'blog/img/big.bin',
        );
        const report = await link({ cwd: root });
        expect(take.fired()).to.equal(true);
        // A new copy takes an EEXIST in its private folder for its entry appearing (conflict); an update names it.
        if (when === 'a new copy') expect(statusOf(report, 'blog')).to.equal('conflict');
        else expect(report.apps[0]?.reason, report.apps[0]?.status).to.match(/EEXIST/);
        const published = path.join(mediaOf(root), 'blog', 'img', 'big.bin');
        if (exists(published)) expect(fs.readFileSync(published).equals(planted), 'the planted bytes').to.equal(false);
        expect(tempsIn(root)).to.deep.equal([]);
        const again = await link({ cwd: root });
        expect(statusOf(again, 'blog')).to.equal('copied');
        expect(fs.readFileSync(published).equals(big)).to.equal(true);
      },
    );
  }

  it('a source file swapped for a FIFO mid-copy: the run does not hang, the app is error', async () => {
    const root = copyProject(['blog']);
    await linkedInProcess(root);
    writeTree(sourceOf(root, 'blog'), { 'css/a.css': 'a', 'css/z.css': 'z' });
    const z = path.join(sourceOf(root, 'blog'), 'css', 'z.css');
    const swap = pauseOnce('write', () => {
      fs.unlinkSync(z);
      expect(spawnSync('mkfifo', [z]).status).to.equal(0);
    });
    const report = await link({ cwd: root });
    expect(swap.fired()).to.equal(true);
    expect(statusOf(report, 'blog')).to.equal('error');
    expect(report.apps[0]?.reason).to.match(/css\/z\.css is no longer a regular file/);
  });

  for (const mode of ['symlink', 'copy']) {
    it(
      `a media folder that is a link out of its app (${mode} mode): escape from link (exit 1) ` +
        `and verify; nothing of it is published`,
      async () => {
        const root = makeProject({
          apps: ['blog'],
          config: { mediaRoot: MEDIA, mode, apps: ['./apps/blog', './apps/evil'] },
          files: { 'private/secret.txt': 'THE SECRET', 'apps/evil/README': 'evil' },
        });
        fs.mkdirSync(path.join(root, 'apps/evil/app_media'));
        fs.symlinkSync(path.join(root, 'private'), path.join(root, 'apps/evil/app_media/evil'));
        const run = gulp(root, ['media:link']);
        expect(run.status, run.output).to.equal(1);
        expect(run.output).to.match(/escape\s+evil\s+public\/media\/evil/);
        expect(run.output).to.match(
          /app_media\/evil\/ leads outside the app's folder \(to .*private\): nothing of it is published/,
        );
        expect(exists(path.join(mediaOf(root), 'evil'))).to.equal(false);
        expect(fs.statSync(path.join(mediaOf(root), 'blog')).isDirectory()).to.equal(true);
        const checked = appMedia(root, ['verify', '--json', '--silent']);
        expect(checked.status).to.equal(1);
        expect(jsonReport(checked).apps.map((app) => [app['name'], app['status']])).to.deep.equal([
          ['blog', 'ok'],
          ['evil', 'escape'],
        ]);
      },
    );
  }

  it(
    'discover: true, a package whose media folder is a link to a private folder: escape; ' +
      "the tool's own earlier link for it is removed",
    async () => {
      const root = makeProject({
        apps: [],
        config: { mediaRoot: MEDIA, discover: true },
        files: { 'private/secret.txt': 'THE SECRET' },
      });
      fs.writeFileSync(
        path.join(root, 'package.json'),
        JSON.stringify({ name: 'site', dependencies: { evilpkg: '1.0.0' } }),
      );
      const dir = installPackage(root, 'evilpkg', { 'app_media/evilpkg/css/ok.css': 'ok' }, { appMedia: {} });
      await linkedInProcess(root);
      expect(isLink(path.join(mediaOf(root), 'evilpkg'))).to.equal(true);
      fs.rmSync(path.join(dir, 'app_media', 'evilpkg'), { recursive: true });
      fs.symlinkSync(path.join(root, 'private'), path.join(dir, 'app_media', 'evilpkg'));
      const report = await link({ cwd: root });
      expect(statusOf(report, 'evilpkg')).to.equal('escape');
      expect(report.failed).to.equal(true);
      expect(
        exists(path.join(mediaOf(root), 'evilpkg')),
        'the old link, which would now publish the private folder, is gone',
      ).to.equal(false);
      expect(statusOf(await verify({ cwd: root }), 'evilpkg')).to.equal('escape');
    },
  );

  it('a media folder that is a link to a folder inside its own app is linked as before', async () => {
    const root = makeProject({
      apps: [],
      config: { mediaRoot: MEDIA, apps: ['./apps/blog'] },
      files: { 'apps/blog/src/public/css/blog.css': 'b' },
    });
    fs.mkdirSync(path.join(root, 'apps/blog/app_media'));
    fs.symlinkSync('../src/public', path.join(root, 'apps/blog/app_media/blog'));
    const report = await link({ cwd: root });
    expect(statusOf(report, 'blog')).to.equal('linked');
    expect(fs.readFileSync(path.join(mediaOf(root), 'blog', 'css', 'blog.css'), 'utf8')).to.equal('b');
  });
});

// ---------------------------------------------------------------------------

describe('hostile mediaRoot: names the tool reserves, and yours that look like them', function () {
  this.timeout(30_000);

  it(
    'your .app-media-tmp-notes.txt, .app-media-tmp-drafts/ and .app-media.lock.txt stay through link, ' +
      'clean --force and their sweeps (link mode)',
    async () => {
      const root = makeProject({ apps: ['blog'], gulp: false });
      await linkedInProcess(root, { mode: 'symlink' });
      const yours = {
        '.app-media-tmp-notes.txt': 'notes',
        '.app-media-tmp-drafts/a.txt': 'a',
        '.app-media.lock.txt': 'not a lock',
        '.app-media.lock.0123456789abcdef': 'not a lock either',
      };
      writeTree(mediaOf(root), yours);
      for (const run of [
        () => {
          killedRunLock(root);
          return link({ cwd: root, mode: 'copy' });
        },
        () => {
          killedRunLock(root);
          return clean({ cwd: root, force: true });
        },
      ]) {
        const report = await run();
        expect(report.failed, JSON.stringify(report)).to.equal(false);
        for (const [rel, text] of Object.entries(yours))
          expect(fs.readFileSync(path.join(mediaOf(root), rel), 'utf8'), rel).to.equal(text);
      }
    },
  );

  it(
    'a .app-media.lock of yours (not a lock): APP_MEDIA_FOREIGN_LOCK from a writing run, ' + 'the file left as it is',
    async () => {
      const root = copyProject(['blog']);
      fs.mkdirSync(mediaOf(root), { recursive: true });
      fs.writeFileSync(path.join(mediaOf(root), '.app-media.lock'), 'my lock notes\n');
      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(1);
      expect(run.stderr).to.match(
        new RegExp(
          '^APP_MEDIA_FOREIGN_LOCK: public/media/\\.app-media\\.lock: ' +
            "a file with the name of app-media's lock is there, but it is not one of its locks",
        ),
      );
      expect(fs.readFileSync(path.join(mediaOf(root), '.app-media.lock'), 'utf8')).to.equal('my lock notes\n');
      expect(exists(path.join(mediaOf(root), 'blog'))).to.equal(false);
    },
  );

  it(
    "a link of yours where the tool's copy was, leading to a folder with .app-media-tmp-* files: " +
      'no sweep enters it',
    async () => {
      const root = copyProject(['blog', 'shop']);
      await linkedInProcess(root);
      writeTree(root, { 'outside/.app-media-tmp-keep.txt': 'keep', 'outside/.app-media-tmp-dir/a': 'a' });
      fs.rmSync(path.join(mediaOf(root), 'shop'), { recursive: true });
      fs.symlinkSync(path.join(root, 'outside'), path.join(mediaOf(root), 'shop'));
      const before = snapshot(path.join(root, 'outside'));
      killedRunLock(root);
      await link({ cwd: root });
      await clean({ cwd: root, force: true });
      expect(snapshot(path.join(root, 'outside'))).to.deep.equal(before);
    },
  );

  it(
    "an app name of 255 characters is copied (the tool's temporary names stay within the " + "file system's limit)",
    async () => {
      const name = `a${'b'.repeat(254)}`;
      const root = makeProject({
        apps: [],
        config: { mediaRoot: MEDIA, mode: 'copy', apps: [{ path: './apps/long', name }] },
        files: { [`apps/long/app_media/${name}/css/site.css`]: 'site' },
      });
      const report = await link({ cwd: root });
      expect(statusOf(report, name), JSON.stringify(report.apps)).to.equal('copied');
      fs.writeFileSync(path.join(root, 'apps/long/app_media', name, 'css', `${name.slice(0, 200)}.css`), 'long');
      expect(statusOf(await link({ cwd: root }), name)).to.equal('copied');
      expect(fs.lstatSync(path.join(mediaOf(root), name, 'css', `${name.slice(0, 200)}.css`)).isFile()).to.equal(true);
    },
  );
});

describe("hostile mediaRoot: a stray temporary name is nobody's to sweep", () => {
  it(
    "a temporary name of a run whose lock is not left behind is not swept (it may be a live run's, " +
      "or not the tool's at all)",
    async () => {
      const root = copyProject(['blog']);
      await linkedInProcess(root);
      const stray = `.app-media-tmp-${randomBytes(8).toString('hex')}-0c0ffee00-blog`;
      writeTree(mediaOf(root), { [`${stray}/css/blog.css`]: 'x' });
      killedRunLock(root);
      fs.writeFileSync(path.join(sourceOf(root, 'blog'), 'css', 'new.css'), 'new');
      const report = await link({ cwd: root });
      expect(report.failed).to.equal(false);
      expect(fs.readFileSync(path.join(mediaOf(root), stray, 'css', 'blog.css'), 'utf8')).to.equal('x');
      void tempDir;
    },
  );
});

// ---------------------------------------------------------------------------

describe('hostile mediaRoot: removal where others may write (sharedMediaRoot)', function () {
  this.timeout(60_000);

  it(
    "sharedMediaRoot: true: the tool's own link, set aside and checked, is unlinked at once (no del at the run's " +
      'end): gone with nothing left at a temporary name, and what it led to untouched',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop'],
        config: { mediaRoot: MEDIA, apps: ['./apps/blog', './apps/shop'], sharedMediaRoot: true },
      });
      await linkedInProcess(root);
      const sources = snapshot(sourceOf(root, 'blog'));
      const report = await clean({ cwd: root });
      expect(statusOf(report, 'blog'), JSON.stringify(report.apps)).to.equal('removed');
      expect(exists(path.join(mediaOf(root), 'blog'))).to.equal(false);
      expect(exists(path.join(mediaOf(root), 'shop'))).to.equal(false);
      expect(tempsIn(root), 'nothing left at a temporary name').to.deep.equal([]);
      expect(snapshot(sourceOf(root, 'blog')), "the app's media untouched").to.deep.equal(sources);
    },
  );
});

describe('hostile mediaRoot: found by the review of this change', function () {
  this.timeout(30_000);

  it(
    'the media folder swapped for a link to a private folder between the look and its copy (an app ' +
      'folder someone else owns): nothing of it is published',
    async () => {
      const root = copyProject(
        ['first', 'blog'],
        {},
        { 'private/secret.txt': 'ROOT SECRET', 'private/css/blog.css': 'ROOT SECRET' },
      );
      fs.chmodSync(path.join(root, 'private'), 0o700);
      writeTree(
        sourceOf(root, 'first'),
        Object.fromEntries(Array.from({ length: 5 }, (_, index) => [`f${index}.css`, `.f${index} {}`])),
      );
      const media = sourceOf(root, 'blog');
      const swap = pauseOnce(
        'write',
        () => {
          fs.renameSync(media, `${media}.real`);
          fs.symlinkSync(path.join(root, 'private'), media);
        },
        1,
        (detail) => detail.startsWith('first/'),
      );
      const report = await link({ cwd: root });
      expect(swap.fired()).to.equal(true);
      expect(statusOf(report, 'blog')).to.equal('error');
      expect(report.apps.find((app) => app.name === 'blog')?.reason).to.match(
        /the media folder now leads outside the app's folder/,
      );
      for (const [rel, entry] of snapshot(mediaOf(root))) {
        if (entry.type === 'file')
          expect(fs.readFileSync(path.join(mediaOf(root), rel), 'utf8'), rel).to.not.contain('ROOT SECRET');
      }
    },
  );

  it(
    "a walk fooled into taking a private file for one of the media folder's: the copy, " +
      'reading through the folder held open, refuses it',
    async () => {
      const { MediaReader } = await import('../src/core/fs/source.js');
      const root = tempDir('fooled');
      writeTree(root, { 'apps/blog/app_media/blog/css/site.css': 'site', 'private/css/site.css': 'ROOT SECRET' });
      const media = path.join(root, 'apps/blog/app_media/blog');
      const privateFacts = fs.statSync(path.join(root, 'private/css/site.css'));
      // What a walk records when `css` was a link to the private folder at the moment it listed it.
      const fooled = {
        dev: privateFacts.dev,
        ino: privateFacts.ino,
        size: privateFacts.size,
        mtimeMs: privateFacts.mtimeMs,
      };
      const reader = MediaReader.open(media, path.join(root, 'apps/blog'), undefined);
      try {
        expect(() => reader.open('css/site.css', fooled)).to.throw(/was replaced by another file/);
      } finally {
        reader.close();
      }
      // The same with css/ a link to the private folder when the copy reads.
      fs.renameSync(path.join(media, 'css'), path.join(media, 'css.real'));
      fs.symlinkSync(path.join(root, 'private/css'), path.join(media, 'css'));
      const later = MediaReader.open(media, path.join(root, 'apps/blog'), undefined);
      try {
        expect(() => later.open('css/site.css', fooled)).to.throw(/a folder on its way was replaced or removed/);
      } finally {
        later.close();
      }
    },
  );

  it(
    'a lock left by a "killed run" that is not the runner\'s or root\'s vouches for nothing: ' +
      'its names are not swept',
    async function () {
      if (process.getuid?.() !== 0) this.skip();
      const root = copyProject(['blog']);
      await linkedInProcess(root);
      const token = killedRunLock(root);
      fs.chownSync(path.join(mediaOf(root), '.app-media.lock'), NOBODY, NOBODY);
      const planted = `.app-media-tmp-${token}-0c0ffee00-archive`;
      writeTree(mediaOf(root), { [`${planted}/2025.tar`]: 'yours' });
      fs.chmodSync(path.join(mediaOf(root), planted), 0o700);
      const run = appMedia(root, ['link']);
      expect(run.stderr).to.match(/APP_MEDIA_FOREIGN_LOCK/);
      expect(fs.readFileSync(path.join(mediaOf(root), planted, '2025.tar'), 'utf8')).to.equal('yours');
    },
  );

  it(
    "files planted at the names a run's temporary files would get (its token is in the readable lock) " +
      'are never removed, and the run goes on',
    async () => {
      const root = copyProject(['blog', 'shop']);
      await linkedInProcess(root);
      fs.writeFileSync(path.join(sourceOf(root, 'blog'), 'css', 'new.css'), 'new');
      const planted: string[] = [];
      const swap = pauseOnce('write', () => {
        const token = JSON.parse(fs.readFileSync(path.join(mediaOf(root), '.app-media.lock'), 'utf8')).token as string;
        for (let index = 0; index < 10; index++) {
          const name = `.app-media-tmp-${token}-${index}-.app-media.json`;
          fs.writeFileSync(path.join(mediaOf(root), name), 'planted');
          planted.push(name);
        }
      });
      const report = await link({ cwd: root });
      expect(swap.fired()).to.equal(true);
      expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
      for (const name of planted) expect(fs.readFileSync(path.join(mediaOf(root), name), 'utf8')).to.equal('planted');
    },
  );

  it(
    "the run's staging folder replaced between its mkdir and its opening: the sync that made it is error, its " +
      'reason shows the staging folder as such (never as a published path), and the folder put there stays',
    async () => {
      const root = copyProject(['blog', 'shop']);
      await linkedInProcess(root);
      fs.writeFileSync(path.join(sourceOf(root, 'blog'), 'css', 'blog.css'), '.blog { v: 2 }');
      let planted = '';
      // The run's one private folder here is its staging folder (an update stages the copy's new files).
      const swap = pauseOnce('private', (name) => {
        planted = name;
        fs.renameSync(path.join(mediaOf(root), name), path.join(mediaOf(root), 'made-by-the-run'));
        writeTree(mediaOf(root), { [`${name}/theirs.txt`]: 'theirs' });
      });
      const report = await link({ cwd: root });
      expect(swap.fired(), 'the staging folder was made').to.equal(true);
      const blog = report.apps.find((app) => app.name === 'blog');
      expect(blog?.status, JSON.stringify(report.apps)).to.equal('error');
      expect(blog?.reason).to.equal('EEXIST (mkdir) public/media/(staging folder)');
      expect(fs.readFileSync(path.join(mediaOf(root), planted, 'theirs.txt'), 'utf8')).to.equal('theirs');
      expect(fs.readFileSync(path.join(mediaOf(root), 'blog', 'css', 'blog.css'), 'utf8')).to.not.equal(
        '.blog { v: 2 }',
      );
    },
  );

  it('new copies that fail (a folder of their private folder swapped) leave no file open behind them', async () => {
    const root = copyProject(['blog']);
    writeTree(sourceOf(root, 'blog'), { 'css/a.css': 'a', 'js/x.js': 'x' });
    const open = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = open();
    for (let round = 0; round < 5; round++) {
      pauseOnce(
        'write',
        () => {
          const js = path.join(buildingCopy(root), 'js');
          fs.rmSync(js, { recursive: true, force: true });
          fs.symlinkSync('/nonexistent', js);
        },
        1,
        (detail) => detail === 'blog/css/a.css',
      );
      const report = await link({ cwd: root });
      expect(statusOf(report, 'blog')).to.not.equal('copied');
      onPause(undefined);
    }
    expect(open(), 'open files after five failed copies').to.be.at.most(before + 1);
  });
});

/**
 * Copy mode failures: EACCES as an unprivileged user; ENOSPC, EIO and a source vanishing mid-run
 * by an LD_PRELOAD shim (test/support/faults.c). One app fails, the others go on, nothing partial
 * or temporary is left.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { nobodyCommand, nobodyPrefix, skipUnlessNobody } from './support/nobody.js';
import {
  APP_MEDIA_BIN,
  exists,
  gulp,
  jsonReport,
  linkedInProcess,
  makeProject,
  sha,
  snapshot,
  tempDir,
  viaCommand,
  writeTree,
  type RunResult,
} from './support/project.js';
import * as copies from './support/copy.js';

after(copies.endChildren);

describe('copy mode failures: EACCES as an unprivileged user', function () {
  this.timeout(30_000);
  let asUser: string[] = [];

  before(function () {
    skipUnlessNobody(this);
    asUser = nobodyPrefix() as string[];
    // The user runs the app-media command, from this checkout when it can reach it, or else a
    // self-contained copy of it (test/support/nobody.ts): either way the same code.
    commandFile = nobodyCommand();
  });

  /** The command the unprivileged user runs: this checkout's, or a copy of it. */
  let commandFile = APP_MEDIA_BIN;
  function asNobody(root: string, task: string, args: string[]): RunResult {
    const run = spawnSync(asUser[0] as string, [...asUser.slice(1), process.execPath, commandFile, task, ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, HOME: root, NO_COLOR: '1' },
      timeout: 30_000,
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr, output: run.stdout + run.stderr };
  }

  /** A copy-mode project of these apps, opened to the user, which has copied them once. */
  function copiedByNobody(apps: string[]): string {
    const root = makeProject({ apps, config: copies.copyConfig(apps) });
    openTo(root);
    const first = asNobody(root, 'link', []);
    expect(first.status, first.output).to.equal(0);
    return root;
  }

  /**
   * The project readable by the user, mediaRoot the user's own. (Writable by everyone instead, it
   * would be refused: APP_MEDIA_SHARED_ROOT, tested in hostile.test.ts.)
   */
  function openTo(root: string): void {
    for (let dir = root; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const mode = fs.statSync(dir).mode;
      if ((mode & 0o005) !== 0o005 && !(mode & 0o1000)) fs.chmodSync(dir, (mode & 0o7777) | 0o005);
    }
    fs.mkdirSync(copies.mediaOf(root), { recursive: true });
    fs.chownSync(copies.mediaOf(root), copies.NOBODY, copies.NOBODY);
  }

  it(
    'an unreadable source file: that app is error (EACCES, with the hint), the others are copied, ' +
      'exit non-zero, nothing partial published',
    () => {
      const APPS = ['blog', 'locked', 'shop'];
      const root = makeProject({ apps: APPS, config: copies.copyConfig(APPS) });
      openTo(root);
      const unreadable = path.join(copies.sourceOf(root, 'locked'), 'js/locked.js');
      fs.chmodSync(unreadable, 0o000);
      const byName = copies.expectOneFailed(root, asNobody(root, 'link', ['--json', '--silent']), 'locked', 'EACCES');
      expect(String(byName['locked']?.['hint'])).to.match(/may read the app's media folder/);
      copies.expectConverged(root, ['blog', 'shop']);
      fs.chmodSync(unreadable, 0o644);
    },
  );

  it(
    'an unreadable folder in a source that is copied for the first time: that app is error (EACCES), ' +
      'the others are copied; its dry run says the same',
    () => {
      // A new copy's source is walked when the copy is made, as one app's step: its failure is that app's.
      const APPS = ['blog', 'locked', 'shop'];
      const root = makeProject({ apps: APPS, config: copies.copyConfig(APPS) });
      openTo(root);
      const unreadable = path.join(copies.sourceOf(root, 'locked'), 'js');
      fs.chmodSync(unreadable, 0o700);
      try {
        // A dry run walks every new copy's source to list its files: the same app is error there.
        const dry = asNobody(root, 'link', ['--dry-run', '--json', '--silent']);
        expect(dry.status, dry.stderr).to.equal(1);
        expect(jsonReport(dry).apps.map((app) => [app['name'], app['status'], app['reason']])).to.deep.equal([
          ['blog', 'copied', null],
          ['locked', 'error', 'EACCES (scandir) apps/locked/app_media/locked/js'],
          ['shop', 'copied', null],
        ]);
        expect(
          exists(copies.mediaOf(root)) ? fs.readdirSync(copies.mediaOf(root)) : [],
          'a dry run writes nothing',
        ).to.deep.equal([]);
        copies.expectOneFailed(root, asNobody(root, 'link', ['--json', '--silent']), 'locked', 'EACCES');
      } finally {
        fs.chmodSync(unreadable, 0o755);
      }
    },
  );

  it(
    'an unreadable folder in the source of an existing copy: link, its dry run and verify report that app ' +
      'as error (the call, the path, the hint), the others are synced and checked',
    () => {
      const root = copiedByNobody(['blog', 'shop']);
      fs.writeFileSync(path.join(copies.sourceOf(root, 'blog'), 'css', 'new.css'), '.new {}\n');
      const shopCopy = snapshot(path.join(copies.mediaOf(root), 'shop'));
      const unreadable = path.join(copies.sourceOf(root, 'shop'), 'js');
      fs.chmodSync(unreadable, 0o700);
      try {
        const line = 'EACCES (scandir) apps/shop/app_media/shop/js';
        for (const [task, args, others] of [
          ['link', ['--dry-run'], 'copied'],
          ['link', [], 'copied'],
          ['verify', [], 'ok'],
        ] as const) {
          const run = asNobody(root, task, [...args, '--json', '--silent']);
          const label = `${task} ${args.join(' ')}`;
          expect(run.status, `${label}: ${run.output}`).to.equal(1);
          const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [app['name'], app]));
          expect(byName['shop'], label).to.include({ status: 'error', reason: line });
          expect(String(byName['shop']?.['hint']), label).to.match(/may read the app's media folder/);
          expect(byName['blog'], label).to.include({ status: others });
        }
        expect(
          fs.readFileSync(path.join(copies.mediaOf(root), 'blog', 'css', 'new.css'), 'utf8'),
          'blog was synced',
        ).to.equal('.new {}\n');
        expect(snapshot(path.join(copies.mediaOf(root), 'shop')), "shop's copy is left as it was").to.deep.equal(
          shopCopy,
        );
        // What a person reads: the app's line with the error, then the hint; no stack trace.
        const plain = asNobody(root, 'verify', []);
        expect(plain.output).to.match(/error\s+shop\s/);
        expect(plain.output).to.contain(line);
        expect(plain.output, 'no stack trace').to.not.match(/\n\s+at /);
        expect(copies.locks(root)).to.deep.equal([]);
      } finally {
        fs.chmodSync(unreadable, 0o755);
      }
      const again = asNobody(root, 'link', ['--json', '--silent']);
      expect(again.status, again.output).to.equal(0);
      expect(jsonReport(again).counts).to.deep.equal({ 'up-to-date': 2 });
    },
  );

  it(
    'link mode: verify cannot read a folder of what a link publishes: that app is error (not ok unchecked), ' +
      'the others ok; link itself is unaffected',
    () => {
      const APPS = ['blog', 'shop'];
      const root = makeProject({
        apps: APPS,
        config: { mediaRoot: 'public/media', mode: 'symlink', apps: APPS.map((name) => `./apps/${name}`) },
      });
      openTo(root);
      const first = asNobody(root, 'link', []);
      expect(first.status, first.output).to.equal(0);
      const unreadable = path.join(copies.sourceOf(root, 'shop'), 'js');
      fs.chmodSync(unreadable, 0o700);
      try {
        const run = asNobody(root, 'verify', ['--json', '--silent']);
        expect(run.status, run.output).to.equal(1);
        expect(jsonReport(run).apps.map((app) => [app['name'], app['status'], app['reason']])).to.deep.equal([
          ['blog', 'ok', null],
          ['shop', 'error', 'EACCES (scandir) apps/shop/app_media/shop/js'],
        ]);
        // A link's run needs no walk of what it leads to.
        const linked = asNobody(root, 'link', ['--json', '--silent']);
        expect(linked.status, linked.output).to.equal(0);
        expect(jsonReport(linked).counts).to.deep.equal({ 'up-to-date': 2 });
      } finally {
        fs.chmodSync(unreadable, 0o755);
      }
    },
  );

  it(
    "an unreadable folder in the tool's own copy: link and clean report that entry as error and leave it; " +
      'the others are done',
    () => {
      const root = copiedByNobody(['blog', 'shop']);
      // The copy is the user's own (it made it): a folder of it closed to its owner cannot be listed.
      const closed = path.join(copies.mediaOf(root), 'shop', 'js');
      fs.chmodSync(closed, 0o000);
      try {
        // Listing the folder, or (its names known from the copy's stamps) looking at a file in it.
        const line = /^EACCES \((scandir|lstat)\) public\/media\/shop\/js(\/shop\.js)?$/;
        for (const [task, blog] of [
          ['link', 'up-to-date'],
          ['clean', 'removed'],
        ]) {
          const run = asNobody(root, task as string, ['--json', '--silent']);
          expect(run.status, run.output).to.equal(1);
          const [first, second] = jsonReport(run).apps;
          expect(first, task).to.include({ name: 'blog', status: blog });
          expect(second, task).to.include({ name: 'shop', status: 'error' });
          expect(String(second?.['reason']), task).to.match(line);
        }
        expect(exists(path.join(copies.mediaOf(root), 'blog'))).to.equal(false);
        expect(
          exists(path.join(copies.mediaOf(root), 'shop', 'css', 'shop.css')),
          'the unread copy is left as it was',
        ).to.equal(true);
        expect(
          JSON.parse(fs.readFileSync(path.join(copies.mediaOf(root), copies.MANIFEST), 'utf8')).entries,
        ).to.have.keys(['shop']);
      } finally {
        fs.chmodSync(closed, 0o755);
      }
      const again = asNobody(root, 'clean', []);
      expect(again.status, again.output).to.equal(0);
      expect(fs.readdirSync(copies.mediaOf(root))).to.deep.equal([]);
    },
  );

  it(
    'a run that cannot go on (clean, a mediaRoot that cannot be listed) fails with one line, ' +
      'the hint and no stack (--verbose adds it); --json prints an error document',
    () => {
      const root = copiedByNobody(['blog']);
      fs.chmodSync(copies.mediaOf(root), 0o333);
      try {
        const run = asNobody(root, 'clean', []);
        expect(run.status, run.output).to.equal(1);
        expect(run.output).to.match(
          /EACCES \(scandir\) public\/media\n\s+hint: check that the account running the task may read/,
        );
        expect(run.output, 'no stack trace').to.not.match(/\n\s+at /);
        const verbose = asNobody(root, 'clean', ['--verbose']);
        expect(verbose.output, '--verbose: the stack').to.match(/\n\s+at /);
        const json = asNobody(root, 'clean', ['--json', '--silent']);
        expect(json.status).to.equal(1);
        expect(JSON.parse(json.stdout)).to.deep.equal({
          task: 'clean',
          error: {
            code: 'EACCES',
            message: 'EACCES (scandir) public/media',
            file: 'public/media',
            field: null,
            hint: "check that the account running the task may read the app's media folder and write to mediaRoot",
          },
        });
      } finally {
        fs.chmodSync(copies.mediaOf(root), 0o755);
      }
      expect(exists(path.join(copies.mediaOf(root), 'blog', 'css', 'blog.css')), 'nothing was removed').to.equal(true);
    },
  );

  it(
    'a mediaRoot the user cannot write to, or cannot make: every app is error (EACCES, with the hint), ' +
      'not a stack trace, and nothing is written',
    () => {
      // The run's first look ends at the first app with something to do. Unable to take the lock,
      // the run looks at every app again before it reports: all three are named.
      const APPS = ['blog', 'shop', 'zoo'];
      const root = makeProject({ apps: APPS, config: copies.copyConfig(APPS) });
      openTo(root);
      fs.chownSync(copies.mediaOf(root), 0, 0); // root's, as a deploy made it: the user may not write it
      fs.chmodSync(copies.mediaOf(root), 0o755);
      const run = asNobody(root, 'link', ['--json', '--silent']);
      expect(run.status, run.stderr).to.not.equal(0);
      const report = jsonReport(run);
      expect(report.apps.map((app) => [app['name'], app['status']])).to.deep.equal(APPS.map((name) => [name, 'error']));
      expect(String(report.apps[0]?.['reason'])).to.equal('EACCES (open) public/media/.app-media.json');
      expect(String(report.apps[0]?.['hint'])).to.match(/write to mediaRoot/);
      expect(fs.readdirSync(copies.mediaOf(root))).to.deep.equal([]);

      // No mediaRoot, in a folder the user cannot write to: the same, through the gulp CLI.
      fs.rmdirSync(copies.mediaOf(root));
      const made = asNobody(root, 'link', []);
      expect(made.status, made.output).to.not.equal(0);
      expect(made.output).to.match(/EACCES \(mkdir\) public\/media/);
      expect(made.output).to.match(
        /hint: check that the account running the task may read the app's media folder and write to mediaRoot/,
      );
      expect(made.output).to.match(/media:link: 3 error/);
      expect(made.output, 'no stack trace').to.not.match(/\n\s+at /);
      expect(exists(copies.mediaOf(root))).to.equal(false);
    },
  );

  it(
    'an unwritable folder in an existing copy: that app is error (EACCES), ' +
      'its published file stays the old whole one, the others update',
    () => {
      const APPS = ['blog', 'shop'];
      const root = copiedByNobody(APPS);
      const frozen = path.join(copies.mediaOf(root), 'shop/css');
      const oldBytes = fs.readFileSync(path.join(frozen, 'shop.css'));
      fs.chmodSync(frozen, 0o555);
      fs.writeFileSync(path.join(copies.sourceOf(root, 'shop'), 'css/shop.css'), '.shop { color: navy; } /* v2 */\n');
      fs.writeFileSync(path.join(copies.sourceOf(root, 'blog'), 'css/blog.css'), '.blog { color: navy; } /* v2 */\n');
      try {
        const run = asNobody(root, 'link', []);
        expect(run.status, run.output).to.not.equal(0);
        expect(run.output).to.match(/error\s+shop/);
        expect(run.output).to.match(/EACCES/);
        expect(run.output).to.match(
          /hint: check that the account running the task may read the app's media folder and write to mediaRoot/,
        );
        expect(run.output).to.match(/copied\s+blog/);
        expect(
          fs.readFileSync(path.join(frozen, 'shop.css')),
          'the published file is the old one, whole',
        ).to.deep.equal(oldBytes);
        expect(fs.readdirSync(frozen)).to.deep.equal(['shop.css']);
        expect(fs.readFileSync(path.join(copies.mediaOf(root), 'blog/css/blog.css'), 'utf8')).to.contain('v2');
        expect(copies.temporaries(copies.mediaOf(root))).to.deep.equal([]);
      } finally {
        fs.chmodSync(frozen, 0o755);
      }
      // Once the folder is writable again, the next run converges.
      const again = asNobody(root, 'link', []);
      expect(again.status, again.output).to.equal(0);
      copies.expectConverged(root, APPS);
    },
  );
});

describe('copy mode failures by injection: ENOSPC, a source folder vanishing mid-run (LD_PRELOAD shim)', function () {
  this.timeout(30_000);
  let lib: string;

  before(function () {
    lib = copies.needShim(this);
  });

  /** Node's own fs.copyFile / writeFile / readFile under the shim, in a child process. */
  function nodeUnderShim(
    script: string,
    env: NodeJS.ProcessEnv,
    shim = true,
  ): { status: number | null; stdout: string; stderr: string } {
    const run = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ...(shim ? copies.faultEnv(lib, env) : env) },
      timeout: 10_000,
    });
    return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr };
  }

  it(
    "sanity: the shim makes Node's fs.copyFile and writeFile fail with ENOSPC and open fail with ENOENT, " +
      'only for marked paths (and not without it)',
    () => {
      const dir = tempDir('shim-check');
      writeTree(dir, {
        'src.bin': randomBytes(200_000),
        'diskfull/.keep': '',
        'other/.keep': '',
        'gone/file.txt': 'here',
      });
      const script = `const fs = require('fs'); const d = ${JSON.stringify(dir)};
      const out = [];
      const attempt = (label, fn) => { try { fn(); out.push(label + ':ok'); } \
catch (e) { out.push(label + ':' + e.code); } };
      fs.promises.copyFile(d + '/src.bin', d + '/diskfull/a.bin', fs.constants.COPYFILE_EXCL)
        .then(() => out.push('copy:ok'), (e) => out.push('copy:' + e.code))
        .then(() => fs.promises.copyFile(d + '/src.bin', d + '/other/a.bin')\
.then(() => out.push('other:ok'), (e) => out.push('other:' + e.code)))
        .then(() => attempt('write', () => fs.writeFileSync(d + '/diskfull/b.txt', 'x')))
        .then(() => attempt('open', () => fs.readFileSync(d + '/gone/file.txt')))
        .then(() => attempt('read', () => fs.readFileSync(d + '/src.bin')))
        .then(() => console.log(out.join(' ')));`;
      const faults = { FAULT_WRITE_PATH: `${dir}/diskfull/`, FAULT_OPEN_PATH: `${dir}/gone/` };
      const shimmed = nodeUnderShim(script, faults);
      expect(shimmed.stdout, shimmed.stderr).to.equal('copy:ENOSPC other:ok write:ENOSPC open:ENOENT read:ok');
      expect(exists(path.join(dir, 'diskfull/a.bin')), 'libuv removes the failed copy').to.equal(false);
      fs.rmSync(path.join(dir, 'other/a.bin'));
      fs.rmSync(path.join(dir, 'diskfull/b.txt'), { force: true });
      expect(nodeUnderShim(script, faults, false).stdout, 'the same script without the shim').to.equal(
        'copy:ok other:ok write:ok open:ok read:ok',
      );
    },
  );

  it(
    'ENOSPC on a new copy: that app is error (ENOSPC, "disk is full"), the others are copied, ' +
      'exit non-zero, nothing partial or temporary left',
    () => {
      const APPS = ['blog', 'diskfull', 'shop'];
      const root = makeProject({ apps: APPS, config: copies.copyConfig(APPS) });
      copies.bulkMedia(root, 'diskfull', 20, 64 * 1024);
      const run = gulp(
        root,
        ['media:link', '--json', '--silent'],
        copies.faultEnv(lib, { FAULT_WRITE_PATH: 'diskfull' }),
      );
      const byName = copies.expectOneFailed(root, run, 'diskfull', 'ENOSPC');
      expect(String(byName['diskfull']?.['hint'])).to.contain('the disk is full');
      copies.expectConverged(root, ['blog', 'shop']);
      expect(Object.keys(copies.readManifest(root).entries).sort(), 'no record for what was not made').to.deep.equal([
        'blog',
        'shop',
      ]);
      // The text output says it as clearly.
      fs.rmSync(copies.mediaOf(root), { recursive: true });
      const text = gulp(root, ['media:link'], copies.faultEnv(lib, { FAULT_WRITE_PATH: 'diskfull' }));
      expect(text.status).to.not.equal(0);
      expect(text.output).to.match(/error\s+diskfull/);
      expect(text.output).to.match(/hint: the disk is full: free some space and run again/);
      // Space freed: the next run converges.
      const again = viaCommand(root, ['media:link']);
      expect(again.status, again.output).to.equal(0);
      copies.expectConverged(root, APPS);
    },
  );

  it(
    'files over 512 KiB (copied on the thread pool, 4 at a time, beside the small ones): whole, ' +
      'with their time and mode; rewritten when they change; ENOSPC on one keeps the old one and leaves nothing',
    async () => {
      const root = makeProject({ apps: ['video'], config: copies.copyConfig(['video']) });
      const big = path.join(copies.sourceOf(root, 'video'), 'clips', 'intro.bin');
      fs.mkdirSync(path.dirname(big), { recursive: true });
      fs.writeFileSync(big, randomBytes(9 * 1024 * 1024));
      // More big files around it, so several are in flight when one fails.
      for (let index = 0; index < 8; index++)
        fs.writeFileSync(path.join(path.dirname(big), `part${index}.bin`), randomBytes(600 * 1024 + index));
      copies.bulkMedia(root, 'video', 30, 2048);
      fs.chmodSync(big, 0o640);
      fs.utimesSync(big, 1_600_000_000.5, 1_600_000_000.5);
      const copy = path.join(copies.mediaOf(root), 'video', 'clips', 'intro.bin');
      await linkedInProcess(root);
      copies.expectConverged(root, ['video']);
      expect(fs.statSync(copy).mtimeMs).to.be.closeTo(1_600_000_000_500, 0.01);
      expect(fs.statSync(copy).mode & 0o777).to.equal(0o640);
      // New versions of the big files, and the disk full for one: the old one stays, whole.
      const old = sha(fs.readFileSync(copy));
      fs.writeFileSync(big, randomBytes(9 * 1024 * 1024 + 1));
      for (let index = 0; index < 8; index++)
        fs.writeFileSync(path.join(path.dirname(big), `part${index}.bin`), randomBytes(700 * 1024 + index));
      const full = viaCommand(
        root,
        ['media:link', '--json', '--silent'],
        copies.faultEnv(lib, { FAULT_WRITE_PATH: 'intro.bin' }),
      );
      expect(full.status, full.output).to.not.equal(0);
      expect(String(jsonReport(full).apps[0]?.['reason'])).to.contain('ENOSPC');
      expect(sha(fs.readFileSync(copy)), 'the published file is the old one, whole').to.equal(old);
      expect(copies.temporaries(copies.mediaOf(root))).to.deep.equal([]);
      // Space again: the new version is copied.
      await linkedInProcess(root);
      copies.expectConverged(root, ['video']);
      expect(fs.statSync(copy).size).to.equal(9 * 1024 * 1024 + 1);
    },
  );

  /**
   * A write that fails on an update, one row per errno: that app is error, its published files stay the old whole ones,
   * the others update.
   */
  const updateFaults = [
    {
      title:
        'ENOSPC on an update: the published files stay the old whole ones, ' +
        'no temporary file is left beside them, the others update',
      app: 'diskfull',
      files: 20,
      size: 64 * 1024,
      every: 3,
      newSize: 70_000,
      css: '.blog { v: 2 }',
      faults: {},
      reason: /ENOSPC/,
      hint: undefined,
    },
    {
      title:
        'EIO (a failing disk) on an update: that app is error with the disk hint, ' +
        'its published files stay the old whole ones, the others update',
      app: 'failing',
      files: 12,
      size: 32 * 1024,
      every: 2,
      newSize: 40_000,
      css: '.blog { v: 3 }',
      faults: { FAULT_WRITE_ERRNO: 'EIO' },
      reason: /^EIO/,
      hint: 'read or write error',
    },
  ];
  for (const row of updateFaults) {
    it(row.title, async () => {
      const APPS = ['blog', row.app];
      const root = makeProject({ apps: APPS, config: copies.copyConfig(APPS) });
      copies.bulkMedia(root, row.app, row.files, row.size, 1);
      await linkedInProcess(root);
      const before = copies.published(root);
      for (let index = 0; index < row.files; index += row.every)
        fs.writeFileSync(path.join(copies.sourceOf(root, row.app), 'd0', `f${index}.bin`), randomBytes(row.newSize));
      fs.writeFileSync(path.join(copies.sourceOf(root, 'blog'), 'css/blog.css'), row.css);
      const run = viaCommand(
        root,
        ['media:link', '--json', '--silent'],
        copies.faultEnv(lib, { FAULT_WRITE_PATH: `-${row.app}-`, ...row.faults }),
      );
      expect(run.status, run.output).to.not.equal(0);
      const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [app['name'], app]));
      expect(byName[row.app]).to.include({ status: 'error' });
      expect(String(byName[row.app]?.['reason'])).to.match(row.reason);
      if (row.hint) expect(String(byName[row.app]?.['hint'])).to.contain(row.hint);
      expect(byName['blog']).to.include({ status: 'copied' });
      const after = copies.published(root);
      const ofApp = (files: Map<string, string>): string[] =>
        [...files.keys()].filter((rel) => rel.startsWith(`${row.app}/`));
      for (const rel of ofApp(before)) expect(after.get(rel), rel).to.equal(before.get(rel));
      expect(ofApp(after).length).to.equal(ofApp(before).length);
      expect(after.get('blog/css/blog.css')).to.equal(sha(row.css));
      expect(copies.temporaries(copies.mediaOf(root))).to.deep.equal([]);
      expect(copies.locks(root)).to.deep.equal([]);
      await linkedInProcess(root);
      copies.expectConverged(root, APPS);
    });
  }

  it(
    'a source folder vanishing mid-run (open gives ENOENT): that app is error, the others are copied, ' +
      'nothing partial published',
    () => {
      const APPS = ['blog', 'shop', 'vanish'];
      const root = makeProject({ apps: APPS, config: copies.copyConfig(APPS) });
      const run = viaCommand(
        root,
        ['media:link', '--json', '--silent'],
        copies.faultEnv(lib, { FAULT_OPEN_PATH: '/apps/vanish/app_media/vanish' }),
      );
      expect(run.status, run.output).to.not.equal(0);
      const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [app['name'], app]));
      expect(byName['vanish']).to.include({ status: 'error' });
      expect(String(byName['vanish']?.['reason'])).to.contain('ENOENT');
      expect(String(byName['vanish']?.['hint'])).to.match(/vanished/);
      expect(byName['blog']).to.include({ status: 'copied' });
      expect(byName['shop']).to.include({ status: 'copied' });
      expect(exists(path.join(copies.mediaOf(root), 'vanish'))).to.equal(false);
      expect(copies.temporaries(copies.mediaOf(root))).to.deep.equal([]);
      copies.expectConverged(root, ['blog', 'shop']);
    },
  );

  it('an error reason names the file relative to the project, once, without the temporary name', () => {
    const root = makeProject({ apps: ['diskfull'], config: copies.copyConfig(['diskfull']) });
    const run = viaCommand(
      root,
      ['media:link', '--json', '--silent'],
      copies.faultEnv(lib, { FAULT_WRITE_PATH: 'diskfull' }),
    );
    const reason = String(jsonReport(run).apps[0]?.['reason']);
    expect(reason).to.not.match(/ENOSPC: ENOSPC/);
    expect(reason).to.not.contain(root);
    expect(reason).to.not.contain(copies.TEMP_MARK);
  });
});

/**
 * The lock that keeps two writing runs on one mediaRoot apart (src/core/fs/lock.ts): a holder keeps
 * its lock fresh for as long as it runs, and a lock is judged by its pid only when it was taken
 * on this machine (issue 29: neither had a test that failed without it).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { acquireLock, leftoverLockToken, LOCK_FILE } from '../src/core/fs/lock.js';
import { asNobody, NOBODY, skipUnlessNobody } from './support/nobody.js';
import { faultEnv, needShim, spawnAppMedia } from './support/copy.js';
import { appMedia, exists, isLink, makeProject, REPO, removeTempDirs, tempDir } from './support/project.js';

const MEDIA = 'public/media';
const THIS_HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 16);

after(removeTempDirs);

/** A pid no process has now: one that just ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The lock file in `folder` is `lock`'s (this process's pid, its token); then the lock is let go. */
async function expectHeldThenRelease(folder: string, lock: { token: string; release(): Promise<void> }): Promise<void> {
  try {
    expect(JSON.parse(fs.readFileSync(path.join(folder, LOCK_FILE), 'utf8'))).to.include({
      pid: process.pid,
      token: lock.token,
    });
  } finally {
    await lock.release();
  }
}

describe('the lock: a run holding it keeps it fresh', function () {
  this.timeout(30_000);

  it(
    'a run holding the lock for longer than staleMs keeps it: another run waits, gives up (ETIMEDOUT), ' +
      "and the lock is still the holder's",
    async () => {
      const folder = tempDir('lock');
      const held = await acquireLock(folder, { staleMs: 2000 });
      const file = path.join(folder, LOCK_FILE);
      const holder = fs.readFileSync(file, 'utf8');
      try {
        // Past staleMs: a lock nobody refreshed would be stale by now.
        await sleep(3000);
        expect(Date.now() - fs.statSync(file).mtimeMs, 'the holder refreshed its lock').to.be.lessThan(2000);
        let waits = 0;
        const second = await acquireLock(folder, {
          staleMs: 2000,
          timeoutMs: 1000,
          onWait: () => waits++,
        }).then(
          (lock) => lock,
          (error: NodeJS.ErrnoException) => error,
        );
        expect(second, 'the second run did not take a lock that is held').to.be.instanceOf(Error);
        expect((second as NodeJS.ErrnoException).code).to.equal('ETIMEDOUT');
        expect(waits, 'it waited for the holder, and said so once (not at every look)').to.equal(1);
        expect(fs.readFileSync(file, 'utf8'), "the lock file is still the holder's").to.equal(holder);
      } finally {
        await held.release();
      }
      expect(exists(file), 'released').to.equal(false);
    },
  );
});

describe("the lock: another machine's lock (mediaRoot on a shared disk)", function () {
  this.timeout(60_000);

  /** A lock as a run on another host writes it: that host's hash, a pid that means nothing here. */
  async function otherHostLock(media: string): Promise<string> {
    fs.mkdirSync(media, { recursive: true });
    const host = createHash('sha256').update(`not-${hostname()}`).digest('hex').slice(0, 16);
    expect(host).to.not.equal(THIS_HOST);
    const text = `${JSON.stringify({ pid: await deadPid(), host, token: randomBytes(8).toString('hex') })}\n`;
    fs.writeFileSync(path.join(media, LOCK_FILE), text);
    return text;
  }

  it(
    'a fresh lock from another host whose pid is not running here is waited on, not broken: ' +
      'app-media link says so and writes nothing until that run lets go, then links',
    async () => {
      const root = makeProject({ apps: ['blog'] });
      const media = path.join(root, MEDIA);
      const text = await otherHostLock(media);
      const run = spawnAppMedia(root, ['link']);
      const { child } = run;
      try {
        // The run either says it waits or ends: whichever comes first (a run that broke the lock ends).
        const deadline = Date.now() + 20_000;
        while (
          !/waiting for another app-media run/.test(run.output()) &&
          child.exitCode === null &&
          Date.now() < deadline
        )
          await sleep(50);
        expect(child.exitCode, `the run is still waiting\n${run.output()}`).to.equal(null);
        expect(run.output()).to.match(/waiting for another app-media run \(pid \d+\)/);
        // The other machine's run is still going: its lock is refreshed, and stays as it is.
        await sleep(1000);
        const now = new Date();
        fs.utimesSync(path.join(media, LOCK_FILE), now, now);
        await sleep(500);
        expect(child.exitCode, `still waiting\n${run.output()}`).to.equal(null);
        expect(fs.readFileSync(path.join(media, LOCK_FILE), 'utf8'), "the other host's lock is untouched").to.equal(
          text,
        );
        expect(exists(path.join(media, 'blog')), 'nothing linked while the lock is held').to.equal(false);
        // That run ends and removes its lock: this one goes on.
        fs.unlinkSync(path.join(media, LOCK_FILE));
        const ended = await run.done;
        expect(ended.status, ended.output).to.equal(0);
        expect(isLink(path.join(media, 'blog')), ended.output).to.equal(true);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );

  it('in process: a fresh lock of another host whose pid is not running here is waited on, not broken', async () => {
    const folder = tempDir('lock');
    const text = await otherHostLock(folder);
    const error = await acquireLock(folder, { staleMs: 600_000, timeoutMs: 300 }).then(
      (lock) => lock,
      (caught: NodeJS.ErrnoException) => caught,
    );
    expect((error as NodeJS.ErrnoException).code, 'not taken: that pid means nothing here').to.equal('ETIMEDOUT');
    expect(fs.readFileSync(path.join(folder, LOCK_FILE), 'utf8'), "the other host's lock is untouched").to.equal(text);
  });

  it('a lock from another host that nobody refreshed for staleMs is broken, and the run goes on', async () => {
    const folder = tempDir('lock');
    await otherHostLock(folder);
    const old = new Date(Date.now() - 5000);
    fs.utimesSync(path.join(folder, LOCK_FILE), old, old);
    const lock = await acquireLock(folder, { staleMs: 2000, timeoutMs: 10_000 });
    try {
      expect(
        JSON.parse(fs.readFileSync(path.join(folder, LOCK_FILE), 'utf8')),
        "the lock is this run's now",
      ).to.include({
        pid: process.pid,
        host: THIS_HOST,
        token: lock.token,
      });
    } finally {
      await lock.release();
    }
  });

  it('a lock from this host whose pid is not running is broken at once, however fresh', async () => {
    const folder = tempDir('lock');
    fs.writeFileSync(
      path.join(folder, LOCK_FILE),
      `${JSON.stringify({ pid: await deadPid(), host: THIS_HOST, token: randomBytes(8).toString('hex') })}\n`,
    );
    const lock = await acquireLock(folder, { staleMs: 600_000, timeoutMs: 5000 });
    await expectHeldThenRelease(folder, lock);
  });
});

describe('the lock: what is, and is not, one of its locks', function () {
  this.timeout(30_000);

  const lockText = (pid: number, host: string, token: string): string => `${JSON.stringify({ pid, host, token })}\n`;
  const token = (): string => randomBytes(8).toString('hex');
  const OTHER_HOST = createHash('sha256').update(`not-${hostname()}`).digest('hex').slice(0, 16);

  /** `promises[name]` replaced by `fake` for the length of `run` (lock.ts calls them through that object). */
  async function replacing<K extends 'link' | 'rename' | 'unlink', T>(
    name: K,
    fake: (real: (typeof fs.promises)[K]) => (typeof fs.promises)[K],
    run: () => Promise<T>,
  ): Promise<T> {
    const real = fs.promises[name];
    fs.promises[name] = fake(real.bind(fs.promises) as (typeof fs.promises)[K]);
    try {
      return await run();
    } finally {
      fs.promises[name] = real;
    }
  }

  /** Fails instead of hanging: a lock that loops for ever is a failure too. */
  async function within<T>(ms: number, run: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        run,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  const outcome = (run: Promise<{ release(): Promise<void> }>): Promise<string> =>
    run.then(
      async (lock) => {
        await lock.release();
        return 'taken';
      },
      (error: NodeJS.ErrnoException) => String(error.code),
    );

  it(
    "a file at the lock's name that is not one of its locks (a link, text that is not JSON): " +
      'APP_MEDIA_FOREIGN_LOCK at once, not a wait; the file is left as it is',
    async () => {
      const kinds: Array<[string, (file: string) => void]> = [
        ['a link', (file) => fs.symlinkSync('elsewhere', file)],
        ['text that is not JSON', (file) => fs.writeFileSync(file, 'my notes about the lock\n')],
      ];
      for (const [kind, make] of kinds) {
        const folder = tempDir('lock');
        const file = path.join(folder, LOCK_FILE);
        make(file);
        const before = fs.lstatSync(file);
        expect(await outcome(acquireLock(folder, { timeoutMs: 500 })), kind).to.equal('APP_MEDIA_FOREIGN_LOCK');
        expect(fs.lstatSync(file).ino, kind).to.equal(before.ino);
        expect(fs.readdirSync(folder), `${kind}: nothing else made`).to.deep.equal([LOCK_FILE]);
      }
    },
  );

  it('an empty lock (linked into place, its bytes lost in a power cut) is broken at once, however fresh', async () => {
    const folder = tempDir('lock');
    fs.writeFileSync(path.join(folder, LOCK_FILE), '');
    const lock = await within(3000, acquireLock(folder, { staleMs: 600_000, timeoutMs: 2000 }));
    await expectHeldThenRelease(folder, lock);
  });

  it(
    'a lock that cannot be linked into place for a reason other than "taken" (EPERM: no hard links there) ' +
      'stops the run at once (APP_MEDIA_LOCK_UNSUPPORTED naming EPERM), not after a wait and never unlocked; ' +
      'its draft is removed, nothing is linked',
    function () {
      // The real link(2) refuses, by the fault shim (test/support/faults.c), as on a file system without hard links.
      const lib = needShim(this);
      const root = makeProject({ apps: ['blog'], gulp: false });
      const started = Date.now();
      const run = appMedia(root, ['link'], faultEnv(lib, { FAULT_LINK_PATH: LOCK_FILE }));
      expect(run.status, run.output).to.equal(1);
      // Before the fix, the run took the EPERM for "mediaRoot cannot be written", went on without the lock and linked.
      expect(run.stderr).to.match(
        /^APP_MEDIA_LOCK_UNSUPPORTED: public\/media\/\.app-media\.lock: .*hard link \(EPERM\)/m,
      );
      expect(run.stderr).to.match(/hint: put mediaRoot \(or collectRoot\) on a file system with hard links/);
      expect(Date.now() - started, 'refused at once, not after the lock wait').to.be.below(10_000);
      expect(fs.readdirSync(path.join(root, MEDIA)), 'no draft, no lock, no link left').to.deep.equal([]);
    },
  );

  it('a lock whose draft cannot be written whole (ENOSPC) fails the run, and the draft goes with it', function () {
    // The real write(2) of the draft fails (the fault shim): the file is made, its bytes never land.
    const lib = needShim(this);
    const root = makeProject({ apps: ['blog'], gulp: false });
    const run = appMedia(root, ['link'], faultEnv(lib, { FAULT_WRITE_PATH: `${LOCK_FILE}.` }));
    expect(run.status, run.output).to.equal(1);
    expect(run.output).to.match(/ENOSPC/);
    expect(fs.readdirSync(path.join(root, MEDIA)), 'no draft, no lock, no link left').to.deep.equal([]);
  });

  it(
    'the lock let go by its holder right after this run found it taken: ' +
      'this run looks again and takes it (not "not one of its locks")',
    async () => {
      const folder = tempDir('lock');
      const file = path.join(folder, LOCK_FILE);
      fs.writeFileSync(file, lockText(process.pid, THIS_HOST, token()));
      let released = false;
      // The moment: the link failed (taken), the draft is being removed, the holder ends.
      const result = await replacing(
        'unlink',
        (real) => async (target) => {
          if (!released) {
            released = true;
            fs.unlinkSync(file);
          }
          return real(target);
        },
        () => outcome(acquireLock(folder, { timeoutMs: 2000 })),
      );
      expect(released).to.equal(true);
      expect(result).to.equal('taken');
    },
  );

  it(
    'a stale lock broken and retaken by another run between the look and the move aside: ' +
      "the other run's fresh lock is put back, and this run waits",
    async () => {
      const folder = tempDir('lock');
      const file = path.join(folder, LOCK_FILE);
      fs.writeFileSync(file, lockText(await deadPid(), THIS_HOST, token()));
      const fresh = lockText(process.pid, THIS_HOST, token());
      let raced = false;
      const result = await replacing(
        'rename',
        (real) => async (from, to) => {
          if (!raced && from === file) {
            raced = true;
            // The other run, faster: it broke the stale lock and took its own, under the same name.
            fs.writeFileSync(`${file}.other`, fresh);
            fs.renameSync(`${file}.other`, file);
          }
          return real(from, to);
        },
        () => outcome(acquireLock(folder, { staleMs: 600_000, timeoutMs: 500 })),
      );
      expect(raced).to.equal(true);
      expect(result, 'the fresh lock is not taken over').to.equal('ETIMEDOUT');
      expect(fs.readFileSync(file, 'utf8'), "the other run's lock is back in place").to.equal(fresh);
      expect(fs.readdirSync(folder), 'nothing left aside').to.deep.equal([LOCK_FILE]);
    },
  );

  it(
    "what the sweep takes for a killed run's lock: a lock broken aside or a draft, of this host, its pid gone, " +
      "its name's token; not a live run's, another host's, one naming another token, or a look-alike name",
    async () => {
      const folder = tempDir('lock');
      const dead = await deadPid();
      // [case, the file's name around its token, its pid, its host, whether it names its own token, swept]
      type Row = [string, (t: string) => string, number, string, boolean, boolean];
      const aside = (t: string): string => `${LOCK_FILE}.${t}.broken`;
      const rows: Row[] = [
        ['broken aside, pid gone', aside, dead, THIS_HOST, true, true],
        ['a draft, pid gone', (t) => `${LOCK_FILE}.${t}`, dead, THIS_HOST, true, true],
        ['a live run', aside, process.pid, THIS_HOST, true, false],
        ['another host', aside, dead, OTHER_HOST, true, false],
        ['another token', aside, dead, THIS_HOST, false, false],
        ['yours, before', (t) => `mine${LOCK_FILE}.${t}.broken`, dead, THIS_HOST, true, false],
        ['yours, after', (t) => `${LOCK_FILE}.${t}.broken.txt`, dead, THIS_HOST, true, false],
        ['yours, a suffix', (t) => `${LOCK_FILE}.${t}.old`, dead, THIS_HOST, true, false],
      ];
      const cases = rows.map(([what, name, pid, host, ownToken, taken]) => {
        const t = token();
        return [what, name(t), lockText(pid, host, ownToken ? t : token()), taken ? t : undefined] as const;
      });
      for (const [, name, text] of cases) fs.writeFileSync(path.join(folder, name), text);
      expect(
        cases.map(([what, name]) => [what, leftoverLockToken(folder, name)]),
        'tokens by case',
      ).to.deep.equal(cases.map(([what, , , taken]) => [what, taken]));
    },
  );

  describe("a lock of root's run, seen by a run of another user (nobody)", function () {
    before(function () {
      skipUnlessNobody(this);
    });

    it('is not broken: its pid is running, though nobody may not signal it (EPERM)', () => {
      // lock.ts bundled where nobody can read it (a checkout may be out of its reach), run by nobody.
      const dir = tempDir('lock-for-nobody');
      fs.chownSync(dir, NOBODY, NOBODY);
      const script = path.join(dir, 'take.mjs');
      buildSync({
        stdin: {
          contents:
            `import { acquireLock } from ${JSON.stringify(path.join(REPO, 'src/core/fs/lock.ts'))};\n` +
            'const lock = await acquireLock(process.argv[2], { staleMs: 600000, timeoutMs: 300 }).catch((e) => e);\n' +
            "console.log(lock instanceof Error ? lock.code : 'taken');\n",
          resolveDir: REPO,
          loader: 'ts',
        },
        outfile: script,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        logLevel: 'error',
      });
      const folder = path.join(dir, 'media');
      fs.mkdirSync(folder);
      fs.chownSync(folder, NOBODY, NOBODY);
      const text = lockText(process.pid, THIS_HOST, token()); // this (root's) process: running
      fs.writeFileSync(path.join(folder, LOCK_FILE), text);
      const run = asNobody(dir, [process.execPath, script, folder]);
      expect(run.stdout.trim(), run.output).to.equal('ETIMEDOUT');
      expect(fs.readFileSync(path.join(folder, LOCK_FILE), 'utf8'), "root's lock is untouched").to.equal(text);
    });
  });
});

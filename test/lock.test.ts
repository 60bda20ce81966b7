/**
 * The lock that keeps two writing runs on one mediaRoot apart (src/core/fs/lock.ts): a holder keeps
 * its lock fresh for as long as it runs, and a lock is judged by its pid only when it was taken
 * on this machine (issue 29: neither had a test that failed without it).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { acquireLock, LOCK_FILE } from '../src/core/fs/lock.js';
import { APP_MEDIA_BIN, exists, isLink, makeProject, removeTempDirs, tempDir } from './support/project.js';

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

describe('the lock: a run holding it keeps it fresh', function () {
  this.timeout(30_000);

  it(
    'a run holding the lock for longer than staleMs keeps it: another run waits, gives up (ETIMEDOUT), ' +
      "and the lock is still the holder's",
    async () => {
      const folder = tempDir('lock');
      const held = await acquireLock(folder, { staleMs: 2000 });
      const file = path.join(folder, LOCK_FILE);
      const holder = readFileSync(file, 'utf8');
      try {
        // Past staleMs: a lock nobody refreshed would be stale by now.
        await sleep(3000);
        expect(Date.now() - statSync(file).mtimeMs, 'the holder refreshed its lock').to.be.lessThan(2000);
        let waited = false;
        const second = await acquireLock(folder, {
          staleMs: 2000,
          timeoutMs: 1000,
          onWait: () => (waited = true),
        }).then(
          (lock) => lock,
          (error: NodeJS.ErrnoException) => error,
        );
        expect(second, 'the second run did not take a lock that is held').to.be.instanceOf(Error);
        expect((second as NodeJS.ErrnoException).code).to.equal('ETIMEDOUT');
        expect(waited, 'it waited for the holder').to.equal(true);
        expect(readFileSync(file, 'utf8'), "the lock file is still the holder's").to.equal(holder);
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
    mkdirSync(media, { recursive: true });
    const host = createHash('sha256').update(`not-${hostname()}`).digest('hex').slice(0, 16);
    expect(host).to.not.equal(THIS_HOST);
    const text = `${JSON.stringify({ pid: await deadPid(), host, token: randomBytes(8).toString('hex') })}\n`;
    writeFileSync(path.join(media, LOCK_FILE), text);
    return text;
  }

  it(
    'a fresh lock from another host whose pid is not running here is waited on, not broken: ' +
      'app-media link says so and writes nothing until that run lets go, then links',
    async () => {
      const root = makeProject({ apps: ['blog'] });
      const media = path.join(root, MEDIA);
      const text = await otherHostLock(media);
      const child = spawn(process.execPath, [APP_MEDIA_BIN, 'link'], {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1' },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        // The run either says it waits or ends: whichever comes first (a run that broke the lock ends).
        const deadline = Date.now() + 20_000;
        while (!/waiting for another app-media run/.test(output) && child.exitCode === null && Date.now() < deadline)
          await sleep(50);
        expect(child.exitCode, `the run is still waiting\n${output}`).to.equal(null);
        expect(output).to.match(/waiting for another app-media run \(pid \d+\)/);
        // The other machine's run is still going: its lock is refreshed, and stays as it is.
        await sleep(1000);
        const now = new Date();
        utimesSync(path.join(media, LOCK_FILE), now, now);
        await sleep(500);
        expect(child.exitCode, `still waiting\n${output}`).to.equal(null);
        expect(readFileSync(path.join(media, LOCK_FILE), 'utf8'), "the other host's lock is untouched").to.equal(text);
        expect(exists(path.join(media, 'blog')), 'nothing linked while the lock is held').to.equal(false);
        // That run ends and removes its lock: this one goes on.
        unlinkSync(path.join(media, LOCK_FILE));
        expect(await exited, output).to.equal(0);
        expect(isLink(path.join(media, 'blog')), output).to.equal(true);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );

  it('a lock from another host that nobody refreshed for staleMs is broken, and the run goes on', async () => {
    const folder = tempDir('lock');
    await otherHostLock(folder);
    const old = new Date(Date.now() - 5000);
    utimesSync(path.join(folder, LOCK_FILE), old, old);
    const lock = await acquireLock(folder, { staleMs: 2000, timeoutMs: 10_000 });
    try {
      expect(JSON.parse(readFileSync(path.join(folder, LOCK_FILE), 'utf8')), "the lock is this run's now").to.include({
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
    writeFileSync(
      path.join(folder, LOCK_FILE),
      `${JSON.stringify({ pid: await deadPid(), host: THIS_HOST, token: randomBytes(8).toString('hex') })}\n`,
    );
    const lock = await acquireLock(folder, { staleMs: 600_000, timeoutMs: 5000 });
    try {
      expect(JSON.parse(readFileSync(path.join(folder, LOCK_FILE), 'utf8'))).to.include({
        pid: process.pid,
        token: lock.token,
      });
    } finally {
      await lock.release();
    }
  });
});

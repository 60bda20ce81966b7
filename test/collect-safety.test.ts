/**
 * media:collect under the rules of the link and copy core (issue 23's threat model, for
 * collectRoot; a security review of issue 27's collect):
 *
 * - what is read from an app's media: a media folder that leads out of its app is `escape`;
 *   a source is read only if it is the very file the walk saw, inside the media folder;
 * - swaps during a run, at the exact moment (the run pauses at a pause point, src/fs/pause.ts,
 *   and the test acts as the racing process), with folders held by descriptor (Linux) and by
 *   path (other systems' code): nothing is written or deleted through a folder swapped for a link;
 * - the names the tool reserves: only a killed run's temporary names are swept, yours stay;
 * - a temporary file is never, even for a moment, writable by others where they can reach it.
 *
 * Each test checks what a user would: the bytes outside collectRoot, the build, the report.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs, { chmodSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { hostname } from 'node:os';
import path from 'node:path';
import { collect } from '../src/index.js';
import { folderKind, type FolderKind } from '../src/fs/folder.js';
import { onPause, type PausePoint } from '../src/fs/pause.js';
import type { Report } from '../src/types.js';
import { appMedia, jsonReport, removeTempDirs, snapshot, tempDir, writeTree } from './support/project.js';
import { collectedInProcess, makeCollectProject, outFiles, outState, OUT, readManifest } from './support/collect.js';

after(removeTempDirs);
afterEach(() => onPause(undefined));

const BLOG = 'apps/blog/app_media/blog';
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function statusOf(report: Report | undefined, name: string): string | undefined {
  return report?.apps.find((app) => app.name === name)?.status;
}

/** Runs `act` once, the `nth` time (1-based) the run passes `point` (for a `detail` that passes `which`). */
function pauseOnce(point: PausePoint, act: (detail: string) => void, nth = 1, which?: (detail: string) => boolean): { fired: () => boolean } {
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
  for (const rel of Object.keys(files)) chmodSync(path.join(dir, rel), 0o600);
  chmodSync(dir, 0o700);
  return dir;
}

/** No file of the build holds `PRIVATE`. */
function nothingPrivateIn(root: string): void {
  for (const name of outFiles(root)) expect(readFileSync(path.join(root, OUT, name)).includes('PRIVATE'), name).to.equal(false);
}

/** A pid no process has now: one that just ended. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** What a killed run leaves in `folder`: its lock, its process gone; the lock's token. */
function killedRunLock(folder: string): string {
  const token = randomBytes(8).toString('hex');
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 16);
  writeFileSync(path.join(folder, '.app-media.lock'), `${JSON.stringify({ pid: deadPid(), host, token })}\n`);
  return token;
}

describe('media:collect: what is read from an app\'s media', function () {
  this.timeout(30_000);

  it('a media folder replaced by a link to a root-only folder (0600 files): escape, exit 1, nothing of it read or published; verify --collect says escape', async () => {
    const root = makeCollectProject({ gulp: false });
    await collectedInProcess(root);
    const before = outState(root);
    const secret = privateFolder({ 'css/site.css': '.a { content: "PRIVATE KEY MATERIAL" }', 'img/logo.png': 'PRIVATE' });
    // As the app folder's owner would: `mv blog blog.real && ln -s /root/private blog`.
    renameSync(path.join(root, BLOG), path.join(root, `${BLOG}.real`));
    symlinkSync(secret, path.join(root, BLOG));
    const run = appMedia(root, ['collect']);
    expect(run.status, run.output).to.equal(1);
    expect(run.output).to.match(/escape\s+blog\s+dist\/media\/blog/);
    expect(run.output).to.match(/app_media\/blog\/ leads outside the app's folder \(to .*private.*\): nothing of it is published/);
    expect(run.output).to.match(/held\s+shop/);
    expect(outState(root), 'nothing written, the old build and manifest as they were').to.deep.equal(before);
    nothingPrivateIn(root);
    const checked = appMedia(root, ['verify', '--collect', '--json', '--silent']);
    expect(checked.status).to.equal(1);
    expect(jsonReport(checked).apps.map((app) => [app['name'], app['status']])).to.deep.equal([['blog', 'escape'], ['shop', 'ok']]);
    // The same from a first run, with no build yet: nothing of it is ever read.
    rmSync(path.join(root, OUT), { recursive: true });
    const first = await collect({ cwd: root, logger: quiet });
    expect(first.failed).to.equal(true);
    expect(statusOf(first, 'blog')).to.equal('escape');
    expect(existsSync(path.join(root, OUT, 'manifest.json'))).to.equal(false);
    nothingPrivateIn(root);
  });

  for (const where of ['on this thread', 'on the workers']) {
    it(`a folder of an app's media swapped, after the walk, for a link to a private folder holding a file of the same name: it is not read (${where}), nothing of it is published, the app is error`, async () => {
      // 4 MiB of sources are hashed on this thread; the rest, on the workers.
      const fill = where === 'on the workers' ? { [`${BLOG}/css/fill.bin`]: Buffer.alloc(4 * 1024 * 1024, 1) } : {};
      const root = makeCollectProject({ gulp: false, config: { compress: false }, files: fill });
      const secret = privateFolder({ 'logo.png': 'PRIVATE KEY MATERIAL', 'blog.png': 'PRIVATE' });
      // The first read is css/base.css's; the files of img/ are read after it.
      const swap = pauseOnce('read', () => {
        renameSync(path.join(root, BLOG, 'img'), path.join(root, BLOG, 'img.moved'));
        symlinkSync(secret, path.join(root, BLOG, 'img'));
      });
      const report = await collect({ cwd: root, logger: quiet });
      expect(swap.fired()).to.equal(true);
      expect(statusOf(report, 'blog')).to.equal('error');
      expect(report.apps.find((app) => app.name === 'blog')?.reason).to.match(/img\/(blog|logo)\.png was replaced by another file/);
      expect(existsSync(path.join(root, OUT, 'manifest.json'))).to.equal(false);
      nothingPrivateIn(root);
    });
  }

  it('a folder of an app\'s media moved out of it after the walk, a link to where it went in its place: the same files, but no longer inside the media folder: not read', async function () {
    if (folderKind() !== 'descriptor') this.skip(); // the open file's own path comes from /proc (Linux)
    const root = makeCollectProject({ gulp: false, config: { compress: false } });
    const elsewhere = tempDir('elsewhere');
    const swap = pauseOnce('read', () => {
      renameSync(path.join(root, BLOG, 'img'), path.join(elsewhere, 'img'));
      symlinkSync(path.join(elsewhere, 'img'), path.join(root, BLOG, 'img'));
    });
    const report = await collect({ cwd: root, logger: quiet });
    expect(swap.fired()).to.equal(true);
    expect(statusOf(report, 'blog')).to.equal('error');
    expect(report.apps.find((app) => app.name === 'blog')?.reason).to.match(/img\/(blog|logo)\.png is no longer inside the app's media folder/);
    expect(existsSync(path.join(root, OUT, 'manifest.json'))).to.equal(false);
  });
});

/**
 * media:collect under kill -9 and under a concurrent run (issue 27, §6 rules
 * 4 and 5). A child process (the app-media command) is killed with SIGKILL at
 * known moments of a writing run (APP_MEDIA_COLLECT_KILL, a hook that sends
 * the signal to itself); then what a page would use must still be whole, and
 * the next run must converge. The checks here read the build folder on their
 * own (hashes, sizes, gzip/brotli), without the tool's code.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { APP_MEDIA_BIN, appMedia, removeTempDirs, runAsync } from './support/project.js';
import * as collected from './support/collect.js';

after(removeTempDirs);

const BLOG = 'apps/blog/app_media/blog';

/** Every file the manifest names is there, whole: its size and SRI integrity; its variants decompress to it. */
function manifestWhole(root: string): void {
  const manifest = collected.readManifest(root);
  for (const [logical, entry] of Object.entries(manifest.files)) {
    const data = readFileSync(path.join(root, collected.OUT, entry.path));
    expect(data.length, logical).to.equal(entry.size);
    expect(collected.sri(data), logical).to.equal(entry.integrity);
    for (const encoding of Object.keys(entry.encodings ?? {})) {
      const packed = readFileSync(path.join(root, collected.OUT, `${entry.path}${encoding === 'br' ? '.br' : '.gz'}`));
      expect(
        (encoding === 'br' ? brotliDecompressSync(packed) : gunzipSync(packed)).equals(data),
        `${entry.path} ${encoding}`,
      ).to.equal(true);
    }
  }
}

/** No fingerprinted file holds other bytes than its name says (a half-written file would). */
function noHalfFiles(root: string): void {
  for (const name of collected.outFiles(root)) {
    const match = /\.([0-9a-f]{10})(\.[^./]+)?(\.br|\.gz)?$/.exec(name);
    if (!match || name.split('/').pop()?.startsWith('.')) continue;
    let data = readFileSync(path.join(root, collected.OUT, name));
    if (match[3] === '.br') data = brotliDecompressSync(data);
    if (match[3] === '.gz') data = gunzipSync(data);
    expect(createHash('sha256').update(data).digest('hex').slice(0, 10), name).to.equal(match[1]);
  }
}

/** The next run converges: exit 0, the build whole, nothing of a run left, the records naming exactly what is there. */
function converges(root: string): void {
  const run = appMedia(root, ['collect']);
  expect(run.status, run.output).to.equal(0);
  manifestWhole(root);
  noHalfFiles(root);
  const files = collected.outFiles(root);
  expect(
    files.filter(
      (name) => name.includes('.app-media-tmp-') || name.includes('pending') || name.startsWith('.app-media.lock'),
    ),
  ).to.deep.equal([]);
  expect(Object.keys(collected.readRecords(root).files).sort()).to.deep.equal(
    files.filter((name) => name.includes('/')),
  );
  const verified = appMedia(root, ['verify', '--collect']);
  expect(verified.status, verified.output).to.equal(0);
  // And the run after it has nothing to do.
  const before = collected.outState(root);
  expect(appMedia(root, ['collect']).stdout).to.match(/2 up-to-date/);
  expect(collected.outState(root)).to.deep.equal(before);
}

describe('media:collect killed with SIGKILL, then run again', () => {
  for (const moment of ['pending', 'write:1', 'write:7', 'manifest', 'removals', 'records']) {
    it(`killed at "${moment}": the manifest in place names only whole files, and the next run converges`, async () => {
      const root = collected.makeCollectProject({ gulp: false, config: { keep: 0 } });
      await collected.collectedInProcess(root);
      const before = collected.readManifest(root);
      writeFileSync(path.join(root, BLOG, 'img/logo.png'), 'a new logo');
      writeFileSync(path.join(root, BLOG, 'css/base.css'), 'body { margin: 1px; }\n'.repeat(30));
      const killed = appMedia(root, ['collect'], { APP_MEDIA_COLLECT_KILL: moment });
      expect(killed.status, killed.output).to.equal(null);
      const after = collected.readManifest(root);
      // Until the new manifest is complete, the old one stays, and what it names is whole.
      if (['pending', 'write:1', 'write:7'].includes(moment)) expect(after).to.deep.equal(before);
      else expect(after.build).to.not.equal(before.build);
      manifestWhole(root);
      noHalfFiles(root);
      converges(root);
      expect(collected.readManifest(root).files['blog/img/logo.png']!.path).to.not.equal(
        before.files['blog/img/logo.png']!.path,
      );
    });
  }
});

describe('media:collect runs at once', () => {
  it('three processes at once end as one run would: all exit 0, one build, nothing left of a run', async () => {
    const root = collected.makeCollectProject({ gulp: false });
    await collected.collectedInProcess(root);
    writeFileSync(path.join(root, BLOG, 'img/logo.png'), 'raced');
    const runs = await Promise.all([0, 1, 2].map(() => runAsync([APP_MEDIA_BIN, 'collect'], root)));
    for (const run of runs) expect(run.status, run.output).to.equal(0);
    expect(collected.readRecords(root).builds).to.have.length(2);
    converges(root);
  });
});

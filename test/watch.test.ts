/** media:watch with real file changes: adds, changes and deletes mirrored, media folders appearing and going. */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exists, isLink, makeProject, sha, verifiedInProcess, writeTree, type RunResult } from './support/project.js';
import {
  copyConfig,
  endChildren,
  expectConverged,
  locks,
  mediaOf,
  sleep,
  sourceOf,
  type Spawned,
  spawnGulp,
  temporaries,
  waitFor,
} from './support/copy.js';

after(endChildren);

describe('media:watch with real file changes', function () {
  this.timeout(30_000);

  async function startWatch(root: string, args: string[] = []): Promise<Spawned> {
    const watch = spawnGulp(root, ['media:watch', ...args]);
    const ready = await waitFor(() => /media:watch: watching \d+ paths?/.test(watch.output()), 10_000);
    expect(ready, `the watching line\n${watch.output()}`).to.equal(true);
    // The line comes before the watcher has finished its first scan (see the skipped test below).
    await sleep(500);
    return watch;
  }

  async function stopWatch(watch: Spawned): Promise<RunResult> {
    watch.child.kill('SIGINT');
    const result = await Promise.race([watch.done, sleep(10_000).then(() => undefined)]);
    expect(result, `media:watch ends within 10 s of Ctrl-C\n${watch.output()}`).to.not.equal(undefined);
    return result as RunResult;
  }

  const settled =
    (file: string, content: string | null): (() => boolean) =>
    () => {
      if (content === null) return !exists(file);
      try {
        return readFileSync(file, 'utf8') === content;
      } catch {
        return false;
      }
    };

  it(
    'copy mode: mirrors an add, a change and a delete, copies a media folder that appears, ' +
      'and ends cleanly on Ctrl-C',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop'],
        config: copyConfig(['blog', 'shop', 'late']),
        files: { 'apps/late/README.md': 'no media yet' },
      });
      const watch = await startWatch(root);
      try {
        expect(watch.output()).to.match(/no-media\s+late/);
        expectConverged(root, ['blog', 'shop']);
        const src = sourceOf(root, 'blog');
        const copy = path.join(mediaOf(root), 'blog');

        writeFileSync(path.join(src, 'css/added.css'), '.added {}');
        expect(
          await waitFor(settled(path.join(copy, 'css/added.css'), '.added {}'), 5000),
          `add mirrored\n${watch.output()}`,
        ).to.equal(true);

        writeFileSync(path.join(src, 'js/blog.js'), 'console.log("changed");\n');
        expect(
          await waitFor(settled(path.join(copy, 'js/blog.js'), 'console.log("changed");\n'), 5000),
          `change mirrored\n${watch.output()}`,
        ).to.equal(true);

        unlinkSync(path.join(src, 'img/blog.png'));
        expect(
          await waitFor(settled(path.join(copy, 'img/blog.png'), null), 5000),
          `delete mirrored\n${watch.output()}`,
        ).to.equal(true);

        writeTree(root, { 'apps/late/app_media/late/css/late.css': '.late {}' });
        expect(
          await waitFor(settled(path.join(mediaOf(root), 'late/css/late.css'), '.late {}'), 5000),
          `new media folder copied\n${watch.output()}`,
        ).to.equal(true);

        // Let the last debounced run finish, then everything is as one run gives.
        expect(await waitFor(() => temporaries(mediaOf(root)).length === 0 && locks(root).length === 0, 5000)).to.equal(
          true,
        );
        expectConverged(root, ['blog', 'shop', 'late']);
      } finally {
        const result = await stopWatch(watch);
        expect(result.status, result.output).to.equal(0);
        expect(result.output).to.contain("Finished 'media:watch'");
      }
      await verifiedInProcess(root);
    },
  );

  it(
    "link mode: an app's media folder removed or moved away makes watch prune its own link (and only it); " +
      'one that comes back is linked again',
    async () => {
      const root = makeProject({ apps: ['blog', 'shop', 'news'], files: { 'public/media/robots.txt': 'mine' } });
      const watch = await startWatch(root, ['--mode', 'symlink']);
      try {
        const entry = (name: string): string => path.join(mediaOf(root), name);
        for (const name of ['blog', 'shop', 'news']) expect(isLink(entry(name)), name).to.equal(true);
        // shop's media folder is deleted; blog's is moved away (as a branch switch would).
        rmSync(sourceOf(root, 'shop'), { recursive: true });
        const saved = path.join(root, 'apps/blog/saved');
        mkdirSync(saved);
        renameSync(sourceOf(root, 'blog'), path.join(saved, 'blog'));
        expect(
          await waitFor(() => !exists(entry('shop')) && !exists(entry('blog')), 5000),
          `links pruned\n${watch.output()}`,
        ).to.equal(true);
        expect(isLink(entry('news')), 'the other app keeps its link').to.equal(true);
        expect(readFileSync(entry('robots.txt'), 'utf8')).to.equal('mine');
        expect(sha(readFileSync(path.join(saved, 'blog/css/blog.css'))), 'what the link led to is untouched').to.equal(
          sha('.blog { color: teal; }\n'),
        );

        renameSync(path.join(saved, 'blog'), sourceOf(root, 'blog'));
        expect(
          await waitFor(() => isLink(entry('blog')) && existsSync(path.join(entry('blog'), 'css/blog.css')), 5000),
          `linked again\n${watch.output()}`,
        ).to.equal(true);
      } finally {
        const result = await stopWatch(watch);
        expect(result.status, result.output).to.equal(0);
        expect(result.output).to.contain("Finished 'media:watch'");
      }
    },
  );

  it('a change made as soon as the "watching" line is printed is mirrored', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    const watch = spawnGulp(root, ['media:watch']);
    try {
      expect(await waitFor(() => watch.output().includes('media:watch: watching'), 10_000, 2)).to.equal(true);
      writeFileSync(path.join(sourceOf(root, 'blog'), 'css/early.css'), '.early {}');
      expect(
        await waitFor(() => exists(path.join(mediaOf(root), 'blog/css/early.css')), 3000),
        watch.output(),
      ).to.equal(true);
    } finally {
      watch.child.kill('SIGINT');
      await watch.done;
    }
  });
});

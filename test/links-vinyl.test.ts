/**
 * Issue 25: links are made by vinyl-fs's symlink() (the same function as gulp.symlink), fed the
 * planner's exact text; del removes what the tool proved its own, by exact path; mediaSrc is a
 * chain of through2 transforms.
 */
import { expect } from 'chai';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type Vinyl from 'vinyl';
import { clean, link, mediaSrc } from '../src/index.js';
import { onPause } from '../src/core/fs/pause.js';
import type { Report } from '../src/core/types.js';
import {
  appMedia,
  gulp,
  isLink,
  makeProject,
  mediaFiles,
  removeTempDirs,
  snapshot,
  tempDir,
  writeTree,
} from './support/project.js';

after(removeTempDirs);
afterEach(() => onPause(undefined));

const require = createRequire(import.meta.url);

/** Every call of vinyl-fs's symlink() while `run` runs: its output folder and the link texts written through it. */
async function spiedSymlink<T>(
  run: () => Promise<T>,
): Promise<{ result: T; calls: Array<{ outFolder: string; texts: string[] }> }> {
  const vfs = require('vinyl-fs') as { symlink: (folder: string, options?: unknown) => Writable };
  const real = vfs.symlink;
  const calls: Array<{ outFolder: string; texts: string[] }> = [];
  vfs.symlink = (folder, options) => {
    const call = { outFolder: folder, texts: [] as string[] };
    calls.push(call);
    const stream = real(folder, options);
    const write = stream.write.bind(stream) as (file: Vinyl) => boolean;
    (stream as unknown as { write: (file: Vinyl) => boolean }).write = (file) => {
      call.texts.push(String(file.symlink));
      return write(file);
    };
    return stream;
  };
  try {
    return { result: await run(), calls };
  } finally {
    vfs.symlink = real;
  }
}

function statusOf(report: Report, name: string): string | undefined {
  return report.apps.find((app) => app.name === name)?.status;
}

describe("links are made by vinyl-fs's symlink()", function () {
  this.timeout(30_000);

  it(
    "a run's links go through at most four symlink() streams side by side, fed the planner's texts, " +
      'each link once; none for a run with nothing to link',
    async () => {
      const names = ['blog', 'shop', 'zoo', 'cart', 'wiki', 'news'];
      const root = makeProject({ apps: names, gulp: false });
      const { result, calls } = await spiedSymlink(() => link({ cwd: root, mode: 'symlink' }));
      expect(result.counts).to.deep.equal({ linked: names.length });
      // Four streams side by side, the links written to them in turn, in plan order.
      expect(calls.map((call) => call.texts)).to.deep.equal(
        [0, 1, 2, 3].map((lane) =>
          names.filter((_name, at) => at % 4 === lane).map((name) => `../../apps/${name}/app_media/${name}`),
        ),
      );
      expect(calls.flatMap((call) => call.texts).sort()).to.deep.equal(
        names.map((name) => `../../apps/${name}/app_media/${name}`).sort(),
      );
      expect(new Set(calls.map((call) => call.outFolder)).size, 'one output folder, mediaRoot').to.equal(1);
      for (const name of names)
        expect(readlinkSync(path.join(root, 'public/media', name))).to.equal(`../../apps/${name}/app_media/${name}`);
      const again = await spiedSymlink(() => link({ cwd: root, mode: 'symlink' }));
      expect(again.result.counts).to.deep.equal({ 'up-to-date': names.length });
      expect(again.calls, 'an up-to-date run makes no stream').to.have.length(0);
    },
  );

  const layouts: Array<{
    title: string;
    config: Record<string, unknown>;
    prepare?: (root: string) => void;
    entry: string;
    expected: (root: string, name: string) => string;
  }> = [
    {
      title: 'a mediaRoot that is itself a link (texts relative to the real folder)',
      config: { mediaRoot: 'public/media' },
      prepare: (root) => {
        mkdirSync(path.join(root, 'srv/www/media'), { recursive: true });
        mkdirSync(path.join(root, 'public'), { recursive: true });
        symlinkSync('../srv/www/media', path.join(root, 'public/media'));
      },
      entry: 'public/media',
      expected: (root, name) =>
        path.relative(
          realpathSync(path.join(root, 'srv/www/media')),
          path.join(realpathSync(root), 'apps', name, 'app_media', name),
        ),
    },
    {
      title: 'a nested mediaRoot',
      config: { mediaRoot: 'public/static/v1/media' },
      entry: 'public/static/v1/media',
      expected: (_root, name) => `../../../../apps/${name}/app_media/${name}`,
    },
    {
      title: 'relative: false (absolute texts)',
      config: { mediaRoot: 'public/media', relative: false },
      entry: 'public/media',
      expected: (root, name) => path.join(realpathSync(root), 'apps', name, 'app_media', name),
    },
  ];
  for (const { title, config, prepare, entry, expected } of layouts) {
    it(`link texts are exactly the planner's for ${title}`, async () => {
      const root = makeProject({
        apps: ['blog', 'shop'],
        gulp: false,
        config: { ...config, mode: 'symlink', apps: ['./apps/blog', './apps/shop'] },
      });
      prepare?.(root);
      const { result, calls } = await spiedSymlink(() => link({ cwd: root }));
      expect(result.counts).to.deep.equal({ linked: 2 });
      for (const name of ['blog', 'shop']) {
        expect(readlinkSync(path.join(root, entry, name)), name).to.equal(expected(root, name));
        expect(readFileSync(path.join(root, entry, name, 'css', `${name}.css`), 'utf8')).to.equal(
          `.${name} { color: teal; }\n`,
        );
      }
      expect(calls.flatMap((call) => call.texts).sort()).to.deep.equal(
        ['blog', 'shop'].map((name) => expected(root, name)).sort(),
      );
    });
  }

  const takers: Array<[string, (at: string, root: string) => void]> = [
    ['a folder with a file', (at) => writeTree(at, { 'mine.txt': 'mine' })],
    ['a file', (at) => writeFileSync(at, 'mine')],
    [
      "a link of someone else's to the app's own media folder (another text)",
      (at, root) => symlinkSync(path.join(root, 'apps/blog/app_media/blog'), at),
    ],
  ];
  for (const [what, take] of takers) {
    it(
      `${what} taking the path between the plan and the link (vinyl-fs swallows the EEXIST): ` +
        `conflict, never linked; it is left as it is`,
      async () => {
        const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
        const at = path.join(root, 'public/media/blog');
        onPause((point, detail) => {
          if (point === 'link' && detail === 'blog') take(at, root);
        });
        const report = await link({ cwd: root, mode: 'symlink' });
        onPause(undefined);
        const before = snapshot(path.join(root, 'public/media'));
        expect(statusOf(report, 'blog')).to.equal('conflict');
        expect(report.apps[0]?.reason).to.match(/blog appeared while it was being linked/);
        expect(statusOf(report, 'shop')).to.equal('linked');
        const records = JSON.parse(readFileSync(path.join(root, 'public/media/.app-media.json'), 'utf8')) as {
          entries: Record<string, unknown>;
        };
        expect(Object.keys(records.entries), "not recorded as the tool's").to.deep.equal(['shop']);
        const cleaned = await clean({ cwd: root });
        expect(statusOf(cleaned, 'blog')).to.equal('foreign');
        expect(snapshot(path.join(root, 'public/media')).get('blog')).to.deep.equal(before.get('blog'));
      },
    );
  }
});

describe('del removes what the tool proved its own, by exact path', function () {
  this.timeout(30_000);

  it(
    'a mediaRoot whose path holds glob characters (my[site], a*b, {x}): link, ' +
      "prune and clean remove exactly the tool's entries, nothing a glob would match",
    async () => {
      const media = 'public/my[site]/a*b/{x}';
      const root = makeProject({
        apps: ['blog', 'shop'],
        config: { mediaRoot: media, mode: 'symlink', apps: ['./apps/blog', './apps/shop'] },
      });
      // What the same text read as a glob would match, and names beside the tool's.
      writeTree(root, {
        'public/mys/ab/x/blog/keep.txt': 'keep',
        'public/myi/a-b/x/shop': 'keep',
        'public/my[site]/a*b/{x}x/blog': 'keep',
        [`${media}/blogs/keep.txt`]: 'keep',
        [`${media}/b`]: 'keep',
      });
      const run = gulp(root, ['media:link']);
      expect(run.status, run.output).to.equal(0);
      // Everything beside mediaRoot, and what is in mediaRoot besides the tool's entries
      // (mediaRoot's own time changes).
      const keep = (): Map<string, unknown> =>
        new Map(
          [
            ...snapshot(path.join(root, 'public'), {
              skip: (rel) =>
                ['my[site]/a*b/{x}/blog', 'my[site]/a*b/{x}/shop', 'my[site]/a*b/{x}/.app-media.json'].includes(rel),
            }),
          ].filter(([rel]) => rel !== 'my[site]/a*b/{x}'),
        );
      const before = keep();
      writeFileSync(
        path.join(root, 'app-media.config.json'),
        JSON.stringify({ mediaRoot: media, mode: 'symlink', apps: ['./apps/blog'] }),
      );
      const pruned = appMedia(root, ['link']);
      expect(pruned.output).to.match(/pruned\s+shop/);
      expect(isLink(path.join(root, media, 'shop'))).to.equal(false);
      const cleaned = gulp(root, ['media:clean']);
      expect(cleaned.status, cleaned.output).to.equal(0);
      expect(readdirSync(path.join(root, media)).sort()).to.deep.equal(['b', 'blogs']);
      expect(keep()).to.deep.equal(before);
      expect(
        readFileSync(path.join(root, 'apps/blog/app_media/blog/css/blog.css'), 'utf8'),
        'what the link led to stays',
      ).to.equal('.blog { color: teal; }\n');
    },
  );
});

describe('mediaSrc() is built of through2 transforms', function () {
  this.timeout(30_000);

  it('back-pressure: a consumer that reads slowly gets every file once, in order', async () => {
    const root = tempDir('src');
    const files: Record<string, string> = {};
    for (let index = 0; index < 200; index++)
      files[`apps/blog/app_media/blog/f${String(index).padStart(3, '0')}.css`] = `.f${index} {}`;
    writeTree(root, { ...files, ...mediaFiles('apps/shop', 'shop') });
    writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({ mediaRoot: 'public/media', apps: ['./apps/blog', './apps/shop'] }),
    );
    const stream = mediaSrc({ cwd: root });
    const seen: string[] = [];
    for await (const file of stream as AsyncIterable<Vinyl>) {
      seen.push(file.relative.split(path.sep).join('/'));
      if (seen.length % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(seen).to.have.length(203);
    expect(new Set(seen).size).to.equal(203);
    expect(seen.slice(0, 3)).to.deep.equal(['blog/f000.css', 'blog/f001.css', 'blog/f002.css']);
  });
});

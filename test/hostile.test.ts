/**
 * The hostile-input catalogue (issue 8, spec §6 rules 1, 6 and 7): links in an
 * app's media to /etc and the home folder, app names with unicode, "..", NUL
 * or 300 characters, a mediaRoot that is a link to "/", config keys such as
 * __proto__, a config of 10,000 apps, symlink loops in an app's media. Each
 * gets a coded error (APP_MEDIA_*) or a reported skip, and nothing is written
 * outside mediaRoot (the project minus mediaRoot is snapshotted around every
 * run).
 *
 * Then faults that only a hook can time: an entry replaced by hand between the
 * plan and its apply (through `onProgress`, which apply calls after each file
 * an earlier app's copy writes): apply must re-check before every write and
 * never write or delete through a link that appeared.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyPlan } from '../src/link/apply.js';
import { keepAside, putBack } from '../src/link/swap.js';
import type { AppResult } from '../src/core/report.js';
import { acquireLock, LOCK_FILE } from '../src/core/fs/lock.js';
import { loadConfig } from '../src/core/config/load.js';
import { discoverApps } from '../src/core/discover.js';
import { clean, link, verify } from '../src/index.js';
import { planClean } from '../src/link/clean-plan.js';
import { planLink } from '../src/link/plan.js';
import { probe, probeMediaRoot } from '../src/link/probe.js';
import type { Report, RunOptions } from '../src/index.js';
import {
  applyContextOf,
  mediaFiles,
  removeTempDirs,
  sha,
  snapshot,
  tempDir,
  writeTree,
  type EntrySnapshot,
} from './support/project.js';
import { recordsTrust } from '../src/link/session.js';

after(removeTempDirs);

const MEDIA = 'public/media';

function project(files: Record<string, string | Buffer>, config: unknown): string {
  const root = tempDir('hostile');
  writeTree(root, files);
  fs.writeFileSync(
    path.join(root, 'app-media.config.json'),
    typeof config === 'string' ? config : `${JSON.stringify(config, null, 2)}\n`,
  );
  return root;
}

/**
 * The project without mediaRoot, folder times left out: making mediaRoot (and its parent
 * `public/`, "created if missing") is the one change allowed outside it.
 */
function outsideMedia(root: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rel, entry] of snapshot(root, { skip: (rel) => rel === MEDIA })) {
    if (rel === path.dirname(MEDIA) && entry.type === 'dir') continue;
    out[rel] = entry.type === 'dir' ? { type: 'dir' } : entry;
  }
  return out;
}

/** Names in a folder we must not write to (the file system root, the home folder). */
function namesIn(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

async function expectCode(run: Promise<unknown>, code: string): Promise<Error & { code: string; hint: string }> {
  try {
    await run;
  } catch (error) {
    expect((error as { code?: string }).code, (error as Error).message).to.equal(code);
    expect((error as { hint?: string }).hint, 'a hint naming the fix')
      .to.be.a('string')
      .and.not.equal('');
    return error as Error & { code: string; hint: string };
  }
  throw new Error(`expected ${code}, but the run succeeded`);
}

function statusOf(report: Report, name: string): string | undefined {
  return report.apps.find((app) => app.name === name)?.status;
}

/** Fails the test instead of hanging it: a hostile tree must never make a run loop. */
async function within<T>(ms: number, what: string, run: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run, limit]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------

describe("hostile input: links in an app's media to /etc and to the home folder", function () {
  this.timeout(30_000);
  const HOME = os.homedir();

  function withOutsideLinks(mode: 'copy' | 'symlink'): string {
    const root = project(mediaFiles('apps/blog', 'blog'), { mediaRoot: MEDIA, mode, apps: ['./apps/blog'] });
    const media = path.join(root, 'apps/blog/app_media/blog');
    fs.symlinkSync('/etc', path.join(media, 'etc'));
    fs.symlinkSync('/etc/hostname', path.join(media, 'css', 'hostname.css'));
    fs.symlinkSync(path.relative(path.join(media, 'img'), HOME), path.join(media, 'img', 'home'));
    return root;
  }

  it(
    'copy mode: none of them is copied, the line names them; verify passes (the copy holds no link); ' +
      'nothing written outside mediaRoot',
    async () => {
      const root = withOutsideLinks('copy');
      const before = outsideMedia(root);
      const home = namesIn(HOME);
      const hostname = fs.existsSync('/etc/hostname') ? sha(fs.readFileSync('/etc/hostname')) : undefined;
      const report = await link({ cwd: root });
      expect(statusOf(report, 'blog')).to.equal('copied');
      const reason = report.apps[0]?.reason ?? '';
      for (const name of ['etc', 'css/hostname.css', 'img/home'])
        expect(reason, `the line names ${name}`).to.include(name);
      expect(reason).to.match(/not copied/);
      const copy = path.join(root, MEDIA, 'blog');
      for (const rel of ['etc', 'css/hostname.css', 'img/home'])
        expect(fs.existsSync(path.join(copy, rel)), rel).to.equal(false);
      expect(fs.readdirSync(path.join(copy, 'css'))).to.deep.equal(['blog.css']);
      const checked = await verify({ cwd: root });
      expect(statusOf(checked, 'blog'), checked.apps[0]?.reason ?? '').to.equal('ok');
      expect(outsideMedia(root)).to.deep.equal(before);
      expect(namesIn(HOME)).to.deep.equal(home);
      if (hostname) expect(sha(fs.readFileSync('/etc/hostname'))).to.equal(hostname);
    },
  );

  it(
    'link mode: verify reports escape and names every such link; clean removes only the entry; ' +
      'nothing outside changes',
    async () => {
      const root = withOutsideLinks('symlink');
      const before = outsideMedia(root);
      const home = namesIn(HOME);
      expect(statusOf(await link({ cwd: root }), 'blog')).to.equal('linked');
      const checked = await verify({ cwd: root });
      expect(checked.failed).to.equal(true);
      expect(statusOf(checked, 'blog')).to.equal('escape');
      for (const name of ['etc', 'css/hostname.css', 'img/home'])
        expect(checked.apps[0]?.reason ?? '', name).to.include(name);
      const cleaned = await clean({ cwd: root });
      expect(statusOf(cleaned, 'blog')).to.equal('removed');
      expect(outsideMedia(root)).to.deep.equal(before);
      expect(namesIn(HOME)).to.deep.equal(home);
      expect(fs.existsSync('/etc/hostname') || fs.existsSync('/etc')).to.equal(true);
    },
  );
});

// ---------------------------------------------------------------------------

describe('hostile input: app names and media folder names', function () {
  this.timeout(30_000);

  const badNames: Array<[string, string]> = [
    ['unicode (é)', 'café'],
    ['".."', '..'],
    ['"a..b"', 'a..b'],
    ['a NUL character', 'a\u0000b'],
    ['300 characters', 'a'.repeat(300)],
    ['a slash', 'a/b'],
    ['a backslash', 'a\\b'],
    ['a leading dot', '.hidden'],
    ['a leading dash', '-rf'],
    ['a space', 'my app'],
    ['a newline', 'a\nb'],
    ['an empty string', ''],
  ];
  for (const [title, name] of badNames) {
    it(`an app name with ${title}: APP_MEDIA_BAD_NAME from link and verify, nothing written anywhere`, async () => {
      const root = project(mediaFiles('apps/blog', 'blog'), {
        mediaRoot: MEDIA,
        apps: [{ path: './apps/blog', name }],
      });
      const before = snapshot(root);
      const error = await expectCode(link({ cwd: root }), 'APP_MEDIA_BAD_NAME');
      expect(error.message).to.include('invalid app name');
      await expectCode(verify({ cwd: root }), 'APP_MEDIA_BAD_NAME');
      expect(snapshot(root)).to.deep.equal(before);
      expect(fs.existsSync(path.join(root, MEDIA))).to.equal(false);
    });
  }

  it(
    'a folder app whose folder name is unicode (café, no "name" in its entry): ' +
      'APP_MEDIA_BAD_NAME naming the entry',
    async () => {
      const root = project({ 'apps/café/app_media/café/x.css': 'x' }, { mediaRoot: MEDIA, apps: ['./apps/café'] });
      const before = snapshot(root);
      const error = await expectCode(link({ cwd: root }), 'APP_MEDIA_BAD_NAME');
      expect((error as { field?: string }).field).to.equal('apps[0]');
      expect(snapshot(root)).to.deep.equal(before);
    },
  );

  it('a package.json appMedia.name with ".." or a NUL: APP_MEDIA_BAD_NAME', async () => {
    for (const name of ['../../etc', 'x\u0000']) {
      const root = project(
        {
          'apps/blog/package.json': JSON.stringify({ name: 'blog', appMedia: { name } }),
          'apps/blog/app_media/blog/x.css': 'x',
        },
        { mediaRoot: MEDIA, apps: ['./apps/blog'] },
      );
      const before = snapshot(root);
      await expectCode(link({ cwd: root }), 'APP_MEDIA_BAD_NAME');
      expect(snapshot(root)).to.deep.equal(before);
    }
  });

  const badDirnames: Array<[string, unknown]> = [
    ['".."', '..'],
    ['"a/b"', 'a/b'],
    ['"../../etc"', '../../etc'],
    ['a NUL', 'app\u0000media'],
    ['"."', '.'],
    ['an absolute path', '/etc'],
  ];
  for (const [title, mediaDirname] of badDirnames) {
    it(
      `a mediaDirname of ${title} (entry, project, or the app's package.json): APP_MEDIA_BAD_VALUE, ` +
        `nothing written`,
      async () => {
        const configs: Array<[Record<string, string>, unknown]> = [
          [{}, { mediaRoot: MEDIA, apps: [{ path: './apps/blog', mediaDirname }] }],
          [{}, { mediaRoot: MEDIA, mediaDirname, apps: ['./apps/blog'] }],
          [
            { 'apps/blog/package.json': JSON.stringify({ name: 'blog', appMedia: { mediaDirname } }) },
            { mediaRoot: MEDIA, apps: ['./apps/blog'] },
          ],
        ];
        for (const [files, config] of configs) {
          const root = project({ ...mediaFiles('apps/blog', 'blog'), ...files }, config);
          const before = snapshot(root);
          await expectCode(link({ cwd: root }), 'APP_MEDIA_BAD_VALUE');
          expect(snapshot(root)).to.deep.equal(before);
        }
      },
    );
  }

  it(
    'foreign entries in mediaRoot with hostile names (é, a newline, a leading dash, 255 bytes) ' +
      'are listed as foreign and kept by link and clean',
    async () => {
      const names = ['café.txt', 'line\nbreak', '-rf', `${'x'.repeat(251)}.txt`, '..,', ' '];
      const root = project(
        {
          ...mediaFiles('apps/blog', 'blog'),
          ...Object.fromEntries(names.map((name) => [`${MEDIA}/${name}`, `mine ${name.length}`])),
        },
        { mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/blog'] },
      );
      const mine = (): Record<string, EntrySnapshot | undefined> =>
        Object.fromEntries(names.map((name) => [name, snapshot(path.join(root, MEDIA)).get(name)]));
      const before = mine();
      expect(statusOf(await link({ cwd: root }), 'blog')).to.equal('copied');
      const cleaned = await clean({ cwd: root, force: true });
      for (const name of names) expect(statusOf(cleaned, name), JSON.stringify(name)).to.equal('foreign');
      expect(statusOf(cleaned, 'blog')).to.equal('removed');
      expect(mine()).to.deep.equal(before);
    },
  );
});

// ---------------------------------------------------------------------------

describe('hostile input: a mediaRoot that is, or leads to, a file system root or the home folder', function () {
  this.timeout(30_000);
  const HOME = os.homedir();

  const cases: Array<{ title: string; mediaRoot: string; link?: string; code: string }> = [
    { title: 'a link to "/"', mediaRoot: MEDIA, link: '/', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    {
      title: 'a link to "/" through a relative text',
      mediaRoot: MEDIA,
      link: 'REL:/',
      code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT',
    },
    { title: '"/" itself', mediaRoot: '/', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    { title: '"/etc/.." (a root in disguise)', mediaRoot: '/etc/..', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    { title: 'a link to the home folder', mediaRoot: MEDIA, link: HOME, code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    { title: 'the home folder itself', mediaRoot: HOME, code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    { title: 'the project root (".")', mediaRoot: '.', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    { title: 'a folder holding the project ("..")', mediaRoot: '..', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    { title: "a link into an app's media folder", mediaRoot: MEDIA, link: 'APP', code: 'APP_MEDIA_LOOP' },
    { title: '"/etc" (a system folder)', mediaRoot: '/etc', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    { title: '"/usr"', mediaRoot: '/usr', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    {
      title: '"/etc/nginx/media" (inside a system folder)',
      mediaRoot: '/etc/nginx/media',
      code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT',
    },
    { title: '"node_modules"', mediaRoot: 'node_modules', code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT' },
    {
      title: '"node_modules/.cache/media" (inside node_modules)',
      mediaRoot: 'node_modules/.cache/media',
      code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT',
    },
  ];
  for (const { title, mediaRoot, link: linkTo, code } of cases) {
    // clean needs no app (it works after node_modules is gone), so it cannot see a loop: it only refuses unsafe roots.
    const tasks = code === 'APP_MEDIA_LOOP' ? 'link and verify' : 'link, clean and verify';
    it(`mediaRoot ${title}: ${code} from ${tasks}, before anything is touched`, async () => {
      const root = project(mediaFiles('apps/blog', 'blog'), { mediaRoot, apps: ['./apps/blog'] });
      if (linkTo) {
        fs.mkdirSync(path.join(root, 'public'), { recursive: true });
        const target =
          linkTo === 'APP'
            ? path.join(root, 'apps/blog/app_media/blog/img')
            : linkTo.startsWith('REL:')
              ? path.relative(path.join(root, 'public'), linkTo.slice(4))
              : linkTo;
        fs.symlinkSync(target, path.join(root, MEDIA));
      }
      const before = snapshot(root);
      const top = namesIn('/');
      const home = namesIn(HOME);
      const runs: Array<[string, () => Promise<Report>]> = [
        ['link', () => link({ cwd: root })],
        ['clean', () => clean({ cwd: root, force: true })],
        ['verify', () => verify({ cwd: root })],
      ];
      for (const [task, run] of runs) {
        if (task === 'clean' && code === 'APP_MEDIA_LOOP') continue;
        const error = await expectCode(run(), code);
        expect(error.message, task).to.match(/mediaRoot|loop|inside/i);
      }
      if (code === 'APP_MEDIA_UNSAFE_MEDIA_ROOT') await expectCode(link({ cwd: root, mode: 'copy' }), code);
      expect(snapshot(root)).to.deep.equal(before);
      expect(namesIn('/')).to.deep.equal(top);
      expect(namesIn(HOME)).to.deep.equal(home);
    });
  }
});

// ---------------------------------------------------------------------------

describe('hostile input: config keys __proto__, constructor and friends', function () {
  this.timeout(30_000);
  const prototypeNames = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();
  let pristine: string[];
  before(() => {
    pristine = prototypeNames();
  });
  afterEach(() => {
    expect(prototypeNames(), 'Object.prototype keeps its own properties').to.deep.equal(pristine);
    expect(({} as Record<string, unknown>)['polluted'], 'nothing was added to Object.prototype').to.equal(undefined);
    expect(Object.prototype.toString.call([])).to.equal('[object Array]');
  });

  const files = mediaFiles('apps/blog', 'blog');
  const texts: Array<[string, string, string]> = [
    [
      'a top-level "__proto__" in app-media.config.json',
      '{"mediaRoot":"public/media","__proto__":{"polluted":true},"apps":["./apps/blog"]}',
      '__proto__',
    ],
    [
      'a top-level "constructor"',
      '{"mediaRoot":"public/media","constructor":{"prototype":{"polluted":true}},"apps":["./apps/blog"]}',
      'constructor',
    ],
    [
      'a top-level "prototype"',
      '{"mediaRoot":"public/media","prototype":{"polluted":true},"apps":["./apps/blog"]}',
      'prototype',
    ],
    ['a top-level "toString"', '{"mediaRoot":"public/media","toString":"x","apps":["./apps/blog"]}', 'toString'],
    [
      '"__proto__" in an app entry',
      '{"mediaRoot":"public/media","apps":[{"path":"./apps/blog","__proto__":{"polluted":true}}]}',
      '__proto__',
    ],
    [
      '"constructor" in an app entry',
      '{"mediaRoot":"public/media","apps":[{"path":"./apps/blog","constructor":{"polluted":true}}]}',
      'constructor',
    ],
  ];
  for (const [title, text, key] of texts) {
    it(`${title}: APP_MEDIA_UNKNOWN_FIELD naming it; Object.prototype not polluted; nothing written`, async () => {
      const root = project(files, text);
      const before = snapshot(root);
      for (const run of [() => link({ cwd: root }), () => clean({ cwd: root }), () => verify({ cwd: root })]) {
        const error = await expectCode(run(), 'APP_MEDIA_UNKNOWN_FIELD');
        expect(error.message).to.include(`"${key}"`);
      }
      expect(snapshot(root)).to.deep.equal(before);
    });
  }

  it(
    '"__proto__" and "constructor" under "appMedia" in package.json: ' +
      'APP_MEDIA_UNKNOWN_FIELD with the appMedia. prefix',
    async () => {
      for (const key of ['__proto__', 'constructor']) {
        const root = tempDir('hostile');
        writeTree(root, {
          ...files,
          'package.json':
            `{"name":"site","appMedia":{"mediaRoot":"public/media","apps":["./apps/blog"],"` +
            `${key}":{"polluted":true}}}`,
        });
        const error = await expectCode(link({ cwd: root }), 'APP_MEDIA_UNKNOWN_FIELD');
        expect((error as { field?: string }).field).to.equal(`appMedia.${key}`);
      }
    },
  );

  it('"__proto__" and "constructor" as options in code: APP_MEDIA_UNKNOWN_FIELD', async () => {
    const root = project(files, { mediaRoot: MEDIA, apps: ['./apps/blog'] });
    const withProto = JSON.parse(`{"cwd":${JSON.stringify(root)},"__proto__":{"polluted":true}}`) as RunOptions;
    await expectCode(link(withProto), 'APP_MEDIA_UNKNOWN_FIELD');
    await expectCode(
      link({ cwd: root, constructor: { polluted: true } } as unknown as RunOptions),
      'APP_MEDIA_UNKNOWN_FIELD',
    );
    expect(fs.existsSync(path.join(root, MEDIA))).to.equal(false);
  });

  it(
    'a records file whose entries are "__proto__" and "constructor" claims nothing: ' +
      'foreign entries stay, Object.prototype intact',
    async () => {
      const root = project(
        { ...files, [`${MEDIA}/constructor/mine.txt`]: 'mine', [`${MEDIA}/legacy/index.html`]: 'mine' },
        { mediaRoot: MEDIA, apps: ['./apps/blog'] },
      );
      fs.writeFileSync(
        path.join(root, MEDIA, '.app-media.json'),
        '{"tool":"gulp-app-media","version":1,"entries":{"__proto__":{"kind":"copy","source":"x",' +
          '"files":{"mine.txt":[4,1]}},"constructor":{"kind":"symlink","source":"x","target":"sha256:00"},' +
          '"legacy":{"polluted":true}}}',
      );
      const before = snapshot(path.join(root, MEDIA), { skip: (rel) => rel.startsWith('.app-media') });
      expect(statusOf(await link({ cwd: root }), 'blog')).to.equal('linked');
      const cleaned = await clean({ cwd: root, force: true });
      expect(statusOf(cleaned, 'constructor')).to.equal('foreign');
      expect(statusOf(cleaned, 'legacy')).to.equal('foreign');
      const after = snapshot(path.join(root, MEDIA), { skip: (rel) => rel.startsWith('.app-media') });
      expect(after).to.deep.equal(before);
    },
  );

  for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    it(
      `an app named "${name}" (an Object.prototype member) links, verifies and cleans like any other; ` +
        `a folder of yours at that name is a conflict and stays`,
      async () => {
        const root = project(mediaFiles(`apps/${name}`, name), {
          mediaRoot: MEDIA,
          mode: 'copy',
          apps: [`./apps/${name}`],
        });
        expect(statusOf(await link({ cwd: root }), name)).to.equal('copied');
        expect(statusOf(await verify({ cwd: root }), name)).to.equal('ok');
        expect(statusOf(await clean({ cwd: root }), name)).to.equal('removed');
        writeTree(root, { [`${MEDIA}/${name}/mine.txt`]: 'mine' });
        const mine = snapshot(path.join(root, MEDIA, name));
        const linked = await link({ cwd: root });
        expect(statusOf(linked, name)).to.equal('conflict');
        expect(statusOf(await clean({ cwd: root, force: true }), name)).to.equal('foreign');
        expect(snapshot(path.join(root, MEDIA, name))).to.deep.equal(mine);
      },
    );
  }

  it(
    'clean says a foreign folder named "constructor" is "not made by app-media" when there ' +
      'is no records file (regression)',
    async () => {
      for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
        const root = project({ [`${MEDIA}/${name}/mine.txt`]: 'mine' }, { mediaRoot: MEDIA, apps: [] });
        const cleaned = await clean({ cwd: root });
        expect(cleaned.apps.find((app) => app.name === name)?.reason, name).to.equal(
          'not made by app-media; left as it is',
        );
      }
    },
  );
});

// ---------------------------------------------------------------------------

describe('hostile input: a config of 10,000 apps', function () {
  this.timeout(60_000);
  const COUNT = 10_000;
  const names = Array.from({ length: COUNT }, (_, index) => `app${String(index).padStart(5, '0')}`);

  // Speed is measured by `npm run bench`, not asserted here: a run that hangs fails by this describe's timeout.
  it('10,000 app folders that do not exist: APP_MEDIA_APP_NOT_FOUND naming the first, nothing written', async () => {
    const root = project({}, { mediaRoot: MEDIA, apps: names.map((name) => `./apps/${name}`) });
    const before = snapshot(root);
    const error = await expectCode(link({ cwd: root }), 'APP_MEDIA_APP_NOT_FOUND');
    expect((error as { field?: string }).field).to.equal('apps[0]');
    expect(snapshot(root)).to.deep.equal(before);
  });

  it(
    '10,000 apps of which 20 have media: link, a no-change link, verify and clean each finish in seconds; ' +
      'only mediaRoot is written',
    async () => {
      const root = tempDir('hostile-10k');
      for (const [index, name] of names.entries()) {
        fs.mkdirSync(path.join(root, 'apps', name), { recursive: true });
        if (index % 500 === 0) writeTree(root, mediaFiles(`apps/${name}`, name));
      }
      fs.writeFileSync(
        path.join(root, 'app-media.config.json'),
        JSON.stringify({ mediaRoot: MEDIA, apps: names.map((name) => `./apps/${name}`) }),
      );
      const before = outsideMedia(root);
      const times: Record<string, number> = {};
      const timed = async (label: string, run: () => Promise<Report>): Promise<Report> => {
        const started = performance.now();
        const report = await within(20_000, label, run());
        times[label] = Math.round(performance.now() - started);
        return report;
      };
      const linked = await timed('link', () => link({ cwd: root }));
      expect(linked.counts).to.deep.equal({ linked: 20, 'no-media': COUNT - 20 });
      expect(linked.failed).to.equal(false);
      const media = snapshot(path.join(root, MEDIA));
      expect([...media.keys()].filter((rel) => !rel.startsWith('.app-media')).length).to.equal(20);
      const again = await timed('link again', () => link({ cwd: root }));
      expect(again.counts).to.deep.equal({ 'up-to-date': 20, 'no-media': COUNT - 20 });
      expect(snapshot(path.join(root, MEDIA)), 'a no-change run writes nothing').to.deep.equal(media);
      const checked = await timed('verify', () => verify({ cwd: root }));
      expect(checked.counts).to.deep.equal({ ok: 20, 'no-media': COUNT - 20 });
      const copied = await timed('link --mode copy', () => link({ cwd: root, mode: 'copy' }));
      expect(copied.counts).to.deep.equal({ relinked: 20, 'no-media': COUNT - 20 });
      const cleaned = await timed('clean', () => clean({ cwd: root }));
      expect(cleaned.counts).to.deep.equal({ removed: 20 });
      expect(outsideMedia(root)).to.deep.equal(before);
      if (process.env['HOSTILE_VERBOSE'])
        console.log(
          `      10,000 apps: ${Object.entries(times)
            .map(([label, ms]) => `${label} ${ms} ms`)
            .join(', ')}`,
        );
    },
  );
});

// ---------------------------------------------------------------------------

describe("hostile input: symlink loops and dangling links inside an app's media", function () {
  this.timeout(30_000);

  function withLoops(mode: 'copy' | 'symlink'): string {
    const root = project(mediaFiles('apps/blog', 'blog'), { mediaRoot: MEDIA, mode, apps: ['./apps/blog'] });
    const media = path.join(root, 'apps/blog/app_media/blog');
    fs.symlinkSync('loop-b', path.join(media, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(media, 'loop-b'));
    fs.symlinkSync('self', path.join(media, 'self'));
    // a link to an ancestor folder inside the media: a cycle for a walker that follows it
    fs.symlinkSync('..', path.join(media, 'css', 'up'));
    fs.symlinkSync('../../..', path.join(media, 'img', 'way-up')); // ... and one outside it
    fs.symlinkSync('missing.css', path.join(media, 'css', 'dangling.css'));
    return root;
  }

  it(
    'copy mode: link finishes, copies the real files and none of the loops; verify and clean finish; ' +
      'nothing outside changes',
    async () => {
      const root = withLoops('copy');
      const before = outsideMedia(root);
      const report = await within(10_000, 'link', link({ cwd: root }));
      expect(statusOf(report, 'blog')).to.equal('copied');
      expect(report.apps[0]?.reason ?? '').to.include('img/way-up');
      const copy = path.join(root, MEDIA, 'blog');
      const copied = [...snapshot(copy).entries()]
        .filter(([, entry]) => entry.type !== 'dir')
        .map(([rel]) => rel)
        .sort();
      expect(copied).to.deep.equal(['css/blog.css', 'img/blog.png', 'js/blog.js']);
      expect(statusOf(await within(10_000, 'verify', verify({ cwd: root })), 'blog')).to.equal('ok');
      expect(statusOf(await within(10_000, 'clean', clean({ cwd: root })), 'blog')).to.equal('removed');
      expect(outsideMedia(root)).to.deep.equal(before);
    },
  );

  it(
    'link mode: link and verify finish; verify reports the link leading outside (escape) ' + 'and nothing hangs',
    async () => {
      const root = withLoops('symlink');
      const before = outsideMedia(root);
      expect(statusOf(await within(10_000, 'link', link({ cwd: root })), 'blog')).to.equal('linked');
      const checked = await within(10_000, 'verify', verify({ cwd: root }));
      expect(statusOf(checked, 'blog')).to.equal('escape');
      expect(checked.apps[0]?.reason ?? '').to.include('img/way-up');
      expect(outsideMedia(root)).to.deep.equal(before);
    },
  );

  it(
    "a symlink loop or a dangling link left out of a copy is named in the copy's line, " + 'with how many more',
    async () => {
      const root = withLoops('copy');
      const report = await link({ cwd: root });
      const reason = report.apps[0]?.reason ?? '';
      // Five are left out (two loops, a self-link, a link to a folder, a dangling link): three named, "and 2 more".
      const named = ['loop-a', 'loop-b', 'self', 'css/up', 'css/dangling.css'].filter((name) =>
        new RegExp(`[:,] ${name.replace('.', '\\.')}[ ,]`).test(reason),
      );
      expect(named, reason).to.have.length(3);
      expect(reason).to.match(/and 2 more \(a dangling or looping link, a link to a folder, or not a regular file\)/);
    },
  );
});

// ---------------------------------------------------------------------------

describe('faults: a run that fails after taking the lock releases it', function () {
  this.timeout(20_000);

  /*
   * A lock left held by a run that failed is kept fresh by its process: in a process that
   * goes on (media:watch, a script calling the API), every later run would wait for it.
   * (clean's look under the lock sits in the same try. A swapped mediaRoot does not make that
   * look fail, as it finds no records there, so clean has no test of its own here.)
   */
  it(
    "link: mediaRoot swapped for a link into an app's media folder while the run waits for the lock: " +
      'refused, and the lock it took there is released',
    async () => {
      const root = project(
        { 'apps/blog/app_media/blog/site.css': 'body{}', 'apps/blog/app_media/blog/inner/note.txt': 'x' },
        { mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/blog'] },
      );
      // mediaRoot is a link (the spec allows it), so it can be swapped for another link in one rename.
      fs.mkdirSync(path.join(root, 'public/real'), { recursive: true });
      fs.symlinkSync('real', path.join(root, MEDIA));
      const held = await acquireLock(path.join(root, MEDIA));
      let waiting!: () => void;
      const waits = new Promise<void>((resolve) => {
        waiting = resolve;
      });
      const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: () => waiting() };
      const run = link({ cwd: root, logger });
      await waits;
      const inner = path.join(root, 'apps/blog/app_media/blog/inner');
      fs.symlinkSync(inner, path.join(root, 'public/swapped'));
      fs.renameSync(path.join(root, 'public/swapped'), path.join(root, MEDIA));
      const error = await run.then(
        () => undefined,
        (failure: unknown) => failure as { code?: string },
      );
      expect(error?.code, 'the look under the lock refuses the swapped mediaRoot').to.equal('APP_MEDIA_LOOP');
      expect(fs.readdirSync(inner), "no lock left in the app's media folder").to.deep.equal(['note.txt']);
      await held.release();
      expect(
        fs.existsSync(path.join(root, 'public/real', LOCK_FILE)),
        "the test's own lock stays where it was taken",
      ).to.equal(true);
    },
  );
});

describe('faults: an entry replaced by hand between plan and apply (apply re-checks before every write)', function () {
  this.timeout(30_000);

  /**
   * A project with `first` (a fresh copy of 20 files, so apply calls onProgress) before
   * `victim` in the config; `swap` runs once, at the first file `first` writes: after the
   * plan, before victim's turn.
   */
  async function withSwap(options: {
    victimMode: 'copy' | 'symlink';
    change: (root: string) => void;
    config?: Record<string, unknown>;
    swap: (root: string) => void;
  }): Promise<{ root: string; report: Report }> {
    const root = project(
      {
        ...firstFiles(),
        ...mediaFiles('apps/victim', 'victim'),
        'apps/victim/app_media/victim/css/extra.css': 'extra',
      },
      { mediaRoot: MEDIA, mode: options.victimMode, apps: ['./apps/victim'] },
    );
    expect((await link({ cwd: root })).failed).to.equal(false);
    options.change(root);
    fs.writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({ mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/first', './apps/victim'], ...options.config }),
    );
    return { root, report: await linkSwappingOnce(root, () => options.swap(root)) };
  }

  /** 20 files for the app `first`, so its copy reports progress (the moment of the swap). */
  function firstFiles(): Record<string, string> {
    const files: Record<string, string> = {};
    for (let index = 0; index < 20; index++) files[`apps/first/app_media/first/f${index}.css`] = `first ${index}`;
    return files;
  }

  /** link(), calling `swap` once, at the first file written: after the plan, during apply. */
  async function linkSwappingOnce(root: string, swap: () => void): Promise<Report> {
    let swapped = false;
    const report = await link({
      cwd: root,
      onProgress: () => {
        if (swapped) return;
        swapped = true;
        swap();
      },
    });
    expect(swapped, 'the swap happened during apply').to.equal(true);
    return report;
  }

  /**
   * A folder outside mediaRoot with the same names, sizes and modification times as `from`: what
   * a link made by hand may lead to. Its files pass the re-check of size and time before a delete,
   * so only the refusal to go through a link keeps them (issue 29: fresh times hid a missing guard).
   */
  function twinOf(root: string, from: string, name: string): string {
    const twin = path.join(root, 'outside', name);
    fs.cpSync(from, twin, { recursive: true, preserveTimestamps: true });
    for (const [rel, entry] of snapshot(from)) {
      if (entry.type !== 'file') continue;
      const apart = fs.statSync(path.join(twin, rel)).mtimeMs - fs.statSync(path.join(from, rel)).mtimeMs;
      expect(Math.abs(apart), `${rel}: the twin keeps the time (as the re-check compares it)`).to.be.lessThan(1);
    }
    return twin;
  }

  /**
   * withSwap where the swap replaces `rel` (below mediaRoot) by a link to its twin outside:
   * returns the twin and its snapshot taken at the swap, to prove nothing went through the link.
   */
  async function swapForOutsideLink(
    rel: string,
    options: { change: (root: string) => void; config?: Record<string, unknown> },
  ): Promise<{ root: string; report: Report; twin: string; outside: Map<string, EntrySnapshot> }> {
    let twin = '';
    let outside: Map<string, EntrySnapshot> = new Map();
    const { root, report } = await withSwap({
      victimMode: 'copy',
      ...options,
      swap: (root) => {
        const inMedia = path.join(root, MEDIA, rel);
        twin = twinOf(root, inMedia, `${path.basename(rel)}-twin`);
        outside = snapshot(twin);
        fs.rmSync(inMedia, { recursive: true });
        fs.symlinkSync(twin, inMedia);
      },
    });
    return { root, report, twin, outside };
  }

  const temporaries = (root: string): string[] =>
    [...snapshot(path.join(root, MEDIA)).keys()].filter((rel) =>
      rel.split('/').some((part) => part.startsWith('.app-media-tmp-')),
    );
  const changeSource = (root: string): void =>
    fs.writeFileSync(
      path.join(root, 'apps/victim/app_media/victim/css/victim.css'),
      '.victim { color: red; } /* changed, another size */\n',
    );

  it(
    "a copy's sub-folder replaced by a link to a folder outside: " + 'the sync writes nothing through it (regression)',
    async () => {
      const { root, report, twin, outside } = await swapForOutsideLink('victim/css', { change: changeSource });
      expect(snapshot(twin), 'the folder outside is untouched').to.deep.equal(outside);
      expect(statusOf(report, 'victim')).to.be.oneOf(['conflict', 'error']);
      expect(statusOf(report, 'first')).to.equal('copied');
      expect(fs.readlinkSync(path.join(root, MEDIA, 'victim', 'css'))).to.equal(twin);
      expect(temporaries(root)).to.deep.equal([]);
    },
  );

  it(
    'a whole copy replaced by a link to a folder outside: ' + 'the sync writes nothing through it (regression)',
    async () => {
      const { root, report, twin, outside } = await swapForOutsideLink('victim', { change: changeSource });
      expect(snapshot(twin), 'the folder outside is untouched').to.deep.equal(outside);
      expect(statusOf(report, 'victim')).to.be.oneOf(['conflict', 'error']);
      expect(fs.readlinkSync(path.join(root, MEDIA, 'victim'))).to.equal(twin);
      expect(temporaries(root)).to.deep.equal([]);
    },
  );

  it(
    'a copy whose sync deletes a file, its folder replaced by a link meanwhile: ' +
      'nothing deleted through it, conflict',
    async () => {
      const { root, report, twin, outside } = await swapForOutsideLink('victim/css', {
        change: (root) => fs.rmSync(path.join(root, 'apps/victim/app_media/victim/css/extra.css')),
      });
      expect(snapshot(twin), 'the folder outside is untouched').to.deep.equal(outside);
      expect(statusOf(report, 'victim')).to.equal('conflict');
      expect(fs.readlinkSync(path.join(root, MEDIA, 'victim', 'css'))).to.equal(twin);
      expect(temporaries(root)).to.deep.equal([]);
    },
  );

  it(
    'the copy of an app no longer configured, to be pruned, replaced by a link meanwhile: ' +
      'nothing deleted through it, the link stays',
    async () => {
      const { root, report, twin, outside } = await swapForOutsideLink('victim', {
        change: () => undefined,
        config: { apps: ['./apps/first'] },
      });
      expect(snapshot(twin)).to.deep.equal(outside);
      expect(statusOf(report, 'victim')).to.equal('conflict');
      expect(fs.readlinkSync(path.join(root, MEDIA, 'victim'))).to.equal(twin);
    },
  );

  it(
    "the tool's own link, to be replaced by a copy, replaced by hand with another link meanwhile: " +
      'that link is not removed (re-checked text), conflict',
    async () => {
      let mine = '';
      const { root, report } = await withSwap({
        victimMode: 'symlink',
        change: () => undefined,
        swap: (root) => {
          const entry = path.join(root, MEDIA, 'victim');
          mine = path.join(root, 'apps/victim/app_media/victim');
          fs.rmSync(entry);
          fs.symlinkSync(mine, entry); // same folder, another text: not the tool's
        },
      });
      expect(statusOf(report, 'victim')).to.equal('conflict');
      expect(fs.lstatSync(path.join(root, MEDIA, 'victim')).isSymbolicLink()).to.equal(true);
      expect(fs.readlinkSync(path.join(root, MEDIA, 'victim'))).to.equal(mine);
      expect(temporaries(root)).to.deep.equal([]);
    },
  );

  it(
    'a folder of yours appearing where a new copy goes: left as it is (the name is claimed with mkdir), ' +
      'conflict, no temporary folder left',
    async () => {
      const root = project(
        { ...firstFiles(), ...mediaFiles('apps/victim', 'victim') },
        { mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/first', './apps/victim'] },
      );
      const report = await linkSwappingOnce(root, () => writeTree(root, { [`${MEDIA}/victim/mine.txt`]: 'mine' }));
      expect(statusOf(report, 'victim')).to.equal('conflict');
      expect(fs.readdirSync(path.join(root, MEDIA, 'victim'))).to.deep.equal(['mine.txt']);
      expect(fs.readFileSync(path.join(root, MEDIA, 'victim', 'mine.txt'), 'utf8')).to.equal('mine');
      expect(temporaries(root)).to.deep.equal([]);
    },
  );
});

// ---------------------------------------------------------------------------

describe(
  'faults: a person writing in a copy between the plan and its apply (files are looked ' + 'at again right before)',
  function () {
    this.timeout(30_000);

    /**
     * media:link's steps, with `between` run after the plan and before apply:
     * the moment no hook of the API reaches.
     */
    async function linkWithEditBetween(
      root: string,
      options: RunOptions,
      between: () => void,
    ): Promise<{ results: AppResult[]; warnings: string[] }> {
      const config = await loadConfig({ cwd: root, ...options });
      const probed = await probe(config.projectRoot, config.mediaRoot, discoverApps(config), {
        walk: config.mode === 'copy' ? 'all' : 'existing-copies',
        ignore: config.ignore,
        trust: recordsTrust(config),
      });
      const plan = planLink({
        probed,
        projectRoot: config.projectRoot,
        mode: config.mode,
        relative: config.relative,
        prune: true,
        platform: process.platform,
      });
      between();
      const ctx = applyContextOf(config, probed.realMediaRoot);
      try {
        return await applyPlan(plan, ctx);
      } finally {
        ctx.ws.close();
        ctx.ws.root.close();
      }
    }

    const copiedProject = async (): Promise<string> => {
      const root = project(mediaFiles('apps/blog', 'blog'), { mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/blog'] });
      expect((await link({ cwd: root })).counts).to.deep.equal({ copied: 1 });
      return root;
    };
    const kept = (root: string): string[] =>
      fs.readdirSync(path.join(root, MEDIA)).filter((name) => name.startsWith('.app-media-kept-'));
    const outcomeOf = (run: { results: AppResult[] }): AppResult | undefined =>
      run.results.find((result) => result.name === 'blog');

    it(
      "an app's media folder replaced by another folder between the plan and the link: " +
        'the new link is checked against the folder there now, linked',
      async () => {
        const root = project(mediaFiles('apps/blog', 'blog'), {
          mediaRoot: MEDIA,
          mode: 'symlink',
          apps: ['./apps/blog'],
        });
        const media = path.join(root, 'apps/blog/app_media/blog');
        const result = await linkWithEditBetween(root, {}, () => {
          fs.renameSync(media, `${media}-old`);
          writeTree(root, { 'apps/blog/app_media/blog/css/new.css': 'new' });
        });
        expect(outcomeOf(result)).to.include({ status: 'linked', mode: 'symlink' });
        expect(fs.realpathSync(path.join(root, MEDIA, 'blog'))).to.equal(fs.realpathSync(media));
        expect(fs.readFileSync(path.join(root, MEDIA, 'blog', 'css', 'new.css'), 'utf8')).to.equal('new');
      },
    );

    it(
      'a copy about to be replaced by a link gains a file: the copy is put back as it is (no link), ' +
        'conflict; the next run refuses the switch and names the file',
      async () => {
        const root = await copiedProject();
        const result = await linkWithEditBetween(root, { mode: 'symlink' }, () =>
          fs.writeFileSync(path.join(root, MEDIA, 'blog', 'css', 'mine.css'), 'mine'),
        );
        expect(outcomeOf(result)).to.include({ status: 'conflict' });
        expect(outcomeOf(result)?.reason).to.match(
          /blog: 1 file added in its copy since it was checked; the copy was left as it is/,
        );
        expect(fs.lstatSync(path.join(root, MEDIA, 'blog')).isDirectory()).to.equal(true);
        expect(fs.readFileSync(path.join(root, MEDIA, 'blog', 'css', 'mine.css'), 'utf8')).to.equal('mine');
        expect(fs.readFileSync(path.join(root, MEDIA, 'blog', 'css', 'blog.css'), 'utf8')).to.equal(
          '.blog { color: teal; }\n',
        );
        expect(
          fs.readdirSync(path.join(root, MEDIA)).filter((name) => name.startsWith('.app-media-tmp-')),
        ).to.deep.equal([]);

        const again = await link({ cwd: root, mode: 'symlink' });
        expect(statusOf(again, 'blog')).to.equal('conflict');
        expect(again.apps[0]?.reason).to.include('css/mine.css');
        expect(fs.readFileSync(path.join(root, MEDIA, 'blog', 'css', 'mine.css'), 'utf8')).to.equal('mine');
      },
    );

    it('a copy about to be replaced by a link has a file edited: put back as it is, the edit kept', async () => {
      const root = await copiedProject();
      const file = path.join(root, MEDIA, 'blog', 'js', 'blog.js');
      const result = await linkWithEditBetween(root, { mode: 'symlink' }, () =>
        fs.writeFileSync(file, 'console.log("my fix, longer than before");\n'),
      );
      expect(outcomeOf(result)?.reason).to.match(/1 file changed in its copy/);
      expect(fs.readFileSync(file, 'utf8')).to.equal('console.log("my fix, longer than before");\n');
    });

    it(
      'a file the sync would update is edited meanwhile: left as it is, conflict; ' +
        'the next run keeps it as changed by hand',
      async () => {
        const root = await copiedProject();
        fs.writeFileSync(
          path.join(root, 'apps/blog/app_media/blog/css/blog.css'),
          '.blog { color: navy; } /* the source changed */\n',
        );
        const copied = path.join(root, MEDIA, 'blog', 'css', 'blog.css');
        const result = await linkWithEditBetween(root, {}, () => fs.writeFileSync(copied, '/* my edit */\n'));
        expect(outcomeOf(result)).to.include({ status: 'conflict' });
        expect(outcomeOf(result)?.reason).to.match(
          /blog\/css\/blog\.css was changed since it was checked; it was left as it is/,
        );
        expect(fs.readFileSync(copied, 'utf8')).to.equal('/* my edit */\n');
        const again = await link({ cwd: root });
        expect(statusOf(again, 'blog')).to.equal('conflict');
        expect(again.apps[0]?.reason).to.include('css/blog.css (changed by hand)');
        expect(fs.readFileSync(copied, 'utf8')).to.equal('/* my edit */\n');
      },
    );

    it(
      'a big file (copied on the thread pool) edited by hand while its new version is being copied: ' +
        'the edit is kept, conflict, no temporary file left',
      async () => {
        const big = (fill: number): Buffer => Buffer.alloc(600 * 1024, fill);
        const root = project(
          { ...mediaFiles('apps/blog', 'blog'), 'apps/blog/app_media/blog/img/big.bin': big(1) },
          { mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/blog'] },
        );
        expect((await link({ cwd: root })).counts).to.deep.equal({ copied: 1 });
        // Both change in the source; the big file is started first (name order), the small one is
        // copied while it is in flight, and its progress call is the moment of the edit.
        fs.writeFileSync(path.join(root, 'apps/blog/app_media/blog/img/big.bin'), big(2));
        fs.writeFileSync(path.join(root, 'apps/blog/app_media/blog/js/blog.js'), 'console.log("new");\n');
        const copied = path.join(root, MEDIA, 'blog', 'img', 'big.bin');
        let edited = false;
        const report = await link({
          cwd: root,
          onProgress: ({ bytes }) => {
            if (edited) return;
            edited = true;
            expect(bytes, 'the first file reported is the small one: the big one is still being copied').to.be.below(
              600 * 1024,
            );
            fs.writeFileSync(copied, 'my edit\n');
          },
        });
        expect(edited).to.equal(true);
        expect(statusOf(report, 'blog')).to.equal('conflict');
        expect(report.apps[0]?.reason).to.match(
          /blog\/img\/big\.bin was changed since it was checked; it was left as it is/,
        );
        expect(fs.readFileSync(copied, 'utf8')).to.equal('my edit\n');
        expect(
          fs.readdirSync(path.join(root, MEDIA, 'blog', 'img')).filter((name) => name.startsWith('.app-media-tmp-')),
        ).to.deep.equal([]);
      },
    );

    it(
      'a progress callback that throws once a big file (copied on the thread pool) is done: ' +
        'that app is error, the run ends, nothing partial is published',
      async () => {
        const files: Record<string, Buffer> = {};
        for (let index = 0; index < 6; index++)
          files[`apps/blog/app_media/blog/img/big${index}.bin`] = Buffer.alloc(600 * 1024, index);
        const root = project(
          { ...mediaFiles('apps/blog', 'blog'), ...files },
          { mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/blog'] },
        );
        let calls = 0;
        const report = await link({
          cwd: root,
          onProgress: ({ bytes }) => {
            calls++;
            if (bytes >= 600 * 1024) throw new Error('progress display broke');
          },
        });
        expect(calls).to.be.greaterThan(0);
        expect(statusOf(report, 'blog')).to.equal('error');
        expect(report.apps[0]?.reason).to.contain('progress display broke');
        expect(fs.readdirSync(path.join(root, MEDIA)).filter((name) => name !== '.app-media.json')).to.deep.equal([]);
      },
    );

    it(
      'a progress callback that throws, for a copy of big files only (each copied on the thread pool): ' +
        'that app is error, nothing is published',
      async () => {
        const root = project(
          {
            'apps/blog/app_media/blog/a.bin': Buffer.alloc(600 * 1024, 1),
            'apps/blog/app_media/blog/b.bin': Buffer.alloc(600 * 1024, 2),
          },
          { mediaRoot: MEDIA, mode: 'copy', apps: ['./apps/blog'] },
        );
        const report = await link({
          cwd: root,
          onProgress: () => {
            throw new Error('progress display broke');
          },
        });
        expect(statusOf(report, 'blog')).to.equal('error');
        expect(report.apps[0]?.reason).to.contain('progress display broke');
        expect(fs.readdirSync(path.join(root, MEDIA)).filter((name) => name !== '.app-media.json')).to.deep.equal([]);
      },
    );

    it(
      'the copy replaced between the plan and its apply by a twin folder (same names, sizes and times): ' +
        'nothing is written or deleted in it, conflict',
      async () => {
        const root = await copiedProject();
        // The source changes: the sync would delete one file and write another.
        fs.rmSync(path.join(root, 'apps/blog/app_media/blog/img/blog.png'));
        fs.writeFileSync(path.join(root, 'apps/blog/app_media/blog/css/blog.css'), '.blog { color: navy; }\n');
        const entry = path.join(root, MEDIA, 'blog');
        const twin = path.join(root, 'twin');
        let before: Map<string, EntrySnapshot> = new Map();
        const result = await linkWithEditBetween(root, {}, () => {
          fs.cpSync(entry, twin, { recursive: true, preserveTimestamps: true });
          fs.rmSync(entry, { recursive: true });
          fs.renameSync(twin, entry);
          before = snapshot(entry);
        });
        expect(outcomeOf(result)).to.include({ status: 'conflict' });
        expect(snapshot(entry), 'the folder there now is as it was put').to.deep.equal(before);
      },
    );

    it(
      "a file whose mode only is to be set (the source's changed) is edited meanwhile: " +
        'its mode and time are left as they are, conflict',
      async () => {
        const root = await copiedProject();
        fs.chmodSync(path.join(root, 'apps/blog/app_media/blog/css/blog.css'), 0o600);
        const copied = path.join(root, MEDIA, 'blog', 'css', 'blog.css');
        const result = await linkWithEditBetween(root, {}, () =>
          fs.writeFileSync(copied, '/* my edit, same length */\n'.slice(0, 23)),
        );
        expect(outcomeOf(result)).to.include({ status: 'conflict' });
        expect(fs.readFileSync(copied, 'utf8')).to.equal('/* my edit, same length */\n'.slice(0, 23));
        expect(fs.statSync(copied).mode & 0o777).to.equal(0o644);
      },
    );

    it('a file a new source file would take the place of is created meanwhile: not written over', async () => {
      const root = await copiedProject();
      fs.writeFileSync(path.join(root, 'apps/blog/app_media/blog/css/new.css'), '.new {}\n');
      const mine = path.join(root, MEDIA, 'blog', 'css', 'new.css');
      const result = await linkWithEditBetween(root, {}, () => fs.writeFileSync(mine, '/* mine first */\n'));
      expect(outcomeOf(result)).to.include({ status: 'conflict' });
      expect(fs.readFileSync(mine, 'utf8')).to.equal('/* mine first */\n');
    });

    it(
      'media:clean: a file of the copy edited after the plan is not deleted (the folder ' + 'stays with it), conflict',
      async () => {
        const root = await copiedProject();
        const config = await loadConfig({ cwd: root });
        const probed = probeMediaRoot(config.mediaRoot, recordsTrust(config));
        const plan = planClean(probed.entries, probed.records, false, root);
        const file = path.join(root, MEDIA, 'blog', 'img', 'blog.png');
        fs.writeFileSync(file, 'my picture now');
        const ctx = applyContextOf(config, probed.realMediaRoot);
        const { results: outcomes } = await applyPlan(plan, ctx);
        ctx.ws.root.close();
        expect(outcomes[0]).to.include({ status: 'conflict' });
        expect(fs.readFileSync(file, 'utf8')).to.equal('my picture now');
      },
    );

    it(
      "a set-aside copy that still holds a file after the tool's own are removed is kept under .app-media-kept-*: " +
        'named in a warning, never swept or cleaned, no trace for the next run',
      async () => {
        const root = await copiedProject();
        const ctx = applyContextOf(await loadConfig({ cwd: root }), path.join(root, MEDIA));
        const aside = ctx.ws.tempName('blog');
        writeTree(path.join(root, MEDIA, aside), { 'css/late.css': 'late' });
        const warnings: string[] = [];
        const where = keepAside(aside, 'blog', ctx, warnings);
        ctx.ws.root.close();
        expect(warnings).to.have.length(1);
        expect(warnings[0]).to.include(`${MEDIA}/${path.basename(where)}/`);
        expect(kept(root)).to.deep.equal([path.basename(where)]);
        const before = fs.statSync(path.join(root, MEDIA)).mtimeMs;

        const again = await link({ cwd: root });
        expect(again.counts).to.deep.equal({ 'up-to-date': 1 });
        expect(again.warnings, 'nothing was swept').to.deep.equal([]);
        expect(fs.statSync(path.join(root, MEDIA)).mtimeMs, 'no lock taken, nothing written in mediaRoot').to.equal(
          before,
        );
        expect((await clean({ cwd: root })).counts).to.deep.equal({ removed: 1 });
        expect(fs.readFileSync(path.join(where, 'css', 'late.css'), 'utf8')).to.equal('late');
      },
    );

    it(
      'a set-aside copy is not put back over a folder made at its name meanwhile (not even an empty one): ' +
        'kept aside, with its own warning',
      async () => {
        const root = await copiedProject();
        const mediaRoot = path.join(root, MEDIA);
        const ctx = applyContextOf(await loadConfig({ cwd: root }), mediaRoot);
        const aside = ctx.ws.tempName('blog');
        fs.renameSync(path.join(mediaRoot, 'blog'), path.join(mediaRoot, aside));
        fs.mkdirSync(path.join(mediaRoot, 'blog')); // yours, empty: rename() would replace it
        const warnings: string[] = [];
        expect(putBack(aside, 'blog', ctx, warnings)).to.equal(false);
        ctx.ws.root.close();
        expect(fs.readdirSync(path.join(mediaRoot, 'blog'))).to.deep.equal([]);
        expect(kept(root)).to.have.length(1);
        expect(fs.readFileSync(path.join(mediaRoot, kept(root)[0] as string, 'css', 'blog.css'), 'utf8')).to.equal(
          '.blog { color: teal; }\n',
        );
        expect(warnings[0]).to.match(
          new RegExp(
            '^blog: something took its place while its old copy was set aside; ' +
              'the old copy is kept in public/media/\\.app-media-kept-blog-',
          ),
        );
      },
    );
  },
);

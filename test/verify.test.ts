/**
 * `media:verify` as a user meets it: real temporary projects, each problem
 * made for real on disk, the real gulp CLI (exit code, the status word on the
 * app's line, the hint), the programmatic `verify()`, and a real static web
 * server on 127.0.0.1 for `--url`.
 */
import { expect } from 'chai';
import { promises as fsp, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import handler from 'serve-handler';
import { isAppMediaError, link, verify, type Report } from '../src/index.js';
import {
  exists,
  GULP_BIN,
  gulp,
  isLink,
  jsonReport,
  linkedInProcess,
  makeProject,
  removeTempDirs,
  runAsync,
  sha,
  snapshot,
  writeTree,
  type RunResult,
} from './support/project.js';

after(removeTempDirs);

const MEDIA_ROOT = 'public/media';

function writeConfig(root: string, config: Record<string, unknown>): void {
  writeFileSync(
    path.join(root, 'app-media.config.json'),
    `${JSON.stringify({ mediaRoot: MEDIA_ROOT, ...config }, null, 2)}\n`,
  );
}

/** `apps/<from>` moves to `apps/<to>`; the config keeps calling it by its old name. */
function moveApp(root: string, from: string, to: string): { path: string; name: string } {
  renameSync(path.join(root, 'apps', from), path.join(root, 'apps', to));
  return { path: `./apps/${to}`, name: from };
}

function media(root: string, name: string, rel = ''): string {
  return path.join(root, 'apps', name, 'app_media', name, rel);
}

function statuses(report: Report): Record<string, string> {
  return Object.fromEntries(report.apps.map((app) => [app.name, app.status]));
}

function appOf(report: Report, name: string): Report['apps'][number] {
  const found = report.apps.find((app) => app.name === name);
  if (!found) throw new Error(`no line for ${name} in ${JSON.stringify(statuses(report))}`);
  return found;
}

interface AppLine {
  status: string;
  entry: string;
  reason: string | null;
  hint: string | null;
}

/**
 * The per-app lines a person reads, from either stream (gulp's logger sends
 * failing apps to stderr): `exposed      blog  public/media/blog -> ...`,
 * then indented reason and `hint:` lines.
 */
function appLines(run: RunResult): Record<string, AppLine> {
  const out: Record<string, AppLine> = {};
  for (const stream of [run.stdout, run.stderr]) {
    let current: AppLine | undefined;
    for (const raw of stream.split('\n')) {
      const line = raw.replace(/^\[\d{2}:\d{2}:\d{2}\] /, '');
      const head = /^([a-z-]+) +([A-Za-z0-9][A-Za-z0-9._-]*) {2,}(\S.*)$/.exec(line);
      if (head?.[1] !== undefined && head[2] !== undefined && head[3] !== undefined) {
        current = { status: head[1], entry: head[3], reason: null, hint: null };
        out[head[2]] = current;
        continue;
      }
      const more = /^ {13}(hint: )?(\S.*)$/.exec(line);
      if (current && more?.[2] !== undefined) {
        if (more[1]) current.hint = more[2];
        else current.reason = more[2];
        continue;
      }
      current = undefined;
    }
  }
  return out;
}

function lineOf(run: RunResult, name: string): AppLine {
  const found = appLines(run)[name];
  if (!found) throw new Error(`no line for ${name} in:\n${run.output}`);
  return found;
}

function statusWords(run: RunResult): Record<string, string> {
  return Object.fromEntries(Object.entries(appLines(run)).map(([name, line]) => [name, line.status]));
}

describe('media:verify is read-only', () => {
  for (const mode of ['symlink', 'copy'] as const) {
    it(
      `leaves the whole project byte- and timestamp-identical while it reports six problems ` + `(${mode} mode)`,
      async () => {
        const root = makeProject({
          apps: ['blog', 'shop', 'news', 'old', 'docs', 'wiki'],
          config: { mediaRoot: MEDIA_ROOT, apps: ['./apps/blog', './apps/shop', './apps/news', './apps/old'] },
          files: {
            'apps/news/app_media/news/key.pem': '-----BEGIN PRIVATE KEY-----\n',
            'secret.txt': 'not for the web',
          },
        });
        await linkedInProcess(root, { mode });

        let shop: string | { path: string; name: string } = './apps/shop';
        if (mode === 'symlink') {
          symlinkSync('../../../../secret.txt', media(root, 'blog', 'leak.txt')); // escape
          shop = moveApp(root, 'shop', 'shop-v2'); // its own link now dangles
        } else {
          // the source changed
          writeFileSync(media(root, 'blog', 'css/blog.css'), '.blog { color: red; border: 0; }\n');
          // the copy changed by hand
          writeFileSync(path.join(root, MEDIA_ROOT, 'shop/css/shop.css'), '/* edited in the copy */\n');
        }
        writeTree(root, { 'public/media/wiki/index.html': '<p>not made by app-media</p>' }); // conflict
        // `old` leaves the config (stale), `docs` joins it unlinked (missing).
        writeConfig(root, { apps: ['./apps/blog', shop, './apps/news', './apps/docs', './apps/wiki'] });

        const manifestFile = path.join(root, MEDIA_ROOT, '.app-media.json');
        const manifestBefore = readFileSync(manifestFile);
        const before = Object.fromEntries(snapshot(root));
        expect(before['public/media/.app-media.json'], 'the snapshot covers the manifest').to.include({ type: 'file' });
        expect(
          Object.keys(before).some((rel) => rel.startsWith('apps/news/app_media/news/')),
          'the snapshot covers the apps',
        ).to.equal(true);

        const run = gulp(root, ['media:verify']);

        expect(run.status, run.output).to.not.equal(0);
        expect(statusWords(run)).to.deep.equal(
          mode === 'symlink'
            ? { blog: 'escape', shop: 'dangling', news: 'exposed', docs: 'missing', wiki: 'conflict', old: 'stale' }
            : { blog: 'drift', shop: 'drift', news: 'exposed', docs: 'missing', wiki: 'conflict', old: 'stale' },
        );
        expect(Object.fromEntries(snapshot(root)), 'every path, sha, mtime and inode as before').to.deep.equal(before);
        expect(sha(readFileSync(manifestFile)), "the manifest's bytes").to.equal(sha(manifestBefore));
      },
    );
  }

  it('the snapshot sees a touched timestamp with unchanged bytes (so the check above can fail)', async () => {
    const root = makeProject({ apps: ['blog'], gulp: false });
    await link({ cwd: root, mode: 'copy' });
    const before = Object.fromEntries(snapshot(root));
    const file = path.join(root, MEDIA_ROOT, 'blog/css/blog.css');
    await fsp.utimes(file, new Date(), new Date(Date.now() - 60_000));
    expect(Object.fromEntries(snapshot(root))).to.not.deep.equal(before);
  });
});

describe('media:verify statuses through the gulp CLI', () => {
  it(
    'missing: an app with media that was never linked; exit non-zero, hint "run media:link", ' + 'nothing created',
    async () => {
      const root = makeProject({ apps: ['blog', 'shop'], config: { mediaRoot: MEDIA_ROOT, apps: ['./apps/blog'] } });
      await link({ cwd: root, mode: 'symlink' });
      writeConfig(root, { apps: ['./apps/blog', './apps/shop'] });

      const run = gulp(root, ['media:verify']);
      expect(run.status, run.output).to.not.equal(0);
      expect(lineOf(run, 'blog').status).to.equal('ok');
      expect(lineOf(run, 'shop')).to.deep.equal({
        status: 'missing',
        entry: 'public/media/shop',
        reason: 'nothing is published for this app',
        hint: 'run media:link',
      });
      expect(run.output).to.match(/media:verify: 1 ok, 1 missing in public\/media \(\d+ ms\)/);
      expect(run.output).to.contain('media:verify failed: shop (missing)');
      expect(run.output, 'no stack trace').to.not.match(/\n\s+at /);
      expect(exists(path.join(root, MEDIA_ROOT, 'shop')), 'verify made nothing').to.equal(false);

      // The hint's fix works.
      await link({ cwd: root, mode: 'symlink' });
      expect(statuses(await verify({ cwd: root }))).to.deep.equal({ blog: 'ok', shop: 'ok' });
    },
  );

  it(
    "dangling: the app moved (config updated), the tool's own link leads nowhere; " +
      'hint names media:link, which fixes it',
    async () => {
      const root = makeProject({ apps: ['blog', 'shop'] });
      await link({ cwd: root, mode: 'symlink' });
      writeConfig(root, { apps: [moveApp(root, 'blog', 'blog-v2'), './apps/shop'] });
      expect(
        isLink(path.join(root, MEDIA_ROOT, 'blog')) && !exists(path.join(root, MEDIA_ROOT, 'blog/css')),
        'the link dangles',
      ).to.equal(true);

      const run = gulp(root, ['media:verify']);
      expect(run.status, run.output).to.not.equal(0);
      const blog = lineOf(run, 'blog');
      expect(blog).to.include({ status: 'dangling', hint: 'run media:link to relink it' });
      expect(blog.reason).to.contain('../../apps/blog/app_media/blog');
      expect(lineOf(run, 'shop').status).to.equal('ok');
      expect(run.output).to.contain('media:verify failed: blog (dangling)');

      await link({ cwd: root, mode: 'symlink' });
      const report = await verify({ cwd: root });
      expect(statuses(report)).to.deep.equal({ blog: 'ok', shop: 'ok' });
      expect(readFileSync(path.join(root, MEDIA_ROOT, 'blog/css/blog.css'), 'utf8')).to.contain('.blog');
    },
  );

  it(
    'drift (copy mode): a source file changed, one deleted, one added; each named, ' +
      'hint names media:link, which fixes it',
    async () => {
      const root = makeProject({ apps: ['blog', 'shop', 'news'] });
      await link({ cwd: root, mode: 'copy' });
      writeFileSync(media(root, 'blog', 'css/blog.css'), '.blog { color: red; margin: 0; }\n');
      await fsp.rm(media(root, 'shop', 'js/shop.js'));
      writeTree(root, { 'apps/news/app_media/news/img/new.png': 'png' });

      const run = gulp(root, ['media:verify']);
      expect(run.status, run.output).to.not.equal(0);
      const lines = appLines(run);
      expect(lines['blog']?.reason).to.equal('the copy differs from the source: css/blog.css changed');
      expect(lines['shop']?.reason).to.equal('the copy differs from the source: js/shop.js no longer in the source');
      expect(lines['news']?.reason).to.equal('the copy differs from the source: img/new.png missing');
      for (const name of ['blog', 'shop', 'news']) {
        expect(lines[name], name).to.include({
          status: 'drift',
          entry: `public/media/${name} (copy)`,
          hint: 'run media:link to bring the copy in line',
        });
      }
      expect(run.output).to.match(/media:verify: 3 drift in public\/media/);

      await link({ cwd: root, mode: 'copy' });
      expect(statuses(await verify({ cwd: root }))).to.deep.equal({ blog: 'ok', shop: 'ok', news: 'ok' });
    },
  );

  it(
    "drift (copy mode): a file changed by hand in the copy points the user to the app's " + 'media folder instead',
    async () => {
      const root = makeProject({ apps: ['blog'], gulp: false });
      await link({ cwd: root, mode: 'copy' });
      writeFileSync(path.join(root, MEDIA_ROOT, 'blog/css/blog.css'), '/* hot fix in production */\n');
      const report = await verify({ cwd: root });
      expect(report.failed).to.equal(true);
      expect(appOf(report, 'blog')).to.include({
        status: 'drift',
        reason: 'the copy differs from the source: css/blog.css changed by hand',
      });
      expect(appOf(report, 'blog').hint).to.contain("edit the app's media folder, not the copy");
    },
  );

  it(
    'exposed (link mode): .env, id_rsa, *.pem, .git/ and a config pattern "*.sql" on top ' + 'of the defaults',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop', 'news', 'docs', 'wiki', 'plain'],
        files: {
          'apps/blog/app_media/blog/.env': 'DATABASE_URL=postgres://u:p@db/prod\n',
          'apps/shop/app_media/shop/id_rsa': '-----BEGIN OPENSSH PRIVATE KEY-----\n',
          'apps/news/app_media/news/certs/secret.pem': '-----BEGIN CERTIFICATE-----\n',
          'apps/docs/app_media/docs/.git/config': '[core]\n',
          'apps/wiki/app_media/wiki/dump.sql': 'INSERT INTO users VALUES (1);\n',
        },
      });
      writeConfig(root, {
        apps: ['blog', 'shop', 'news', 'docs', 'wiki', 'plain'].map((name) => `./apps/${name}`),
        exposed: ['*.sql'],
      });
      await link({ cwd: root, mode: 'symlink' });

      const run = gulp(root, ['media:verify']);
      expect(run.status, run.output).to.not.equal(0);
      const lines = appLines(run);
      expect(statusWords(run)).to.deep.equal({
        blog: 'exposed',
        shop: 'exposed',
        news: 'exposed',
        docs: 'exposed',
        wiki: 'exposed',
        plain: 'ok',
      });
      expect(lines['blog']?.reason).to.equal('published file that looks secret: .env');
      expect(lines['shop']?.reason).to.equal('published file that looks secret: id_rsa');
      expect(lines['news']?.reason).to.equal('published file that looks secret: certs/secret.pem');
      expect(lines['docs']?.reason).to.equal('published file that looks secret: .git/');
      expect(lines['wiki']?.reason).to.equal('published file that looks secret: dump.sql');
      for (const name of ['blog', 'shop', 'news', 'docs', 'wiki']) {
        expect(lines[name]?.hint, name).to.equal(
          'move it out of the app\'s media folder: a link publishes everything in it ("ignore" only applies to copies)',
        );
      }
      expect(run.output).to.contain(
        'media:verify failed: blog (exposed), shop (exposed), news (exposed), docs (exposed), wiki (exposed)',
      );

      // Without the config's pattern, a .sql file is not one of the defaults.
      writeConfig(root, { apps: ['blog', 'shop', 'news', 'docs', 'wiki', 'plain'].map((name) => `./apps/${name}`) });
      expect(appOf(await verify({ cwd: root }), 'wiki').status).to.equal('ok');
    },
  );

  it('no-media passes (exit 0) and says which folder looks misnamed', async () => {
    const root = makeProject({
      apps: ['news'],
      config: { mediaRoot: MEDIA_ROOT, apps: ['./apps/blog', './apps/shop', './apps/news'] },
    });
    writeTree(root, { 'apps/blog/app_media/Blog/site.css': 'x', 'apps/shop/static/shop/site.css': 'y' });
    await link({ cwd: root, mode: 'symlink' });

    const run = gulp(root, ['media:verify']);
    expect(run.status, run.output).to.equal(0);
    expect(lineOf(run, 'news').status).to.equal('ok');
    expect(lineOf(run, 'blog')).to.include({ status: 'no-media', reason: 'the app has no app_media/blog/ folder' });
    expect(lineOf(run, 'blog').hint).to.contain('found app_media/Blog').and.contain('rename it to app_media/blog/');
    expect(lineOf(run, 'shop')).to.include({ status: 'no-media' });
    expect(lineOf(run, 'shop').hint).to.contain('found static/shop').and.contain('"mediaDirname": "static"');
    expect(run.output).to.match(/media:verify: 2 no-media, 1 ok in public\/media/);
    expect(run.output).to.not.contain('failed');
  });
});

describe('media:verify statuses through verify()', () => {
  it("wrong-target: the tool's own link leads to an existing folder that is no longer the app's", async () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    await link({ cwd: root, mode: 'symlink' });
    writeConfig(root, { apps: [moveApp(root, 'blog', 'blog-v2'), './apps/shop'] });
    writeTree(root, { 'apps/blog/app_media/blog/old.css': 'left behind' });

    const report = await verify({ cwd: root });
    expect(report.failed).to.equal(true);
    expect(statuses(report)).to.deep.equal({ blog: 'wrong-target', shop: 'ok' });
    expect(appOf(report, 'blog')).to.include({ mode: 'symlink', hint: 'run media:link to relink it' });
    expect(appOf(report, 'blog').reason).to.contain('its link leads to ../../apps/blog/app_media/blog');

    const relinked = await link({ cwd: root, mode: 'symlink' });
    expect(appOf(relinked, 'blog').status).to.equal('relinked');
    expect((await verify({ cwd: root })).failed).to.equal(false);
    expect(
      readFileSync(path.join(root, 'apps/blog/app_media/blog/old.css'), 'utf8'),
      'the old folder is left alone',
    ).to.equal('left behind');
  });

  it('dangling: absolute links after the whole project moved; media:link relinks, then ok', async () => {
    const root = makeProject({
      apps: ['blog'],
      gulp: false,
      config: { mediaRoot: MEDIA_ROOT, apps: ['./apps/blog'], relative: false },
    });
    await link({ cwd: root });
    const moved = `${root}-moved`;
    renameSync(root, moved);
    try {
      const report = await verify({ cwd: moved });
      expect(appOf(report, 'blog')).to.include({ status: 'dangling', hint: 'run media:link to relink it' });
      expect(report.failed).to.equal(true);
      await link({ cwd: moved });
      expect(statuses(await verify({ cwd: moved }))).to.deep.equal({ blog: 'ok' });
    } finally {
      renameSync(moved, root);
    }
  });

  for (const mode of ['symlink', 'copy'] as const) {
    it(
      `stale (${mode} mode): the own entry of an app removed from the config, ` +
        `and of an app whose media folder went away`,
      async () => {
        const root = makeProject({ apps: ['blog', 'shop', 'news'], gulp: false });
        await link({ cwd: root, mode });
        renameSync(path.join(root, 'apps/news/app_media'), path.join(root, 'apps/news/app_media_off'));
        writeConfig(root, { apps: ['./apps/blog', './apps/news'] });

        const report = await verify({ cwd: root });
        expect(report.failed).to.equal(true);
        expect(statuses(report)).to.deep.equal({ blog: 'ok', news: 'stale', shop: 'stale' });
        expect(appOf(report, 'shop')).to.include({
          mode,
          reason: 'made by app-media for an app that is no longer configured',
        });
        expect(appOf(report, 'shop').hint).to.contain('run media:link').and.contain('media:clean');
        expect(appOf(report, 'news').reason).to.contain('no app_media/news/ folder any more');

        const fixed = await link({ cwd: root, mode });
        expect(statuses(fixed)).to.deep.equal({ blog: 'up-to-date', news: 'pruned', shop: 'pruned' });
        expect(statuses(await verify({ cwd: root }))).to.deep.equal({ blog: 'ok', news: 'no-media' });
      },
    );
  }

  it(
    'conflict: a foreign file, folder, link elsewhere and dangling link at mediaRoot/<name>; ' +
      'a hand-made link to the right folder is ok',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop', 'news', 'wiki', 'docs'],
        gulp: false,
        files: { 'elsewhere/keep.txt': 'mine' },
      });
      const mediaRoot = path.join(root, MEDIA_ROOT);
      mkdirSync(mediaRoot, { recursive: true });
      writeFileSync(path.join(mediaRoot, 'blog'), 'a file');
      writeTree(root, { 'public/media/shop/index.html': '<p>mine</p>' });
      symlinkSync('../../elsewhere', path.join(mediaRoot, 'news'));
      symlinkSync('../../nowhere', path.join(mediaRoot, 'wiki'));
      symlinkSync('../../apps/docs/app_media/docs', path.join(mediaRoot, 'docs'));

      const report = await verify({ cwd: root });
      expect(report.failed).to.equal(true);
      expect(statuses(report)).to.deep.equal({
        blog: 'conflict',
        shop: 'conflict',
        news: 'conflict',
        wiki: 'conflict',
        docs: 'ok',
      });
      expect(appOf(report, 'blog').hint).to.contain('move or remove it by hand');
      expect(appOf(report, 'shop').hint).to.contain('move or remove that folder by hand');
      expect(appOf(report, 'news').reason).to.contain('../../elsewhere');
      expect(appOf(report, 'news').hint).to.contain('remove it by hand if it is yours to remove');
      expect(appOf(report, 'docs').reason).to.equal('a link made outside app-media; it leads to the right folder');
    },
  );

  it(
    "escape (link mode): links inside the app's media folder to a file and a folder outside it; " +
      'a link within it is fine; a copy leaves them out',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop', 'news'],
        gulp: false,
        files: { 'secret.txt': 'not for the web', 'private/notes.txt': 'mine' },
      });
      symlinkSync('../../../../secret.txt', media(root, 'blog', 'leak.txt'));
      symlinkSync(path.join(root, 'private'), media(root, 'shop', 'private'));
      symlinkSync('css/news.css', media(root, 'news', 'latest.css'));
      await link({ cwd: root, mode: 'symlink' });

      const report = await verify({ cwd: root });
      expect(report.failed).to.equal(true);
      expect(statuses(report)).to.deep.equal({ blog: 'escape', shop: 'escape', news: 'ok' });
      expect(appOf(report, 'blog').reason).to.equal(
        "leak.txt inside the published media leads outside the app's media folder",
      );
      expect(appOf(report, 'shop').reason).to.equal(
        "private inside the published media leads outside the app's media folder",
      );
      expect(appOf(report, 'blog').hint).to.contain('replace each such link with the file itself, or remove it');

      // Published as copies instead, the links are left out: nothing escapes.
      const copyRoot = makeProject({ apps: ['blog'], gulp: false, files: { 'secret.txt': 'not for the web' } });
      symlinkSync('../../../../secret.txt', media(copyRoot, 'blog', 'leak.txt'));
      await link({ cwd: copyRoot, mode: 'copy' });
      expect(exists(path.join(copyRoot, MEDIA_ROOT, 'blog/leak.txt'))).to.equal(false);
      expect(statuses(await verify({ cwd: copyRoot }))).to.deep.equal({ blog: 'ok' });
    },
  );

  it(
    'exposed (copy mode): the copy is what is published, ' +
      'so an ignored .env is not exposed but a copied key.pem is',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop'],
        gulp: false,
        files: {
          'apps/blog/app_media/blog/.env': 'SECRET=1\n',
          'apps/shop/app_media/shop/key.pem': '-----BEGIN PRIVATE KEY-----\n',
        },
      });
      await link({ cwd: root, mode: 'copy' });
      expect(exists(path.join(root, MEDIA_ROOT, 'blog/.env')), 'ignore ".*" kept it out of the copy').to.equal(false);
      expect(exists(path.join(root, MEDIA_ROOT, 'shop/key.pem'))).to.equal(true);

      const report = await verify({ cwd: root });
      expect(report.failed).to.equal(true);
      expect(statuses(report)).to.deep.equal({ blog: 'ok', shop: 'exposed' });
      expect(appOf(report, 'shop')).to.include({ mode: 'copy', reason: 'published file that looks secret: key.pem' });
      expect(appOf(report, 'shop').hint).to.contain('add a pattern to "ignore"');
    },
  );

  it('a link placed by hand inside a copy that leads outside is escape, a .env placed there is exposed', async () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false, files: { 'secret.txt': 'not for the web' } });
    await link({ cwd: root, mode: 'copy' });
    symlinkSync(path.join(root, 'secret.txt'), path.join(root, MEDIA_ROOT, 'blog/leak.txt'));
    writeFileSync(path.join(root, MEDIA_ROOT, 'shop/.env'), 'SECRET=1\n');
    const report = await verify({ cwd: root });
    expect(statuses(report)).to.deep.equal({ blog: 'escape', shop: 'exposed' });
  });

  it('an own link is not ok when the config says "mode": "copy"', async () => {
    const root = makeProject({ apps: ['blog'], gulp: false });
    await link({ cwd: root, mode: 'symlink' });
    writeConfig(root, { apps: ['./apps/blog'], mode: 'copy' });
    const report = await verify({ cwd: root });
    expect(report.failed).to.equal(true);
    expect(appOf(report, 'blog').status).to.not.equal('ok');
  });
});

describe('media:verify when everything is right', () => {
  for (const mode of ['symlink', 'copy'] as const) {
    it(`all apps ok (${mode} mode): exit 0, one ok line per app, summary "N ok"`, async () => {
      const root = makeProject({ apps: ['blog', 'shop', 'news'] });
      await link({ cwd: root, mode });
      const run = gulp(root, ['media:verify']);
      expect(run.status, run.output).to.equal(0);
      for (const name of ['blog', 'shop', 'news']) {
        expect(lineOf(run, name), name).to.deep.equal({
          status: 'ok',
          entry: `public/media/${name} -> apps/${name}/app_media/${name} (${mode})`,
          reason: null,
          hint: null,
        });
      }
      expect(run.stdout).to.match(/media:verify: 3 ok in public\/media \(\d+ ms\)/);
      expect(run.stderr).to.equal('');
    });
  }

  it('--config <file> --json --silent prints the report as one JSON document', async () => {
    const root = makeProject({ apps: ['blog', 'shop'], config: { mediaRoot: MEDIA_ROOT, apps: ['./apps/blog'] } });
    await link({ cwd: root, mode: 'symlink' });
    writeConfig(root, { apps: ['./apps/blog', './apps/shop'] });
    renameSync(path.join(root, 'app-media.config.json'), path.join(root, 'media.json')); // only --config finds it

    const run = gulp(root, ['media:verify', '--config', 'media.json', '--json', '--silent']);
    expect(run.status, run.output).to.not.equal(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(report).to.include({ task: 'verify', dryRun: false, mediaRoot: 'public/media', failed: true });
    expect(report['counts']).to.deep.equal({ ok: 1, missing: 1 });
    expect(jsonReport(run).apps).to.deep.equal([
      {
        name: 'blog',
        status: 'ok',
        mode: 'symlink',
        source: 'apps/blog/app_media/blog',
        target: 'public/media/blog',
        files: 0,
        bytes: 0,
        reason: null,
        hint: null,
      },
      {
        name: 'shop',
        status: 'missing',
        mode: null,
        source: 'apps/shop/app_media/shop',
        target: 'public/media/shop',
        files: 0,
        bytes: 0,
        reason: 'nothing is published for this app',
        hint: 'run media:link',
      },
    ]);
  });

  it('--url not-a-url fails with APP_MEDIA_BAD_FLAG and a hint, no stack; ftp:// is refused too', async () => {
    const root = makeProject({ apps: ['blog'] });
    await link({ cwd: root, mode: 'symlink' });
    const run = gulp(root, ['media:verify', '--url', 'not-a-url']);
    expect(run.status, run.output).to.not.equal(0);
    expect(run.output).to.contain(
      'APP_MEDIA_BAD_FLAG: --url: --url must be a full address such as http://localhost:8080, not "not-a-url"',
    );
    expect(run.output).to.contain('hint: write it as --url http://host:port');
    expect(run.output, 'no stack trace').to.not.match(/\n\s+at /);

    const refused = await verify({ cwd: root, url: 'ftp://127.0.0.1/' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isAppMediaError(refused) && refused.code).to.equal('APP_MEDIA_BAD_FLAG');
  });
});

// --- --url against a real static server on 127.0.0.1 ----------------------

const servers: http.Server[] = [];

after(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** Whether a segment of the request path under `publicDir` is a symbolic link. */
async function linkOnPath(publicDir: string, url: string): Promise<boolean> {
  let current = publicDir;
  for (const part of decodeURIComponent(new URL(url, 'http://x').pathname).split('/').filter(Boolean)) {
    current = path.join(current, part);
    try {
      if ((await fsp.lstat(current)).isSymbolicLink()) return true;
    } catch {
      return false;
    }
  }
  return false;
}

interface ServeOptions {
  /** serve-handler's own option: follow a link that is the requested path's last segment. */
  symlinks?: boolean;
  /**
   * Refuse (403) any link anywhere on the path, as Apache does without
   * `Options FollowSymLinks` and nginx with `disable_symlinks on`.
   * serve-handler alone only refuses a link in the last segment.
   */
  strict?: boolean;
  /**
   * Refuse (403) any path with a segment starting with ".", the usual hardening (nginx: location ~ /\. { deny all; }).
   */
  denyDotfiles?: boolean;
}

/** serve-handler serving `publicDir` at "/" on 127.0.0.1, an ephemeral port; returns its base URL. */
async function serve(publicDir: string, options: ServeOptions = {}): Promise<string> {
  const server = http.createServer((request, response) => {
    void (async () => {
      if (options.strict && (await linkOnPath(publicDir, request.url ?? '/'))) {
        response.writeHead(403, { 'content-type': 'text/plain' });
        response.end('Symbolic link not allowed\n');
        return;
      }
      if (
        options.denyDotfiles &&
        new URL(request.url ?? '/', 'http://x').pathname.split('/').some((part) => part.startsWith('.'))
      ) {
        response.writeHead(403, { 'content-type': 'text/plain' });
        response.end('Forbidden\n');
        return;
      }
      await handler(request, response, { public: publicDir, symlinks: options.symlinks ?? false });
    })().catch(() => {
      response.statusCode = 500;
      response.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The gulp CLI without blocking this process, so that a server in it can answer. */
function gulpAsync(cwd: string, args: string[]): Promise<RunResult> {
  return runAsync([GULP_BIN, '--no-color', ...args], cwd);
}

const SYMLINK_HINT = /the server may refuse to follow symbolic links.*serve-handler: "symlinks": true/;

describe('media:verify --url against a real web server', () => {
  let linkRoot = '';
  let copyRoot = '';

  before(async () => {
    linkRoot = makeProject({ apps: ['blog', 'shop'] });
    await link({ cwd: linkRoot, mode: 'symlink' });
    copyRoot = makeProject({ apps: ['blog', 'shop'], gulp: false });
    await link({ cwd: copyRoot, mode: 'copy' });
  });

  it(
    'a server that refuses to follow links (like Apache without FollowSymLinks): ' +
      'every linked app unserved, with the symbolic-link hint',
    async () => {
      const base = await serve(path.join(linkRoot, 'public'), { strict: true });
      const report = await verify({ cwd: linkRoot, url: base });
      expect(report.failed).to.equal(true);
      expect(statuses(report)).to.deep.equal({ blog: 'unserved', shop: 'unserved' });
      expect(appOf(report, 'blog').reason).to.equal(`GET ${base}/media/blog/css/blog.css answered 403 Forbidden`);
      expect(appOf(report, 'shop').hint).to.match(SYMLINK_HINT);
    },
  );

  it('through the gulp CLI: unserved lines with the hint, and a non-zero exit', async () => {
    const base = await serve(path.join(linkRoot, 'public'), { strict: true });
    const run = await gulpAsync(linkRoot, ['media:verify', '--url', base]);
    expect(run.status, run.output).to.not.equal(0);
    for (const name of ['blog', 'shop']) {
      const line = lineOf(run, name);
      expect(line.status, name).to.equal('unserved');
      expect(line.reason, name).to.equal(`GET ${base}/media/${name}/css/${name}.css answered 403 Forbidden`);
      expect(line.hint, name).to.match(SYMLINK_HINT);
    }
    expect(run.output).to.contain('media:verify failed: blog (unserved), shop (unserved)');
  });

  it('serve-handler with symlinks: true serves through the links: ok, and through the CLI exit 0', async () => {
    const base = await serve(path.join(linkRoot, 'public'), { symlinks: true });
    expect(statuses(await verify({ cwd: linkRoot, url: base }))).to.deep.equal({ blog: 'ok', shop: 'ok' });
    const run = await gulpAsync(linkRoot, ['media:verify', '--url', base]);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/media:verify: 2 ok in public\/media/);
  });

  it('copy mode passes the server that refuses links: ok', async () => {
    const base = await serve(path.join(copyRoot, 'public'), { strict: true });
    const report = await verify({ cwd: copyRoot, url: base });
    expect(report.failed).to.equal(false);
    expect(statuses(report)).to.deep.equal({ blog: 'ok', shop: 'ok' });
  });

  it(
    "serve-handler's default serves files inside a linked folder (ok); verify fetches a plain file, " +
      'not a link inside the folder (which serve-handler would refuse)',
    async () => {
      const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
      // First in name order, but a link: the sample skips it for css/shop.css.
      symlinkSync('css/shop.css', media(root, 'shop', 'a-latest.css'));
      await link({ cwd: root, mode: 'symlink' });
      const base = await serve(path.join(root, 'public'));
      const report = await verify({ cwd: root, url: base });
      expect(statuses(report)).to.deep.equal({ blog: 'ok', shop: 'ok' });
      const direct = await fetch(`${base}/media/shop/a-latest.css`);
      await direct.body?.cancel();
      expect(direct.status, 'serve-handler refuses the link file itself').to.equal(404);
    },
  );

  it(
    'link mode: an app folder holding a .gitkeep is checked on a real file, ' +
      'not on the dotfile a hardened server denies',
    async () => {
      const root = makeProject({ apps: ['blog'], gulp: false, files: { 'apps/blog/app_media/blog/.gitkeep': '' } });
      await link({ cwd: root, mode: 'symlink' });
      const base = await serve(path.join(root, 'public'), { symlinks: true, denyDotfiles: true });
      expect(statuses(await verify({ cwd: root, url: base }))).to.deep.equal({ blog: 'ok' });
    },
  );

  it(
    'a server that does not serve mediaRoot at mediaUrl: unserved, with the copy-mode hint; ' +
      'no server at all: unserved',
    async () => {
      const wrongFolder = await serve(copyRoot); // /media/... is not there: public/ is one level down
      const report = await verify({ cwd: copyRoot, url: wrongFolder });
      expect(statuses(report)).to.deep.equal({ blog: 'unserved', shop: 'unserved' });
      expect(appOf(report, 'blog').reason).to.equal(
        `GET ${wrongFolder}/media/blog/css/blog.css answered 404 Not Found`,
      );
      expect(appOf(report, 'blog').hint).to.equal('check that the server serves mediaRoot at mediaUrl');

      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const refused = await verify({ cwd: copyRoot, url: `http://127.0.0.1:${port}` });
      expect(appOf(refused, 'blog')).to.include({
        status: 'unserved',
        reason:
          `GET http://127.0.0.1:${port}/media/blog/css/blog.css: connection refused: ` +
          `nothing listens at 127.0.0.1:${port}`,
        hint: 'start the web server, or check the host and port in --url',
      });
    },
  );
});

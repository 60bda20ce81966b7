/**
 * The example's production path in a real browser (issue 27): `gulp
 * media:collect` on a copy of example/, its server.mjs serving the build and
 * the page, and headless Chromium (Debian's, through playwright-core) loading
 * the page: every app's stylesheet applied, its image and the image its
 * stylesheet references loaded, its script run, all from fingerprinted URLs;
 * then again after that image changed. Also `verify --collect --url` against
 * the same server, and against one that sends the wrong Content-Type.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { appMedia, gulp, REPO, removeTempDirs, runAsync, tempDir } from './support/project.js';

const CHROMIUM = '/usr/bin/chromium';
const APPS = [
  { name: 'blog', color: 'rgb(47, 111, 78)', source: 'apps/blog/app_media/blog' },
  { name: 'shop', color: 'rgb(181, 86, 43)', source: 'apps/shop/static/shop' },
  { name: 'gallery', color: 'rgb(75, 75, 168)', source: 'packages/gallery/app_media/gallery' },
];

/** A copy of example/ wired like an installed project: this package, gulp, and @acme/gallery in node_modules. */
function exampleCopy(): string {
  const root = tempDir('example');
  cpSync(path.join(REPO, 'example'), root, {
    recursive: true,
    filter: (source) => !/[/\\](node_modules|dist|public[/\\]media)$/.test(source),
  });
  mkdirSync(path.join(root, 'node_modules', '@acme'), { recursive: true });
  symlinkSync(REPO, path.join(root, 'node_modules', 'gulp-app-media'));
  symlinkSync(path.join(REPO, 'node_modules', 'gulp'), path.join(root, 'node_modules', 'gulp'));
  symlinkSync(path.join(root, 'packages', 'gallery'), path.join(root, 'node_modules', '@acme', 'gallery'));
  writeFileSync(
    path.join(root, 'gulpfile.mjs'),
    "import gulp from 'gulp';\nimport { registerMediaTasks } from 'gulp-app-media';\n\nregisterMediaTasks(gulp);\n",
  );
  return root;
}

/** Starts example/server.mjs on a free port of 127.0.0.1; resolves to its base URL. */
function startServer(root: string, started: ChildProcess[]): Promise<string> {
  const child = spawn(process.execPath, [path.join(root, 'server.mjs'), '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (match) resolve(match[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`server.mjs exited with ${code}: ${out}`)));
  });
}

describe("the example's production path", () => {
  const started: ChildProcess[] = [];
  let root: string;
  let base: string;

  before(async () => {
    root = exampleCopy();
    const run = gulp(root, ['media:collect']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/3 collected in dist\/media/);
    base = await startServer(root, started);
  });

  after(() => {
    for (const child of started) child.kill('SIGTERM');
    removeTempDirs();
  });

  it('verify --collect --url: the server answers every fingerprinted URL with 2xx and the right Content-Type', () => {
    const run = appMedia(root, ['verify', '--collect', '--url', base]);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout)
      .to.match(/ok\s+blog/)
      .and.match(/ok\s+gallery/)
      .and.match(/ok\s+shop/);
  });

  it(
    'verify --collect --url: a server that sends stylesheets as text/plain is reported ' + '(unserved, exit 1)',
    async () => {
      const server = http.createServer((request, response) => {
        const file = path.join(
          root,
          'dist',
          'media',
          decodeURIComponent((request.url ?? '/').replace(/^\/media\//, '')),
        );
        if (!file.startsWith(path.join(root, 'dist', 'media')) || !existsSync(file)) {
          response.writeHead(404).end();
          return;
        }
        response.writeHead(200, { 'content-type': 'text/plain' }).end(readFileSync(file));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const run = await runAsync(
          [
            path.join(REPO, 'bin', 'app-media.js'),
            'verify',
            '--collect',
            '--url',
            `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          ],
          root,
        );
        expect(run.status, run.output).to.equal(1);
        expect(run.output)
          .to.match(/unserved\s+blog/)
          .and.match(/answered Content-Type text\/plain, not text\/css/);
      } finally {
        server.close();
      }
    },
  );

  it(
    "in headless Chromium: every app's stylesheet applied, images loaded, script run, from fingerprinted URLs; " +
      'again after an image its stylesheet references changed',
    async function () {
      if (!existsSync(CHROMIUM)) {
        console.warn(
          `      skipped: no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it)`,
        );
        this.skip();
      }
      this.timeout(60_000);
      const { chromium } = await import('playwright-core');
      const context = await chromium.launchPersistentContext(tempDir('chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        const requested: Array<{ url: string; status: number }> = [];
        page.on('response', (response) => {
          if (new URL(response.url()).pathname.startsWith('/media/'))
            requested.push({ url: response.url(), status: response.status() });
        });

        const look = async (): Promise<
          Record<
            string,
            {
              color: string;
              background: string;
              stylesheet: string;
              image: number;
              backgroundImage: number;
              status: string;
            }
          >
        > => {
          requested.length = 0;
          await page.goto(`${base}/`, { waitUntil: 'load' });
          // Run in the page (a string: this file is typed without the DOM library).
          return page.evaluate(`(async (names) => {
          const out = {};
          for (const name of names) {
            const section = document.getElementById(name);
            const style = getComputedStyle(section);
            const background = (/url\\("?([^")]+)"?\\)/.exec(style.backgroundImage) || [])[1] || '';
            const probe = new Image();
            probe.src = background;
            await probe.decode().catch(() => undefined);
            const link = [...document.querySelectorAll('link[rel=stylesheet]')]\
.find((one) => one.href.includes('/' + name + '/'));
            out[name] = {
              color: style.borderLeftColor,
              background,
              stylesheet: link.href,
              image: section.querySelector('img').naturalWidth,
              backgroundImage: probe.naturalWidth,
              status: (document.getElementById(name + '-status') || {}).textContent || '',
            };
          }
          return out;
        })(${JSON.stringify(APPS.map((app) => app.name))})`);
        };

        const check = (seen: Awaited<ReturnType<typeof look>>): void => {
          for (const app of APPS) {
            const one = seen[app.name]!;
            expect(one.color, `${app.name}: its stylesheet applied`).to.equal(app.color);
            expect(one.stylesheet, app.name).to.match(
              new RegExp(`/media/${app.name}/css/${app.name}\\.[0-9a-f]{10}\\.css$`),
            );
            expect(one.background, app.name).to.match(
              new RegExp(`/media/${app.name}/img/stripes\\.[0-9a-f]{10}\\.svg$`),
            );
            expect(one.image, `${app.name}: its image loaded`).to.be.greaterThan(0);
            expect(one.backgroundImage, `${app.name}: the image its stylesheet references loaded`).to.be.greaterThan(0);
            expect(one.status, `${app.name}: its script ran`).to.equal(`${app.name}.js ran`);
          }
          expect(requested.length).to.be.greaterThan(6);
          for (const { url, status } of requested) {
            expect(status, url).to.equal(200);
            expect(new URL(url).pathname, 'every media URL is fingerprinted').to.match(/\.[0-9a-f]{10}\.[a-z0-9]+$/);
          }
        };

        const first = await look();
        check(first);
        // The image blog's stylesheet references changes: a new build, a new name for both.
        const stripes = path.join(root, APPS[0]!.source, 'img/stripes.svg');
        writeFileSync(stripes, readFileSync(stripes, 'utf8').replace('fill-opacity=".25"', 'fill-opacity=".5"'));
        const run = appMedia(root, ['collect']);
        expect(run.status, run.output).to.equal(0);
        expect(run.stdout)
          .to.match(/collected\s+blog/)
          .and.match(/up-to-date\s+shop/);
        const second = await look();
        check(second);
        expect(second['blog']!.stylesheet).to.not.equal(first['blog']!.stylesheet);
        expect(second['blog']!.background).to.not.equal(first['blog']!.background);
        expect(second['shop']!.stylesheet).to.equal(first['shop']!.stylesheet);
      } finally {
        await context.close();
      }
    },
  );
});

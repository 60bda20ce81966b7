/**
 * Input the tool reads and must not trust (issue 23, points 7 and 8), and
 * what `verify --url` says when the server cannot be reached (issue 24.6):
 *
 * - config files and package.json files (the project's, every app's) are
 *   regular files of at most 10 MiB, read without blocking: a FIFO, /dev/zero,
 *   a folder or a socket is a coded error naming the file, never a hang or a
 *   memory blow-up (a guard kills a hung run and fails the test), and
 *   `media:watch` still stops on SIGTERM;
 * - `--url` with a password never echoes it; a redirect is reported, not
 *   followed; a mediaRoot of `~` is refused; a bad `logger` is refused before
 *   any work.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { isAppMediaError, link, verify, type Report } from '../src/index.js';
import {
  APP_MEDIA_BIN,
  exists,
  GULP_BIN,
  jsonReport,
  makeProject,
  projectState,
  removeTempDirs,
  type RunResult,
} from './support/project.js';
import { spawnAppMedia } from './support/copy.js';

after(removeTempDirs);

const MEDIA = 'public/media';
/** Long enough for any honest run on a busy machine; a run still going then is hung. */
const HANG_GUARD_MS = 30_000;

/** The same, without blocking this process (whose servers the command fetches from). */
function guardedAsync(cwd: string, args: string[]): Promise<RunResult & { hung: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [APP_MEDIA_BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, output: `${stdout}${stderr}`, hung: signal === 'SIGKILL' });
    });
  });
}

/** The real command, killed (SIGKILL) if it hangs: a hang fails the test instead of stalling the suite. */
function guarded(cwd: string, args: string[], bin = APP_MEDIA_BIN): RunResult & { hung: boolean } {
  const run = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    timeout: HANG_GUARD_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    status: run.status,
    stdout: run.stdout ?? '',
    stderr: run.stderr ?? '',
    output: `${run.stdout ?? ''}${run.stderr ?? ''}`,
    hung: run.signal === 'SIGKILL',
  };
}

function mkfifo(file: string): void {
  const made = spawnSync('mkfifo', [file]);
  expect(made.status, String(made.stderr)).to.equal(0);
}

function expectNotAFile(run: ReturnType<typeof guarded>, file: string, kind: string): void {
  expect(run.hung, 'the run hung and was killed').to.equal(false);
  expect(run.status, run.output).to.equal(1);
  expect(run.stderr).to.contain(`APP_MEDIA_NOT_A_FILE: ${file}: ${kind}, not a regular file\n  hint: `);
  expect(run.stderr, 'no stack trace').to.not.match(/^\s+at /m);
}

describe(
  'config and package.json files: regular files of bounded size, ' + 'read without blocking (issue 23.7)',
  function () {
    this.timeout(120_000);

    it(
      '--config a FIFO, /dev/zero, a folder (not a bare "EISDIR (read)"), a socket: ' +
        'a coded error naming it, nothing written',
      async () => {
        const root = makeProject({ apps: ['blog'], gulp: false });
        mkdirSync(path.join(root, 'conf.d'));
        // (The snapshot reads every file: it is taken without the FIFO, which would block it.)
        const before = projectState(root);
        mkfifo(path.join(root, 'fifo.json'));
        expectNotAFile(guarded(root, ['link', '--config', 'fifo.json']), 'fifo.json', 'a FIFO (named pipe)');
        expectNotAFile(guarded(root, ['link', '--config', '/dev/zero']), '/dev/zero', 'a character device');
        expectNotAFile(guarded(root, ['link', '--config', 'conf.d']), 'conf.d', 'a folder');
        rmSync(path.join(root, 'fifo.json'));
        expect(projectState(root), 'nothing written').to.deep.equal(before);

        const server = net.createServer();
        const socket = path.join(root, 'sock.json');
        await new Promise<void>((resolve) => server.listen(socket, resolve));
        try {
          expectNotAFile(guarded(root, ['link', '--config', 'sock.json']), 'sock.json', 'a socket');
        } finally {
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      },
    );

    it('a JavaScript config that is a FIFO is refused before it is imported (an import would wait for ever)', () => {
      const root = makeProject({ apps: ['blog'], gulp: false, config: null });
      mkfifo(path.join(root, 'app-media.config.mjs'));
      expectNotAFile(guarded(root, ['verify']), 'app-media.config.mjs', 'a FIFO (named pipe)');
    });

    it(
      "the looked-up app-media.config.json, the project's package.json, an app's package.json: " +
        'FIFO or folder, each named',
      () => {
        const lookup = makeProject({ apps: ['blog'], gulp: false, config: null });
        mkfifo(path.join(lookup, 'app-media.config.json'));
        expectNotAFile(guarded(lookup, ['link']), 'app-media.config.json', 'a FIFO (named pipe)');

        const pkg = makeProject({ apps: ['blog'], gulp: false, config: null });
        mkfifo(path.join(pkg, 'package.json'));
        expectNotAFile(guarded(pkg, ['link']), 'package.json', 'a FIFO (named pipe)');

        const app = makeProject({ apps: ['blog', 'shop'], gulp: false });
        mkfifo(path.join(app, 'apps/shop/package.json'));
        expectNotAFile(guarded(app, ['link']), 'apps/shop/package.json', 'a FIFO (named pipe)');
        expect(exists(path.join(app, 'public')), 'nothing written').to.equal(false);
        rmSync(path.join(app, 'apps/shop/package.json'));
        mkdirSync(path.join(app, 'apps/shop/package.json'));
        expectNotAFile(guarded(app, ['link']), 'apps/shop/package.json', 'a folder');

        const discovered = makeProject({
          apps: [],
          gulp: false,
          config: null,
          files: {
            'package.json': JSON.stringify({
              name: 'site',
              appMedia: { mediaRoot: MEDIA, discover: true },
              dependencies: { ui: '*' },
            }),
          },
        });
        mkdirSync(path.join(discovered, 'node_modules/ui'), { recursive: true });
        mkfifo(path.join(discovered, 'node_modules/ui/package.json'));
        expectNotAFile(guarded(discovered, ['link']), 'node_modules/ui/package.json', 'a FIFO (named pipe)');
      },
    );

    it(
      'a config over 10 MiB (a sparse 16 GiB file, as /dev/zero would grow) is APP_MEDIA_FILE_TOO_LARGE, ' +
        'read no further',
      () => {
        const root = makeProject({ apps: ['blog'], gulp: false });
        const big = path.join(root, 'big.json');
        const fd = openSync(big, 'w');
        ftruncateSync(fd, 16 * 1024 ** 3);
        closeSync(fd);
        const run = guarded(root, ['link', '--config', 'big.json']);
        expect(run.hung).to.equal(false);
        expect(run.status).to.equal(1);
        expect(run.stderr).to.match(
          new RegExp(
            '^APP_MEDIA_FILE_TOO_LARGE: big\\.json: 16384 MiB, ' +
              'more than the 10 MiB a config file or package.json may be\\n',
          ),
        );
        writeFileSync(
          big,
          `${JSON.stringify({ mediaRoot: MEDIA, apps: ['./apps/blog'] })}${' '.repeat(10 * 1024 * 1024)}`,
        );
        expect(guarded(root, ['link', '--config', 'big.json']).stderr).to.match(
          /^APP_MEDIA_FILE_TOO_LARGE: big\.json: 10 MiB, more than/,
        );
      },
    );

    it('through gulp: --config a FIFO fails media:link with the coded line, no hang', () => {
      const root = makeProject({ apps: ['blog'] });
      mkfifo(path.join(root, 'fifo.json'));
      const run = guarded(root, ['--no-color', 'media:link', '--config', 'fifo.json'], GULP_BIN);
      expect(run.hung).to.equal(false);
      expect(run.status).to.equal(1);
      expect(run.output).to.contain('APP_MEDIA_NOT_A_FILE: fifo.json: a FIFO (named pipe), not a regular file');
    });

    it(
      'media:watch: a config that turns into a FIFO while it watches is reported, ' +
        'and SIGTERM still stops the watch',
      async () => {
        const root = makeProject({ apps: ['blog'], gulp: false });
        const run = spawnAppMedia(root, ['watch']);
        const { child } = run;
        const output = (): string => run.output();
        const exited = run.done.then((ended) => ended.status);
        const seen = async (pattern: RegExp): Promise<boolean> => {
          for (let waited = 0; waited < HANG_GUARD_MS; waited += 50) {
            if (pattern.test(output())) return true;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          return false;
        };
        try {
          expect(await seen(/media:watch: watching/), output()).to.equal(true);
          rmSync(path.join(root, 'app-media.config.json'));
          mkfifo(path.join(root, 'app-media.config.json'));
          expect(
            await seen(/APP_MEDIA_NOT_A_FILE: app-media\.config\.json: a FIFO/),
            `the watch reports the FIFO:\n${output()}`,
          ).to.equal(true);
          child.kill('SIGTERM');
          const guard = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), HANG_GUARD_MS).unref());
          const result = await Promise.race([exited, guard]);
          expect(result, `the watch did not stop on SIGTERM:\n${output()}`).to.not.equal('hung');
          expect(output()).to.match(/media:watch: stopped/);
        } finally {
          child.kill('SIGKILL');
        }
      },
    );
  },
);

describe('smaller hostile inputs (issue 23.8)', function () {
  this.timeout(60_000);

  it(
    'mediaRoot "~" or "~/site/media" is APP_MEDIA_BAD_VALUE with a hint (JSON does not expand ~); ' +
      'no "~" folder is made',
    () => {
      for (const mediaRoot of ['~', '~/site/media']) {
        const root = makeProject({ apps: ['blog'], gulp: false, config: { mediaRoot, apps: ['./apps/blog'] } });
        const run = guarded(root, ['link']);
        expect(run.status, run.output).to.equal(1);
        expect(run.stderr).to.contain(
          `APP_MEDIA_BAD_VALUE: app-media.config.json mediaRoot: expected a path relative to this file ` +
            `or an absolute one (~ is not expanded), got "${mediaRoot}"`,
        );
        expect(run.stderr).to.match(
          new RegExp(
            'hint: write it relative to app-media\\.config\\.json \\("public/media"\\) ' +
              'or in full \\("/[^"]*"\\); JSON does not expand ~',
          ),
        );
        expect(exists(path.join(root, '~')), 'no literal ~ folder').to.equal(false);
      }
    },
  );

  it(
    'a logger that is not an object of four functions is refused before any work ' +
      '(APP_MEDIA_BAD_OPTION), not after it',
    async () => {
      const root = makeProject({ apps: ['blog'], gulp: false });
      const noop = (): void => undefined;
      const bad: unknown[] = ['yes', 42, null, { debug: noop, info: noop, warn: 'no', error: noop }, { info: noop }];
      for (const logger of bad) {
        const error = await link({ cwd: root, logger: logger as never }).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(isAppMediaError(error) && error.code, `logger ${JSON.stringify(logger)}`).to.equal(
          'APP_MEDIA_BAD_OPTION',
        );
        expect(exists(path.join(root, 'public')), 'nothing made').to.equal(false);
      }
      const method = await link({
        cwd: root,
        logger: { debug: noop, info: noop, warn: 'no', error: noop } as never,
      }).catch((caught: unknown) => caught);
      expect(String(method)).to.contain(
        'APP_MEDIA_BAD_OPTION: options in code logger.warn: logger.warn must be a function, not string',
      );
      expect(
        (await link({ cwd: root, logger: { debug: noop, info: noop, warn: noop, error: noop } })).failed,
        'four functions are a logger',
      ).to.equal(false);
    },
  );
});

/** A server on 127.0.0.1 answering with `handler`; resolves to its base URL. */
async function server(handler: http.RequestListener, servers: http.Server[]): Promise<string> {
  const made = http.createServer(handler);
  servers.push(made);
  await new Promise<void>((resolve) => made.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(made.address() as AddressInfo).port}`;
}

describe('verify --url: credentials, redirects, and why a server could not be reached', function () {
  this.timeout(60_000);
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((made) => new Promise((resolve) => made.close(resolve))));
  });

  /** A linked project: verify --url fetches blog's stylesheet. */
  async function linked(): Promise<string> {
    const root = makeProject({ apps: ['blog'], gulp: false });
    await link({ cwd: root });
    return root;
  }

  it(
    'http://user:pass@host: the password is sent (Basic auth) but never printed, ' + 'in text or --json (issue 23.8)',
    async () => {
      const root = await linked();
      const seen: string[] = [];
      const base = await server((request, response) => {
        seen.push(request.headers.authorization ?? '');
        const ok = request.headers.authorization === `Basic ${Buffer.from('deploy:s3cr3t-pw').toString('base64')}`;
        response.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain' });
        response.end(ok ? 'ok' : 'no');
      }, servers);
      const good = await guardedAsync(root, ['verify', '--url', base.replace('http://', 'http://deploy:s3cr3t-pw@')]);
      expect(good.status, good.output).to.equal(0);
      expect(seen).to.have.length(1);

      const wrong = base.replace('http://', 'http://deploy:wr0ng-pw@');
      const text = await guardedAsync(root, ['verify', '--url', wrong]);
      expect(text.status).to.equal(1);
      expect(text.output).to.contain(
        `GET ${base.replace('http://', 'http://deploy:***@')}/media/blog/css/blog.css answered 401 Unauthorized`,
      );
      expect(text.output).to.not.contain('wr0ng-pw');
      const json = await guardedAsync(root, ['verify', '--url', wrong, '--json']);
      expect(json.output).to.not.contain('wr0ng-pw');
      expect(String(jsonReport(json).apps[0]!['reason'])).to.contain('deploy:***@');
      const bad = await guardedAsync(root, ['verify', '--url', 'ftp://deploy:wr0ng-pw@example.invalid/']);
      expect(bad.status).to.equal(1);
      expect(bad.output).to.not.contain('wr0ng-pw');
    },
  );

  it(
    'a redirect is not followed: unserved, naming where it pointed; ' + 'the other server is never asked (issue 23.8)',
    async () => {
      const root = await linked();
      let elsewhereAsked = 0;
      const elsewhere = await server((_request, response) => {
        elsewhereAsked++;
        response.end('login page');
      }, servers);
      const base = await server((_request, response) => {
        response.writeHead(302, { location: `${elsewhere}/login?next=/media/` });
        response.end();
      }, servers);
      const run = await guardedAsync(root, ['verify', '--url', base]);
      expect(run.status, run.output).to.equal(1);
      expect(run.output).to.match(/unserved\s+blog/);
      expect(run.output).to.contain(
        `GET ${base}/media/blog/css/blog.css answered 302 Found, a redirect to ${elsewhere}/login?next=/media/`,
      );
      expect(run.output).to.contain('hint: the server redirects instead of serving the file');
      expect(elsewhereAsked).to.equal(0);
    },
  );

  /** Verify's line for blog against `url`, in process. */
  async function blogLine(root: string, url: string, urlTimeout?: number): Promise<Report['apps'][number]> {
    const report = await verify({ cwd: root, url, ...(urlTimeout ? { urlTimeout } : {}) });
    return report.apps[0]!;
  }

  it(
    'nothing listening: "connection refused", with a hint to start the server (it said "failed ' +
      '(TypeError)" and blamed symlinks) (issue 24.6)',
    async () => {
      const root = await linked();
      const closed = await server(() => undefined, servers);
      await new Promise((resolve) => servers.pop()!.close(resolve));
      const run = await guardedAsync(root, ['verify', '--url', closed]);
      expect(run.status).to.equal(1);
      expect(run.output).to.contain(
        `GET ${closed}/media/blog/css/blog.css: connection refused: ` +
          `nothing listens at ${closed.replace('http://', '')}`,
      );
      expect(run.output).to.contain('hint: start the web server, or check the host and port in --url');
      expect(run.output).to.not.match(/symbolic links/);
    },
  );

  it(
    'a server that never answers: "timed out" (urlTimeout); https:// to a plain-http server: ' +
      'a TLS failure with the http:// hint (issue 24.6)',
    async () => {
      const root = await linked();
      const silent = await server(() => undefined, servers); // accepts, never answers
      const timedOut = await blogLine(root, silent, 300);
      expect(timedOut).to.include({
        status: 'unserved',
        reason: `GET ${silent}/media/blog/css/blog.css: timed out: no answer`,
      });
      expect(timedOut.hint).to.match(/^check that the server at 127\.0\.0\.1:\d+ is up and answering/);

      const plain = await server((_request, response) => response.end('x'), servers);
      const tls = await blogLine(root, plain.replace('http://', 'https://'));
      expect(tls.status).to.equal('unserved');
      expect(tls.reason).to.match(
        /: TLS failed: 127\.0\.0\.1:\d+ does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER\)$/,
      );
      expect(tls.hint).to.equal('use http:// for this server, or the port where it serves https');
    },
  );

  it(
    'a host name that does not resolve: named as DNS, with a hint on the host (the failure as fetch reports it; ' +
      'no lookup leaves this machine)',
    async () => {
      const { describeFetchFailure } = await import('../src/core/served-url.js');
      const failure = describeFetchFailure(
        Object.assign(new TypeError('fetch failed'), {
          cause: Object.assign(new Error('getaddrinfo ENOTFOUND staging.example'), { code: 'ENOTFOUND' }),
        }),
        new URL('http://staging.example:8080/media/x'),
      );
      expect(failure).to.deep.equal({
        reason: 'the host name staging.example does not resolve (DNS: ENOTFOUND)',
        hint: 'check the spelling of the host in --url (localhost or 127.0.0.1 for a server on this machine)',
      });
    },
  );

  it('urlTimeout that is not a positive number is refused up front', async () => {
    const root = await linked();
    const error = await verify({ cwd: root, url: 'http://127.0.0.1:9', urlTimeout: -1 }).catch(
      (caught: unknown) => caught,
    );
    expect(isAppMediaError(error) && error.code).to.equal('APP_MEDIA_BAD_OPTION');
  });
});

/**
 * Copy mode as production uses it: incremental (size and mtime; --checksum compares contents),
 * `ignore`, links inside media, mtimes and modes, a long copy that leaves the event loop free,
 * the progress line on a real pseudo-terminal, and the programmatic API. Crashes and races are in
 * copy-crash.test.ts, failures in copy-faults.test.ts, media:watch in watch.test.ts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { chmodSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { link, verify } from '../src/index.js';
import {
  appMedia,
  exists,
  GULP_BIN,
  gulp,
  jsonReport,
  linkedInProcess,
  makeProject,
  projectState,
  REPO,
  sha,
  snapshot,
  verifiedInProcess,
  viaCommand,
  writeTree,
  setMtime,
} from './support/project.js';
import {
  bulkMedia,
  copyConfig,
  deadPid,
  endChildren,
  expectConverged,
  faultEnv,
  LOCK,
  mediaOf,
  needShim,
  published,
  readManifest,
  sourceOf,
  TEMP_MARK,
  temporaries,
} from './support/copy.js';

after(endChildren);

describe('copy mode: incremental (size + mtime; --checksum compares contents)', () => {
  // The first test runs gulp; the others run the app-media command (see `viaCommand`).

  it(
    'a re-run with no change writes nothing at all: same inodes and mtimes, ' +
      "mediaRoot's own mtime unchanged, no lock made",
    () => {
      const root = makeProject({ apps: ['blog', 'shop'], config: copyConfig(['blog', 'shop']) });
      const first = gulp(root, ['media:link']);
      expect(first.status, first.output).to.equal(0);
      expect(first.stdout).to.match(/media:link: 2 copied/);
      const media = mediaOf(root);
      const before = Object.fromEntries(snapshot(media));
      const rootBefore = statSync(media);
      const parentBefore = statSync(path.dirname(media));

      const again = gulp(root, ['media:link']);
      expect(again.status, again.output).to.equal(0);
      expect(again.stdout).to.match(/media:link: 2 up-to-date/);
      expect(
        Object.fromEntries(snapshot(media)),
        'every entry below mediaRoot as it was (inode, mtime, sha, mode)',
      ).to.deep.equal(before);
      expect(statSync(media).mtimeMs, "mediaRoot's own mtime: no lock or temporary file was made in it").to.equal(
        rootBefore.mtimeMs,
      );
      expect(statSync(media).ctimeMs, "mediaRoot's own ctime").to.equal(rootBefore.ctimeMs);
      expect(statSync(path.dirname(media)).mtimeMs).to.equal(parentBefore.mtimeMs);
      expect(exists(path.join(media, LOCK))).to.equal(false);
    },
  );

  it(
    'what a killed run left at the top of mediaRoot is swept by the next run, which has nothing else to do; ' +
      'files of yours with look-alike names stay',
    async () => {
      const root = makeProject({ apps: ['blog', 'shop'], config: copyConfig(['blog', 'shop']) });
      await linkedInProcess(root);
      // A run killed mid-copy: its lock (its process gone), a copy half built, its records' temporary file.
      const token = randomBytes(8).toString('hex');
      const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 16);
      writeFileSync(path.join(mediaOf(root), LOCK), `${JSON.stringify({ pid: deadPid(), host, token })}\n`);
      writeTree(mediaOf(root), {
        [`${TEMP_MARK}${token}-0c0ffee00-zoo/css/zoo.css`]: '.zoo { col',
        [`${TEMP_MARK}${token}-1c0ffee00-.app-media.json`]: '{ "tool"',
      });
      chmodSync(path.join(mediaOf(root), `${TEMP_MARK}${token}-0c0ffee00-zoo`), 0o700); // a run's private folder
      // A folder at a name of that run that is not private: someone else may have put (or renamed) it there.
      const notPrivate = `${TEMP_MARK}${token}-2c0ffee00-archive`;
      writeTree(mediaOf(root), { [`${notPrivate}/2025.tar`]: 'yours' });
      // Yours: names that look like the tool's, at the top and inside a copy.
      const yours = {
        [`${TEMP_MARK}notes.txt`]: 'my notes',
        [`${TEMP_MARK}drafts/a.txt`]: 'draft',
        [`${LOCK}.txt`]: 'not a lock',
        [`${TEMP_MARK}0123456789abcdef-0c0ffee00-x`]: 'no run with this token left a lock',
        [`shop/css/${TEMP_MARK}mine.css`]: 'mine',
      };
      writeTree(mediaOf(root), yours);
      const again = appMedia(root, ['link']);
      expect(again.status, again.output).to.equal(0);
      expect(again.stdout).to.match(/2 up-to-date/);
      expect(again.output).to.match(/removed 2 temporary files left by an interrupted run/);
      expect(again.output).to.match(
        new RegExp(
          `left public/media/${notPrivate}/ \\(temporary folder of an interrupted run that ` +
            `app-media cannot prove is its own`,
        ),
      );
      expect(readFileSync(path.join(mediaOf(root), notPrivate, '2025.tar'), 'utf8')).to.equal('yours');
      expect(again.output, 'a file added by hand in a copy is named').to.match(
        new RegExp(`kept css/${TEMP_MARK}mine\\.css \\(added by hand`),
      );
      for (const [rel, text] of Object.entries(yours))
        expect(readFileSync(path.join(mediaOf(root), rel), 'utf8'), rel).to.equal(text);
      expect(
        readdirSync(mediaOf(root)).filter(
          (name) => (name.includes(token) && name !== notPrivate && !name.startsWith(`${LOCK}.`)) || name === LOCK,
        ),
      ).to.deep.equal([]);
    },
  );

  it(
    'rewrites a changed source file, removes a file (and a folder) deleted from the source, ' +
      'adds a new one; touches nothing else',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop'],
        config: copyConfig(['blog', 'shop']),
        files: { 'apps/blog/app_media/blog/old/gone.txt': 'bye' },
      });
      await linkedInProcess(root);
      const media = mediaOf(root);
      const before = snapshot(media);
      const src = sourceOf(root, 'blog');
      writeFileSync(path.join(src, 'css/blog.css'), '.blog { color: red; }\n');
      setMtime(path.join(src, 'css/blog.css'), 1_700_000_000_500);
      rmSync(path.join(src, 'js/blog.js'));
      rmSync(path.join(src, 'old'), { recursive: true });
      writeTree(src, { 'fonts/new.woff2': 'woff' });

      const run = viaCommand(root, ['media:link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(/copied\s+blog\s+public\/media\/blog -> apps\/blog\/app_media\/blog \(copy, 2 files/);
      expect(run.stdout).to.match(/media:link: 1 copied, 1 up-to-date/);
      expectConverged(root, ['blog', 'shop']);
      expect(exists(path.join(media, 'blog/js/blog.js')), 'deleted source file removed from the copy').to.equal(false);
      expect(exists(path.join(media, 'blog/old')), 'folder deleted from the source removed from the copy').to.equal(
        false,
      );
      expect(statSync(path.join(media, 'blog/css/blog.css')).mtimeMs).to.be.closeTo(1_700_000_000_500, 0.01);
      const after = snapshot(media);
      // Files not changed in the source were not rewritten: same inode and mtime.
      for (const rel of ['blog/img/blog.png', 'shop/css/shop.css', 'shop/js/shop.js', 'shop/img/shop.png']) {
        expect(after.get(rel), rel).to.deep.equal(before.get(rel));
      }
      const record = readManifest(root).entries['blog'];
      expect(Object.keys(record?.files ?? {}).sort()).to.deep.equal([
        'css/blog.css',
        'fonts/new.woff2',
        'img/blog.png',
      ]);
    },
  );

  it("a file a user added inside the copy is kept and reported; the source's changes are still mirrored", async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    await linkedInProcess(root);
    const mine = path.join(mediaOf(root), 'blog/css/mine.css');
    writeFileSync(mine, '/* mine */');
    writeFileSync(path.join(sourceOf(root, 'blog'), 'js/blog.js'), 'console.log("v2");\n');
    rmSync(path.join(sourceOf(root, 'blog'), 'img/blog.png'));

    const run = viaCommand(root, ['media:link']);
    // Kept and named, but not in the app's way: not a conflict (media:verify still reports it as drift).
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.match(/kept css\/mine\.css \(added by hand/);
    expect(readFileSync(mine, 'utf8'), "the user's file is kept").to.equal('/* mine */');
    expect(sha(readFileSync(path.join(mediaOf(root), 'blog/js/blog.js')))).to.equal(sha('console.log("v2");\n'));
    expect(exists(path.join(mediaOf(root), 'blog/img/blog.png'))).to.equal(false);
    expect(temporaries(mediaOf(root))).to.deep.equal([]);
    // media:clean removes the tool's files and keeps the user's, with its folder.
    const cleaned = viaCommand(root, ['media:clean']);
    expect(cleaned.status, cleaned.output).to.equal(0);
    expect(readFileSync(mine, 'utf8')).to.equal('/* mine */');
    expect(exists(path.join(mediaOf(root), 'blog/js/blog.js'))).to.equal(false);
  });

  it('--checksum: a source edit that keeps size and mtime is rewritten only with --checksum', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    await linkedInProcess(root);
    const source = path.join(sourceOf(root, 'blog'), 'css/blog.css');
    const copy = path.join(mediaOf(root), 'blog/css/blog.css');
    setMtime(source, 1_700_000_000_000);
    await linkedInProcess(root);
    const original = readFileSync(source, 'utf8');
    const stat = statSync(source);
    const edited = original.replace('teal', 'pink'); // same length
    expect(edited.length).to.equal(original.length);
    writeFileSync(source, edited);
    setMtime(source, 1_700_000_000_000);
    expect(statSync(source).mtimeMs).to.equal(stat.mtimeMs);

    const plain = viaCommand(root, ['media:link']);
    expect(plain.status, plain.output).to.equal(0);
    expect(plain.stdout).to.match(/media:link: 1 up-to-date/);
    expect(readFileSync(copy, 'utf8'), 'size + mtime cannot see the edit').to.equal(original);

    const checked = viaCommand(root, ['media:link', '--checksum']);
    expect(checked.status, checked.output).to.equal(0);
    expect(checked.stdout).to.match(/copied\s+blog.*\(copy, 1 file,/);
    expect(readFileSync(copy, 'utf8')).to.equal(edited);
    expect(statSync(copy).mtimeMs).to.be.closeTo(stat.mtimeMs, 1);
    expectConverged(root, ['blog']);
    await verifiedInProcess(root);
  });

  it(
    '--checksum: a copy file with the right contents but another mtime is only re-timed ' +
      '(same inode), not rewritten',
    async () => {
      const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
      await linkedInProcess(root);
      const source = path.join(sourceOf(root, 'blog'), 'img/blog.png');
      const copy = path.join(mediaOf(root), 'blog/img/blog.png');
      // The source is re-saved with the same bytes (an editor, a checkout): only its time moves.
      setMtime(source, 1_600_000_000_250);
      const inode = statSync(copy).ino;
      const others = snapshot(path.join(mediaOf(root), 'blog/css'));

      const run = viaCommand(root, ['media:link', '--checksum', '--json', '--silent']);
      expect(run.status, run.output).to.equal(0);
      const app = jsonReport(run).apps[0];
      expect(app?.['files'], 'no file rewritten').to.equal(0);
      expect(statSync(copy).ino, 'same inode').to.equal(inode);
      expect(statSync(copy).mtimeMs).to.be.closeTo(1_600_000_000_250, 0.01);
      expect(snapshot(path.join(mediaOf(root), 'blog/css'))).to.deep.equal(others);
      // And the next run (without --checksum) sees it as up to date.
      const again = viaCommand(root, ['media:link']);
      expect(again.stdout, again.output).to.match(/media:link: 1 up-to-date/);

      // The other way round: the copy's file got another time (a tool touched it), its bytes are right.
      setMtime(copy, 1_500_000_000_000);
      const retimed = viaCommand(root, ['media:link', '--checksum', '--json', '--silent']);
      expect(retimed.status, retimed.output).to.equal(0);
      expect(jsonReport(retimed).apps[0]?.['files'], 'no file rewritten').to.equal(0);
      expect(statSync(copy).ino, 'same inode').to.equal(inode);
      expect(statSync(copy).mtimeMs).to.be.closeTo(1_600_000_000_250, 0.01);
      expect(viaCommand(root, ['media:link']).stdout).to.match(/media:link: 1 up-to-date/);
      await verifiedInProcess(root);
    },
  );

  // In process, so that mutation testing reaches it (the test above runs the built command).
  it(
    "a source file that changed only its mode: the copy's file is re-moded in place (same inode) " +
      "and keeps the source's time; the next run is up-to-date",
    async () => {
      const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
      const source = path.join(sourceOf(root, 'blog'), 'js/blog.js');
      setMtime(source, 1_600_000_000_250);
      await linkedInProcess(root);
      const copy = path.join(mediaOf(root), 'blog/js/blog.js');
      const inode = statSync(copy).ino;
      expect(statSync(copy).mode & 0o111, 'not executable yet').to.equal(0);

      chmodSync(source, 0o755);
      const report = await linkedInProcess(root);
      expect(report.apps[0]?.status).to.equal('copied');
      expect(statSync(copy).ino, 'same inode: not rewritten').to.equal(inode);
      expect(statSync(copy).mode & 0o777).to.equal(0o755);
      expect(statSync(copy).mtimeMs, "the source's time").to.be.closeTo(1_600_000_000_250, 0.01);
      expect((await linkedInProcess(root)).apps[0]?.status).to.equal('up-to-date');
      await verifiedInProcess(root);
    },
  );
});

describe('copy mode: ignore, links inside media, mtimes and modes', () => {
  /**
   * The blog app in copy mode (`extra`: more of its config) with `media` added to its media folder, linked
   * through gulp: the line says how many files were copied and how many ignored, and just `copied` is published.
   */
  function copyBlogWith(
    media: Record<string, string>,
    expected: { copied: string[]; ignored: number },
    extra: Record<string, unknown> = {},
  ): string {
    const files = Object.fromEntries(
      Object.entries(media).map(([rel, text]) => [`apps/blog/app_media/blog/${rel}`, text]),
    );
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog'], extra), files });
    const run = gulp(root, ['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(
      new RegExp(
        'copied\\s+blog\\s+public/media/blog -> apps/blog/app_media/blog ' +
          `\\(copy, ${expected.copied.length} files, \\d+ B, ${expected.ignored} ignored\\)`,
      ),
    );
    expect([...published(root).keys()].sort()).to.deep.equal(expected.copied);
    return root;
  }

  it(
    'default ignore: dotfiles, *~ and a .git/ folder are not copied; the line says how many were ignored; ' +
      'verify finds nothing exposed',
    async () => {
      const root = copyBlogWith(
        {
          '.env': 'SECRET=1',
          'css/.hidden.css': 'x',
          'img/blog.png~': 'backup',
          '.git/HEAD': 'ref: refs/heads/main',
          '.git/objects/ab/cdef': 'blob',
        },
        { copied: ['blog/css/blog.css', 'blog/img/blog.png', 'blog/js/blog.js'], ignored: 4 },
      );
      expect(exists(path.join(mediaOf(root), 'blog/.git'))).to.equal(false);
      const report = jsonReport(viaCommand(root, ['media:link', '--json', '--silent']));
      expect(report.apps[0]).to.include({ status: 'up-to-date', ignored: 4 });
      await verifiedInProcess(root);
    },
  );

  it('a custom ignore ["*.psd", "drafts"] skips those files and every folder of that name', async () => {
    const root = copyBlogWith(
      {
        'img/hero.psd': 'layers',
        'drafts/next.css': 'wip',
        'css/drafts/old.css': 'wip',
        'css/drafts.css': 'not a folder named drafts',
      },
      { copied: ['blog/css/blog.css', 'blog/css/drafts.css', 'blog/img/blog.png', 'blog/js/blog.js'], ignored: 3 },
      { ignore: ['*.psd', 'drafts'] },
    );
    await verifiedInProcess(root);
  });

  it(
    'a link to a file inside the media folder is copied as a regular file with its bytes; ' +
      'one leading outside is not copied and is named',
    () => {
      const root = makeProject({
        apps: ['blog'],
        config: copyConfig(['blog']),
        files: { 'secret.txt': 'password=hunter2' },
      });
      const src = sourceOf(root, 'blog');
      symlinkSync('blog.png', path.join(src, 'img/alias.png'));
      symlinkSync('../img/blog.png', path.join(src, 'css/up-and-in.png'));
      symlinkSync('../../../../secret.txt', path.join(src, 'secret.txt'));
      const run = gulp(root, ['media:link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(/copied\s+blog/);
      expect(run.stdout).to.contain('not copied: secret.txt (link leading outside the media folder)');
      for (const rel of ['img/alias.png', 'css/up-and-in.png']) {
        const copy = path.join(mediaOf(root), 'blog', rel);
        expect(lstatSync(copy).isFile(), `${rel} is a regular file`).to.equal(true);
        expect(sha(readFileSync(copy))).to.equal(sha(readFileSync(path.join(src, 'img/blog.png'))));
      }
      expect(exists(path.join(mediaOf(root), 'blog/secret.txt'))).to.equal(false);
      expect(JSON.stringify(projectState(mediaOf(root)))).to.not.contain(sha('password=hunter2'));
      const checked = viaCommand(root, ['media:verify']);
      expect(checked.status, checked.output).to.equal(0);
      // A re-run is up to date (the followed link is compared by its target's facts).
      expect(viaCommand(root, ['media:link']).stdout).to.match(/media:link: 1 up-to-date/);
    },
  );

  it("keeps each file's mtime and mode (0640, 0755), on a new copy and on an update", async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    const src = sourceOf(root, 'blog');
    chmodSync(path.join(src, 'css/blog.css'), 0o640);
    chmodSync(path.join(src, 'js/blog.js'), 0o755);
    setMtime(path.join(src, 'img/blog.png'), 981_173_106_123);
    const compare = (): void => {
      for (const rel of ['css/blog.css', 'js/blog.js', 'img/blog.png']) {
        const s = statSync(path.join(src, rel));
        const c = statSync(path.join(mediaOf(root), 'blog', rel));
        expect(c.mode & 0o7777, `${rel} mode`).to.equal(s.mode & 0o7777);
        expect(c.mtimeMs, `${rel} mtime`).to.be.closeTo(s.mtimeMs, 0.01);
      }
    };
    await linkedInProcess(root);
    compare();
    writeFileSync(path.join(src, 'js/blog.js'), 'console.log(2);\n');
    chmodSync(path.join(src, 'js/blog.js'), 0o750);
    setMtime(path.join(src, 'js/blog.js'), 1_234_567_890_500);
    await linkedInProcess(root);
    compare();
  });

  it('a mode change alone in the source (chmod, same size and mtime) is mirrored on the next run', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    await linkedInProcess(root);
    chmodSync(path.join(sourceOf(root, 'blog'), 'js/blog.js'), 0o700);
    await linkedInProcess(root);
    expect(statSync(path.join(mediaOf(root), 'blog/js/blog.js')).mode & 0o7777).to.equal(0o700);
  });

  it("a copy's folders get 0755 less the umask, read from the process without changing it (umask 027: 0750)", () => {
    // A process of its own: the umask is read once per process (src/link/copy.ts).
    const module = pathToFileURL(path.join(REPO, 'src/link/copy.ts')).href;
    const code =
      'process.umask(0o027);\n' +
      `const { folderMode } = await import(${JSON.stringify(module)});\n` +
      'console.log(folderMode().toString(8), process.umask().toString(8));\n';
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout.trim(), 'folder mode, then the umask still 027').to.equal('750 27');
  });
});

describe('copy mode: a long copy leaves the event loop free for the rest of the process', function () {
  this.timeout(30_000);

  it(
    'a copy slowed to 25 ms a file (fault shim): a 10 ms timer in the same process keeps ticking, ' +
      "as gulp's other tasks would",
    function () {
      const lib = needShim(this);
      const root = makeProject({ apps: ['big'], config: copyConfig(['big']) });
      bulkMedia(root, 'big', 40, 4096);
      const api = pathToFileURL(path.join(REPO, 'dist', 'index.js')).href;
      const script = [
        `import { link } from ${JSON.stringify(api)};`,
        'let ticks = 0;',
        'const timer = setInterval(() => { ticks++; }, 10);',
        "const report = await link({ cwd: process.cwd(), mode: 'copy' });",
        'clearInterval(timer);',
        'console.log(JSON.stringify({ ticks, counts: report.counts }));',
      ].join('\n');
      const env = {
        ...process.env,
        ...faultEnv(lib, { FAULT_SLOW_PATH: path.join(root, 'public/media'), FAULT_SLOW_US: '25000' }),
      };
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: root,
        encoding: 'utf8',
        env,
        timeout: 30_000,
      });
      expect(run.status, run.stderr).to.equal(0);
      const result = JSON.parse(run.stdout) as { ticks: number; counts: Record<string, number> };
      expect(result.counts).to.deep.equal({ copied: 1 });
      // 43 files of 25 ms each are copied one after another, with a turn for the event loop at least
      // every 30 ms: about 20 ticks. A copy that held the loop throughout would let the timer tick
      // only in the few awaits around it.
      expect(result.ticks, 'timer ticks during the copy').to.be.greaterThanOrEqual(10);
      expectConverged(root, ['big']);
    },
  );
});

describe('copy mode: progress line on a terminal only', function () {
  this.timeout(30_000);
  let lib: string;
  let root: string;
  let scriptWorks: string | undefined;

  before(function () {
    lib = needShim(this);
    const probe = spawnSync('script', ['-qfc', 'test -t 1 && test -t 2 && echo tty-ok', '/dev/null'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    scriptWorks =
      probe.status === 0 && probe.stdout.includes('tty-ok')
        ? undefined
        : `script(1) gives no pseudo-terminal here (${probe.error?.message ?? probe.stderr.trim() ?? probe.status})`;
    root = makeProject({ apps: ['big'], config: copyConfig(['big']) });
    bulkMedia(root, 'big', 80, 4096);
  });

  /** Each copied file takes 20 ms (a slow disk): 83 files last well over a second, the progress line's delay. */
  const slow = (): NodeJS.ProcessEnv =>
    faultEnv(lib, { FAULT_SLOW_PATH: path.join(root, 'public/media'), FAULT_SLOW_US: '20000' });
  const shellQuote = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
  const inTerminal = (args: string[]): { status: number | null; output: string; ms: number } => {
    rmSync(mediaOf(root), { recursive: true, force: true });
    const command = [process.execPath, GULP_BIN, '--no-color', ...args].map(shellQuote).join(' ');
    const started = Date.now();
    const run = spawnSync('script', ['-qfc', command, '/dev/null'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ...slow() },
      timeout: 30_000,
    });
    return { status: run.status, output: `${run.stdout}${run.stderr}`, ms: Date.now() - started };
  };
  const PROGRESS = /media:link: \d+ files?, [\d.]+ (B|KiB|MiB) \([\d.]+ (B|KiB|MiB)\/s\)/;

  it(
    'on a TTY, a copy lasting over a second shows a progress line (files, bytes, rate), ' +
      'rewritten in place and cleared',
    function () {
      if (scriptWorks) {
        console.log(`      skipped: ${scriptWorks}`);
        this.skip();
      }
      const run = inTerminal(['media:link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.ms, 'the slowed copy lasts over a second').to.be.greaterThan(1200);
      expect(run.output).to.match(PROGRESS);
      expect(run.output).to.contain('\r\u001b[K');
      expect(run.output).to.match(/copied\s+big .*\(copy, 83 files/);
      expectConverged(root, ['big']);
    },
  );

  it('on a TTY with --json --silent: only the JSON document, no progress text', function () {
    if (scriptWorks) {
      console.log(`      skipped: ${scriptWorks}`);
      this.skip();
    }
    const run = inTerminal(['media:link', '--json', '--silent']);
    expect(run.status, run.output).to.equal(0);
    expect(run.ms).to.be.greaterThan(1200);
    expect(run.output).to.not.match(/\/s\)/);
    expect(run.output).to.not.contain('\u001b[K');
    const json = JSON.parse(run.output.replace(/\r\n/g, '\n')) as { apps: Array<{ status: string }> };
    expect(json.apps[0]?.status).to.equal('copied');
  });

  it('piped (not a TTY): no progress text, no carriage return, even for a long copy', () => {
    rmSync(mediaOf(root), { recursive: true, force: true });
    const started = Date.now();
    const run = gulp(root, ['media:link'], slow());
    expect(run.status, run.output).to.equal(0);
    expect(Date.now() - started).to.be.greaterThan(1200);
    expect(run.output).to.not.contain('\r');
    expect(run.output).to.not.match(/\/s\)/);
    expect(run.stdout).to.match(/copied\s+big .*\(copy, 83 files/);
  });
});

describe('copy mode through the programmatic API', () => {
  it('link() then verify() agree, and a no-change link() writes nothing', async () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    const first = await link({ cwd: root, mode: 'copy' });
    expect(first.counts).to.deep.equal({ copied: 2 });
    const state = projectState(mediaOf(root));
    const again = await link({ cwd: root, mode: 'copy' });
    expect(again.counts).to.deep.equal({ 'up-to-date': 2 });
    expect(projectState(mediaOf(root))).to.deep.equal(state);
    const checked = await verify({ cwd: root });
    expect(checked.failed).to.equal(false);
    expect(checked.counts).to.deep.equal({ ok: 2 });
  });
});

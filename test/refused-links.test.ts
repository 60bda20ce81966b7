/**
 * When the system refuses to make symbolic links (Windows without the link
 * privilege, file systems without links), for real: an LD_PRELOAD shim makes
 * symlink()/symlinkat() fail with EPERM inside the gulp process. The same shim
 * also makes a wrong link (the check after each link) or puts a folder at the
 * link's path first (EEXIST at the last moment).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import * as project from './support/project.js';

after(project.removeTempDirs);

/** Compiles the shim once; undefined (with the reason) when there is no C compiler. */
function buildShim(): { lib?: string; why?: string } {
  const out = path.join(project.tempDir('shim'), 'deny-symlink.so');
  const source = path.join(project.REPO, 'test', 'support', 'deny-symlink.c');
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean) as string[]) {
    const run = spawnSync(cc, ['-shared', '-fPIC', '-o', out, source, '-ldl'], { encoding: 'utf8' });
    if (run.status === 0) return { lib: out };
    if (run.error === undefined) return { why: `${cc} failed: ${run.stderr.trim()}` };
  }
  return { why: 'no C compiler (cc, gcc or clang) to build the symlink-refusing shim' };
}

describe(
  'media:link when symbolic links are refused, made wrong, ' + 'or beaten to their path (an LD_PRELOAD shim)',
  function () {
    let shim: string;

    before(function () {
      if (process.platform !== 'linux') this.skip();
      const built = buildShim();
      if (!built.lib) {
        console.log(`      skipped: ${built.why ?? 'unknown reason'}`);
        this.skip();
      }
      shim = built.lib;
    });

    const refuse = (): NodeJS.ProcessEnv => ({ LD_PRELOAD: shim });
    // The auto-mode fallback runs through gulp, as a user meets it; the others through the command (viaCommand).

    it('the shim really refuses links in a child process (so the tests below can fail)', () => {
      const probe = spawnSync(
        process.execPath,
        ['-e', "require('fs').symlinkSync('a', require('path').join(process.argv[1], 'l'))", project.tempDir('probe')],
        { encoding: 'utf8', env: { ...process.env, ...refuse() } },
      );
      expect(probe.status).to.not.equal(0);
      expect(probe.stderr).to.contain('EPERM');
    });

    it('auto mode copies instead, says why once, and exits 0', () => {
      const root = project.makeProject({ apps: ['blog', 'shop'] });
      const run = project.gulp(root, ['media:link'], refuse());
      expect(run.status, run.output).to.equal(0);
      expect(
        run.output.match(/links are refused here \(symlink: EPERM\); copying instead/g),
        run.output,
      ).to.have.length(1);
      expect(run.stdout).to.match(/copied\s+blog\s+public\/media\/blog -> apps\/blog\/app_media\/blog \(copy/);
      for (const name of ['blog', 'shop']) {
        const entry = path.join(root, 'public/media', name);
        expect(project.isLink(entry), `${name} is a copy, not a link`).to.equal(false);
        const rel = `css/${name}.css`;
        expect(project.sha(readFileSync(path.join(entry, rel)))).to.equal(
          project.sha(readFileSync(path.join(root, 'apps', name, 'app_media', name, rel))),
        );
      }
      // The fallback is stable: a second refused run finds the copies up to date.
      const again = project.gulp(root, ['media:link'], refuse());
      expect(again.status, again.output).to.equal(0);
      expect(again.stdout).to.match(/media:link: 2 up-to-date/);
      // It tried a link first, the copy set aside (private) meanwhile: back, each copy has its mode again, readable
      // by the web server (it was left 0700 for good).
      for (const name of ['blog', 'shop'])
        expect((statSync(path.join(root, 'public/media', name)).mode & 0o777).toString(8), name).to.equal(
          (0o755 & ~process.umask()).toString(8),
        );
    });

    it("a later run where links work replaces the tool's own copies with links", () => {
      const root = project.makeProject({ apps: ['blog'] });
      expect(project.viaCommand(root, ['media:link'], refuse()).status).to.equal(0);
      const run = project.viaCommand(root, ['media:link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(/relinked\s+blog/);
      expect(project.isLink(path.join(root, 'public/media/blog'))).to.equal(true);
    });

    it('--mode symlink fails with APP_MEDIA_LINK_REFUSED, exits non-zero and leaves nothing half-made', () => {
      const root = project.makeProject({ apps: ['blog', 'shop'] });
      const before = project.projectState(root);
      const run = project.viaCommand(root, ['media:link', '--mode', 'symlink'], refuse());
      expect(run.status, run.output).to.not.equal(0);
      expect(run.output).to.contain('APP_MEDIA_LINK_REFUSED');
      expect(run.output).to.match(/--mode copy/);
      expect(project.exists(path.join(root, 'public/media/blog'))).to.equal(false);
      expect(project.exists(path.join(root, 'public/media/shop'))).to.equal(false);
      const after = project.projectState(root);
      // mediaRoot may have been created (empty); nothing else changed, and nothing was recorded as made.
      delete after['public'];
      delete after['public/media'];
      expect(after).to.deep.equal(before);
    });

    it('--json reports each app as error with the code, not as copied', () => {
      const root = project.makeProject({ apps: ['blog'] });
      const run = project.viaCommand(root, ['media:link', '--mode', 'symlink', '--json', '--silent'], refuse());
      expect(run.status).to.not.equal(0);
      const report = project.jsonReport(run);
      expect(report.apps[0]).to.include({ name: 'blog', status: 'error' });
      expect(String(report.apps[0]?.['reason'])).to.contain('APP_MEDIA_LINK_REFUSED');
    });

    // The check after each new link: a link that the system made but that leads elsewhere (or nowhere)
    // is not reported as linked, and is not recorded as the tool's.
    for (const [text, why] of [
      ['/', /the new link resolves to \/, not to the app's media folder/],
      ['nowhere', /the new link does not resolve/],
    ] as const) {
      it(`a link made with the wrong text (${text}) is caught: conflict, exit non-zero, not recorded`, () => {
        const root = project.makeProject({ apps: ['blog'] });
        const wrong = { ...refuse(), DENY_SYMLINK: `misdirect:${text}` };
        const run = project.viaCommand(root, ['media:link', '--mode', 'symlink', '--json', '--silent'], wrong);
        expect(run.status, run.output).to.not.equal(0);
        const report = project.jsonReport(run);
        expect(report.apps[0]).to.include({ name: 'blog', status: 'conflict' });
        expect(String(report.apps[0]?.['reason'])).to.match(why);
        const entry = path.join(root, 'public/media/blog');
        expect(readlinkSync(entry), 'the shim really wrote the wrong text').to.equal(text);
        // Nothing vouches for that link: a normal run leaves it alone as something it did not make.
        const again = project.viaCommand(root, ['media:link', '--mode', 'symlink']);
        expect(again.status, again.output).to.not.equal(0);
        expect(again.output).to.match(/conflict\s+blog\s+public\/media\/blog/);
        expect(again.output).to.match(/link not made by app-media is in the way/);
        expect(readlinkSync(entry)).to.equal(text);
      });
    }

    it(
      'a copy set aside to be replaced by a link, its name taken by a folder of yours at that moment: ' +
        'your folder stays, the old copy is kept aside and named, conflict',
      () => {
        const root = project.makeProject({ apps: ['blog'] });
        expect(project.viaCommand(root, ['media:link', '--mode', 'copy']).status).to.equal(0);
        const media = path.join(root, 'public/media');
        const copied = project.projectState(path.join(media, 'blog'));
        // The shim makes a folder at the link's path, then fails with EEXIST.
        const run = project.viaCommand(root, ['media:link', '--mode', 'symlink'], {
          ...refuse(),
          DENY_SYMLINK: 'occupy',
        });
        expect(run.status, run.output).to.not.equal(0);
        expect(run.output).to.match(/conflict\s+blog/);
        expect(run.output).to.match(/blog appeared while it was being linked/);
        expect(readdirSync(path.join(media, 'blog')), 'the folder that took the name is left as it is').to.deep.equal(
          [],
        );
        const kept = readdirSync(media).filter((name) => name.startsWith('.app-media-kept-blog-'));
        expect(kept).to.have.length(1);
        expect(run.output).to.contain(`the old copy is kept in public/media/${kept[0]}/`);
        expect(project.projectState(path.join(media, kept[0] as string)), 'the old copy, whole').to.deep.equal(copied);
        expect(readdirSync(media).filter((name) => name.startsWith('.app-media-tmp-'))).to.deep.equal([]);
        // Later runs leave both alone: the folder is not the tool's, and no run removes a kept folder.
        const again = project.viaCommand(root, ['media:link', '--mode', 'symlink']);
        expect(again.status, again.output).to.not.equal(0);
        expect(again.output).to.match(/conflict\s+blog/);
        expect(project.viaCommand(root, ['media:clean']).status).to.equal(0);
        expect(readdirSync(media).filter((name) => name.startsWith('.app-media-kept-blog-'))).to.deep.equal(kept);
        expect(readdirSync(path.join(media, 'blog'))).to.deep.equal([]);
      },
    );

    it('on Windows (simulated) a refused symbolic link falls back to a junction, an absolute link', () => {
      const root = project.makeProject({ apps: ['blog'], gulp: false });
      const script = `import { link } from ${JSON.stringify(path.join(project.REPO, 'dist', 'index.js'))};
      const report = await link({ cwd: process.argv[1], platform: 'win32' });
      process.stdout.write(JSON.stringify(report));`;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, root], {
        encoding: 'utf8',
        env: { ...process.env, ...refuse(), DENY_SYMLINK: 'relative' },
      });
      expect(run.status, run.stderr).to.equal(0);
      const report = JSON.parse(run.stdout) as { apps: Array<{ status: string; mode: string }>; warnings: string[] };
      expect(report.apps[0]).to.include({ status: 'linked', mode: 'junction' });
      expect(report.warnings.join('\n')).to.match(/made junctions instead/);
      const entry = path.join(root, 'public/media/blog');
      expect(path.isAbsolute(readlinkSync(entry))).to.equal(true);
      expect(realpathSync(entry)).to.equal(path.join(root, 'apps/blog/app_media/blog'));
    });
  },
);

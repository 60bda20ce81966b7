/**
 * Source folder stamps (src/core/fs/walk.ts, CtimeStamps): a copy's record keeps the ctime each folder
 * of the app's media folder had when it was listed, and a re-run takes a folder whose ctime is still
 * that from the record instead of listing it. These tests show that any change of names in a source
 * folder is seen (its ctime moves, and no one can set it back), that what the walk then gives is what a
 * full listing gives, that folders holding what the copy leaves out get no stamp, and that names from
 * the records file are checked like any untrusted input.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { link, verify } from '../src/index.js';
import { recordedListing, type CopyRecord } from '../src/core/records.js';
import { changeTimesOf, mayFoldCase } from '../src/core/fs/change-times.js';
import { sourceStamps } from '../src/core/fs/stamp.js';
import { walkTreeSync, type TreeFacts, type WalkOptions } from '../src/core/fs/walk.js';
import { copyRecordOf, planCopy } from '../src/link/copy-plan.js';
import { linkedInProcess, makeProject, removeTempDirs, tempDir, writeTree } from './support/project.js';
import { TREE_CHANGES, writeChangeTree } from './support/tree-changes.js';

after(removeTempDirs);

type Listing = ReturnType<typeof recordedListing>;

/** A record of the tree as a copy of all of it has: every file, every folder. */
function recordOf(tree: TreeFacts): CopyRecord {
  const files: CopyRecord['files'] = {};
  for (const [rel, facts] of tree.files) files[rel] = [facts.size, Math.round(facts.mtimeMs)];
  return { kind: 'copy', source: 'apps/x/app_media/x', files, dirs: [...tree.dirs] };
}

/**
 * The source stamps a record of the tree at `dir` gets, as if its walk had begun long enough ago (the two
 * seconds a stamp needs are tested on their own), and the listing the record gives.
 */
function stampsOf(dir: string, options: WalkOptions = {}): { stamps: Record<string, number>; listing: Listing } {
  const tree = longAgo(walkTreeSync(dir, { ...options, sourceStamps: {} }));
  const record = recordOf(tree);
  return { stamps: sourceStamps(dir, record, tree) ?? {}, listing: recordedListing(record) };
}

/** A walk as if it had begun a minute later (by both clocks): what it saw can be stamped at once. */
function longAgo(tree: TreeFacts): TreeFacts {
  expect(tree.walkedAt, 'the walk can give stamps here').to.be.a('number');
  tree.walkedAt = Date.now() + 60_000;
  tree.walkedTick = performance.now() + 60_000;
  return tree;
}

/** The paths `readdirSync` is called on while `work` runs. */
async function listedDuring(work: () => unknown): Promise<string[]> {
  const listed: string[] = [];
  const real = fs.readdirSync;
  fs.readdirSync = function readdirSpy(this: unknown, ...args: Parameters<typeof fs.readdirSync>) {
    listed.push(String(args[0]));
    return real.apply(this, args as never);
  } as typeof fs.readdirSync;
  syncBuiltinESMExports();
  try {
    await work();
  } finally {
    fs.readdirSync = real;
    syncBuiltinESMExports();
  }
  return listed;
}

/** A source-like tree, and its stamps. */
function sourceTree(): { dir: string; stamps: Record<string, number>; listing: Listing } {
  const dir = path.join(tempDir('source-stamps'), 'media');
  writeChangeTree(dir);
  return { dir, ...stampsOf(dir) };
}

/** The walk with the stamps, and the full listing, both with the same options (when each began aside). */
function bothWalks(
  dir: string,
  stamps: Record<string, number>,
  listing: Listing,
  options: WalkOptions = {},
): [TreeFacts, TreeFacts] {
  const stamped = walkTreeSync(dir, { ...options, sourceStamps: { known: { stamps, listing } } });
  const listed = walkTreeSync(dir, { ...options, sourceStamps: {} });
  return [
    { ...stamped, walkedAt: 0, walkedTick: 0 },
    { ...listed, walkedAt: 0, walkedTick: 0 },
  ];
}

describe('source folder stamps: the stamped walk gives what a full listing gives, whatever changed', () => {
  it("every plain folder of a copy's source gets its ctime", () => {
    const { dir, stamps } = sourceTree();
    expect(Object.keys(stamps).sort()).to.deep.equal(['.', 'css', 'css/vendor', 'empty', 'img', 'js', 'js/lib']);
    for (const [rel, ctime] of Object.entries(stamps))
      expect(fs.lstatSync(path.join(dir, rel)).ctimeMs).to.equal(ctime);
  });

  it('a folder whose ctime is not two seconds older than the walk gets no stamp (a change could keep it)', () => {
    const dir = path.join(tempDir('source-stamps'), 'media');
    writeTree(dir, { 'css/a.css': 'a' });
    const tree = walkTreeSync(dir, { sourceStamps: {} });
    expect(sourceStamps(dir, recordOf(tree), tree)).to.equal(undefined);
  });

  it('a wall clock stepped back since the walk began (NTP, a resume): no stamp for a folder changed since', () => {
    const dir = path.join(tempDir('source-stamps'), 'media');
    writeTree(dir, { 'css/a.css': 'a' });
    const tree = walkTreeSync(dir, { sourceStamps: {} });
    // The walk began with the clock an hour ahead; it is right now: css/ was changed after the walk by the
    // monotonic clock, though its ctime is an hour older than the walk's wall-clock start.
    tree.walkedAt = Date.now() + 3_600_000;
    expect(sourceStamps(dir, recordOf(tree), tree)).to.equal(undefined);
    // With the start measured on the monotonic clock as well, a minute ago: stamped.
    tree.walkedTick = performance.now() + 60_000;
    expect(Object.keys(sourceStamps(dir, recordOf(tree), tree) ?? {}).sort()).to.deep.equal(['.', 'css']);
  });

  it('only file systems whose folder ctimes vouch for names give stamps (a local disk, tmpfs; not /proc)', () => {
    const dir = tempDir('source-stamps');
    expect(changeTimesOf(dir).keep, `${dir}: ${fs.statfsSync(dir).type.toString(16)}`).to.equal(true);
    expect(changeTimesOf('/proc/self').keep).to.equal(false);
    expect(changeTimesOf(path.join(dir, 'missing')).keep).to.equal(false);
    const procWalk = walkTreeSync('/proc/self/fdinfo', { sourceStamps: {} });
    expect(procWalk.walkedAt, 'a walk on /proc can give no stamp').to.equal(undefined);
  });

  it('a stamped folder is not listed; one that finds a name in other case is (case-folded)', async () => {
    const { dir, stamps, listing } = sourceTree();
    const options: WalkOptions = { ignore: ['*.psd'], sourceStamps: { known: { stamps, listing } } };
    expect(await listedDuring(() => walkTreeSync(dir, options)), 'every folder stamped').to.deep.equal([]);
    // An ignored drafts.psd, and a record forged with css/'s ctime and a name DRAFTS.PSD that leads to the
    // same file, as a case-folded folder would answer (here: a second link to it).
    const css = path.join(dir, 'css');
    fs.writeFileSync(path.join(css, 'drafts.psd'), 'UNRELEASED');
    const forged = (): WalkOptions => {
      const names = new Map([...listing].map(([rel, held]) => [rel, new Map(held)]));
      names.get('css')?.set('DRAFTS.PSD', 'file');
      const ctimes = { ...stamps, css: fs.lstatSync(css).ctimeMs };
      return { ignore: ['*.psd'], sourceStamps: { mayFoldCase: true, known: { stamps: ctimes, listing: names } } };
    };
    fs.writeFileSync(path.join(css, 'DRAFTS.PSD'), 'another file of that name (a case-sensitive folder)');
    expect(await listedDuring(() => walkTreeSync(dir, forged())), 'another file: not case-folded').to.deep.equal([]);
    fs.unlinkSync(path.join(css, 'DRAFTS.PSD'));
    fs.linkSync(path.join(css, 'drafts.psd'), path.join(css, 'DRAFTS.PSD'));
    expect(await listedDuring(() => walkTreeSync(dir, forged())), 'the same file: listed').to.deep.equal([css]);
  });

  it(
    'a forged name a case-folded folder folds to an ignored one (ß is ss; a folder of other case) makes the ' +
      'folder listed; so does a recorded name with a default-ignorable code point',
    async () => {
      // A case-folded folder (Linux folds with full case folding: ß is ss) answers every name of the fold:
      // here, each is a second link to the file (this kernel mounts no case-folded folder).
      const { dir, stamps, listing } = sourceTree();
      const css = path.join(dir, 'css');
      fs.writeFileSync(path.join(css, 'main.scss'), 'UNRELEASED');
      const forged = (rel: string, name: string, kind: 'file' | 'dir', globs: string[]): WalkOptions => {
        const names = new Map([...listing].map(([at, held]) => [at, new Map(held)]));
        names.get(rel)?.set(name, kind);
        const ctimes = { ...stamps, [rel]: fs.lstatSync(rel === '.' ? dir : path.join(dir, rel)).ctimeMs };
        return { ignore: globs, sourceStamps: { mayFoldCase: true, known: { stamps: ctimes, listing: names } } };
      };
      for (const alias of ['main.scß', 'MAIN.SCSS']) fs.linkSync(path.join(css, 'main.scss'), path.join(css, alias));
      expect(
        await listedDuring(() => walkTreeSync(dir, forged('css', 'main.scß', 'file', ['*.scss']))),
        'ß',
      ).to.deep.equal([css]);
      // Some kernels drop default-ignorable code points as they fold: such a name is never taken from a record.
      fs.writeFileSync(path.join(css, '.env'), 'SECRET=1');
      fs.linkSync(path.join(css, '.env'), path.join(css, '\u200c.env'));
      expect(
        await listedDuring(() => walkTreeSync(dir, forged('css', '\u200c.env', 'file', ['.*']))),
        'a zero-width non-joiner',
      ).to.deep.equal([css]);
      // A folder of other case, under a glob that names a folder (drafts/*), matched as written below it:
      // the same folder under both names (a bind mount), as a case-folded parent would answer.
      fs.mkdirSync(path.join(dir, 'drafts'));
      fs.writeFileSync(path.join(dir, 'drafts/plan.txt'), 'UNRELEASED');
      fs.mkdirSync(path.join(dir, 'DRAFTS'));
      if (spawnSync('mount', ['--bind', path.join(dir, 'drafts'), path.join(dir, 'DRAFTS')]).status !== 0) {
        console.log('      (the folder of other case is not checked: no bind mount here)');
        return;
      }
      try {
        const listed = await listedDuring(() => walkTreeSync(dir, forged('.', 'DRAFTS', 'dir', ['drafts/*'])));
        expect(listed, 'DRAFTS/ for drafts/: the top is listed').to.include(dir);
      } finally {
        spawnSync('umount', [path.join(dir, 'DRAFTS')]);
      }
    },
  );

  it('folders are checked for case folding where the file system and the kernel allow it', () => {
    const [ext4, xfs, btrfs, tmpfs] = [0xef53, 0x58465342, 0x9123683e, 0x01021994];
    const sysfs = (features: string[] | undefined): string => {
      const at = tempDir('sysfs');
      if (features) writeTree(at, Object.fromEntries(features.map((name) => [`ext4/features/${name}`, '1'])));
      return at;
    };
    const withFolding = sysfs(['casefold', 'encryption']);
    const withoutFolding = sysfs(['encryption']);
    const noSysfs = sysfs(undefined);
    expect(mayFoldCase(ext4, withFolding), 'a kernel with Unicode folding').to.equal(true);
    expect(mayFoldCase(ext4, withoutFolding), 'a kernel without it').to.equal(false);
    expect(mayFoldCase(tmpfs, withoutFolding)).to.equal(false);
    expect(mayFoldCase(ext4, noSysfs), 'sysfs says nothing').to.equal(true);
    expect(mayFoldCase(xfs, withoutFolding), 'xfs may be made ASCII case-insensitive').to.equal(true);
    expect(mayFoldCase(btrfs, withFolding), 'btrfs never folds').to.equal(false);
    // This machine's kernel, as the walk takes it.
    const dir = tempDir('source-stamps');
    const folds = fs.existsSync('/sys/fs/ext4/features/casefold') || !fs.existsSync('/sys/fs/ext4/features');
    if (fs.statfsSync(dir).type === ext4) expect(changeTimesOf(dir).mayFoldCase).to.equal(folds);
  });

  it('a folder still at its stamp is not listed: a name the record leaves out is not seen', () => {
    const { dir, stamps, listing } = sourceTree();
    const forged = new Map([...listing].map(([rel, names]) => [rel, new Map(names)]));
    forged.get('css')?.delete('site.css');
    const [stamped] = bothWalks(dir, stamps, forged);
    expect([...stamped.files.keys()]).to.not.include('css/site.css');
    expect([...stamped.files.keys()]).to.include('css/vendor/x.css');
  });

  const changes: Record<string, (dir: string) => void> = {
    ...TREE_CHANGES,
    'a file added, its folder time put back': (dir) => {
      const folder = path.join(dir, 'css');
      const { atime, mtime } = fs.lstatSync(folder);
      fs.writeFileSync(path.join(folder, 'slipped.css'), 's');
      fs.utimesSync(folder, atime, mtime); // sets mtime back; ctime moves all the same
    },
    'a file replaced by a link': (dir) => {
      fs.unlinkSync(path.join(dir, 'a.css'));
      fs.symlinkSync('css/site.css', path.join(dir, 'a.css'));
    },
    'a dotfile added (ignored)': (dir) => fs.writeFileSync(path.join(dir, 'css/.env'), 'SECRET=1'),
    'the media folder replaced by another one': (dir) => {
      fs.renameSync(dir, `${dir}-old`);
      writeTree(dir, { 'a.css': 'other', 'css/site.css': 'other' });
    },
  };

  for (const [what, change] of Object.entries(changes)) {
    it(what, () => {
      const { dir, stamps, listing } = sourceTree();
      change(dir);
      const [stamped, listed] = bothWalks(dir, stamps, listing, { ignore: ['.*'], followInternalLinks: true });
      expect(stamped).to.deep.equal(listed);
    });
  }

  it('a recorded name an ignore glob now matches is left out and counted; its folder gets no new stamp', () => {
    const { dir, stamps, listing } = sourceTree();
    const [stamped, listed] = bothWalks(dir, stamps, listing, { ignore: ['*.png'] });
    expect(stamped).to.deep.equal(listed);
    expect(stamped.ignored).to.equal(1);
    expect([...(stamped.mixed ?? [])], 'a record made now gives it no stamp').to.include('img');
  });

  it('names from the records file that are not plain names make the folder listed', () => {
    const { dir, stamps, listing } = sourceTree();
    writeTree(path.dirname(dir), { 'outside.txt': 'not the app' });
    for (const name of ['../outside.txt', '..', '.', 'css/site.css', '']) {
      const forged = new Map([...listing].map(([rel, names]) => [rel, new Map(names)]));
      forged.get('.')?.set(name, 'file');
      const [stamped, listed] = bothWalks(dir, stamps, forged);
      expect(stamped, JSON.stringify(name)).to.deep.equal(listed);
    }
  });

  it('a folder holding a link, an ignored file, or less than the record lists gets no stamp in the record', () => {
    const dir = path.join(tempDir('source-stamps'), 'media');
    writeTree(dir, { 'css/a.css': 'a', 'img/.DS_Store': 'x', 'img/b.png': 'b', 'js/c.js': 'c', 'fonts/f.woff': 'f' });
    fs.symlinkSync('c.js', path.join(dir, 'js/d.js'));
    const source = longAgo(walkTreeSync(dir, { ignore: ['.*'], followInternalLinks: true, sourceStamps: {} }));
    const plan = planCopy(source, undefined, undefined);
    // As if the copy's record kept a file the source no longer has (edited by hand in the copy).
    plan.edited.set('fonts/old.woff', [1, 0]);
    const record: CopyRecord = copyRecordOf(plan, 'apps/x/app_media/x');
    expect(Object.keys(sourceStamps(dir, record, source) ?? {})).to.deep.equal(['.', 'css']);
  });
});

describe('source folder stamps through link and verify (sources two seconds old)', () => {
  /** A copied project whose media folders were old enough to be stamped when copied. */
  async function copiedOld(): Promise<{ root: string; source: string; copy: string }> {
    const root = makeProject({
      apps: ['blog'],
      config: { mediaRoot: 'public/media', mode: 'copy', apps: ['./apps/blog'] },
    });
    await sleep(2100);
    await linkedInProcess(root);
    const source = path.join(root, 'apps/blog/app_media/blog');
    const copy = path.join(root, 'public/media/blog');
    const records = JSON.parse(fs.readFileSync(path.join(root, 'public/media/.app-media.json'), 'utf8')) as {
      entries: Record<string, CopyRecord>;
    };
    expect(Object.keys(records.entries['blog']?.sourceStamps ?? {}).sort(), 'stamped when copied').to.deep.equal([
      '.',
      'css',
      'img',
      'js',
    ]);
    return { root, source, copy };
  }

  it('a file added to a stamped source folder is reported by verify and copied by the next link', async () => {
    const { root, source, copy } = await copiedOld();
    let again: Awaited<ReturnType<typeof link>> | undefined;
    const listed = await listedDuring(async () => (again = await link({ cwd: root })));
    expect(again?.counts['up-to-date']).to.equal(1);
    expect(
      listed.filter((folder) => folder.startsWith(source)),
      'a no-change re-run lists no source folder',
    ).to.deep.equal([]);
    fs.writeFileSync(path.join(source, 'css/added.css'), '.added {}');
    const checked = await verify({ cwd: root });
    expect(checked.apps[0]?.status).to.equal('drift');
    expect(checked.apps[0]?.reason).to.match(/css\/added\.css missing/);
    const linked = await linkedInProcess(root);
    expect(linked.apps[0]?.status).to.equal('copied');
    expect(fs.readFileSync(path.join(copy, 'css/added.css'), 'utf8')).to.equal('.added {}');
  });

  it('stamps of another media folder (mediaDirname changed) are not taken, even where the ctimes match', async () => {
    const { root, copy } = await copiedOld();
    const other = path.join(root, 'apps/blog/static/blog');
    writeTree(other, { 'css/blog.css': 'b', 'css/extra.css': 'e', 'img/blog.png': 'p', 'js/blog.js': 'j' });
    // Forged to the very ctimes of the new folder (two folders made in the same clock tick can share one).
    const file = path.join(root, 'public/media/.app-media.json');
    const records = JSON.parse(fs.readFileSync(file, 'utf8')) as { entries: Record<string, CopyRecord> };
    const record = records.entries['blog'] as CopyRecord;
    record.sourceStamps = Object.fromEntries(
      ['.', 'css', 'img', 'js'].map((rel) => [rel, fs.lstatSync(path.join(other, rel)).ctimeMs]),
    );
    fs.writeFileSync(file, JSON.stringify(records, null, 1));
    fs.writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({
        mediaRoot: 'public/media',
        mode: 'copy',
        apps: [{ path: './apps/blog', mediaDirname: 'static' }],
      }),
    );
    await linkedInProcess(root);
    expect(fs.readFileSync(path.join(copy, 'css/extra.css'), 'utf8')).to.equal('e');
  });

  it('a file removed from a stamped source folder is removed from the copy', async () => {
    const { root, source, copy } = await copiedOld();
    fs.unlinkSync(path.join(source, 'js/blog.js'));
    const checked = await verify({ cwd: root });
    expect(checked.apps[0]?.status).to.equal('drift');
    await linkedInProcess(root);
    expect(() => fs.lstatSync(path.join(copy, 'js/blog.js'))).to.throw(/ENOENT/);
  });

  it('a file added by hand to the copy is still seen and kept while the source is taken from its stamps', async () => {
    const { root, copy } = await copiedOld();
    fs.writeFileSync(path.join(copy, 'css/mine.css'), 'mine');
    const report = await link({ cwd: root });
    expect(report.failed).to.equal(false);
    expect(report.apps[0]?.reason).to.match(/kept css\/mine\.css/);
    expect(fs.readFileSync(path.join(copy, 'css/mine.css'), 'utf8')).to.equal('mine');
    const checked = await verify({ cwd: root });
    expect(checked.apps[0]?.status).to.equal('drift');
  });
});

describe('source folder stamps on a file system that does not keep real ctimes (exFAT)', function () {
  this.timeout(30_000);
  let mounted: { dir: string; loop: string } | undefined;

  /** An exFAT image, mounted with exfat-fuse through a loop device: what a USB drive or an SD card is. */
  before(function () {
    const image = path.join(tempDir('exfat'), 'disk.img');
    const dir = path.join(path.dirname(image), 'mnt');
    fs.mkdirSync(dir);
    fs.writeFileSync(image, '');
    fs.truncateSync(image, 32 * 1024 * 1024);
    const run = (command: string, args: string[]): { ok: boolean; out: string } => {
      const result = spawnSync(command, args, { encoding: 'utf8' });
      const out = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ?? ''}`.trim();
      return { ok: result.status === 0, out };
    };
    const made = run('mkfs.exfat', [image]);
    const loop = made.ok ? run('losetup', ['-f', '--show', image]) : made;
    const mount = loop.ok ? run('mount.exfat-fuse', [loop.out, dir]) : loop;
    if (!mount.ok) {
      if (loop.ok) run('losetup', ['-d', loop.out]);
      console.log(`      skipped: no exFAT mount here (mkfs.exfat, losetup, mount.exfat-fuse as root): ${mount.out}`);
      this.skip();
    }
    mounted = { dir, loop: loop.out };
  });

  after(() => {
    if (!mounted) return;
    spawnSync('umount', [mounted.dir]);
    spawnSync('losetup', ['-d', mounted.loop]);
  });

  it('a copy gets no source stamps; a file added with its folder times put back (cp -a, unzip) is copied', async () => {
    const { dir } = mounted as { dir: string };
    const app = path.join(dir, 'blog');
    writeTree(app, { 'package.json': '{"name":"blog"}', 'app_media/blog/css/site.css': 'body {}' });
    const root = makeProject({ apps: [], config: { mediaRoot: 'public/media', mode: 'copy', apps: [app] } });
    await sleep(2100);
    await linkedInProcess(root);
    const records = JSON.parse(fs.readFileSync(path.join(root, 'public/media/.app-media.json'), 'utf8')) as {
      entries: Record<string, CopyRecord>;
    };
    expect(records.entries['blog']?.sourceStamps, 'exFAT keeps no change time of its own').to.equal(undefined);
    const css = path.join(app, 'app_media/blog/css');
    const { atime, mtime } = fs.statSync(css);
    await sleep(2100);
    fs.writeFileSync(path.join(css, 'added.css'), '.added {}');
    fs.utimesSync(css, atime, mtime);
    expect(fs.statSync(css).ctimeMs, 'on exFAT the folder time is put back, ctime too').to.equal(mtime.getTime());
    const checked = await verify({ cwd: root });
    expect(checked.apps[0]?.reason).to.match(/css\/added\.css missing/);
    await linkedInProcess(root);
    expect(fs.readFileSync(path.join(root, 'public/media/blog/css/added.css'), 'utf8')).to.equal('.added {}');
  });
});

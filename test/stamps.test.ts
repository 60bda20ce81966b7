/**
 * Folder stamps (src/core/fs/stamp.ts): once a copy is written, each of its folders
 * carries a time in the past that the records keep, and a re-run takes a
 * stamped folder's names from the records instead of listing it. These tests
 * show that a folder is listed again as soon as anything in it changes, that a
 * folder holding a file added by hand is never stamped, that older or broken
 * records still work, and that a stamp fooled on purpose hides a file from a
 * report but never costs it.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import {
  recordedListing,
  serializeRecords,
  type CopyRecord,
  type Records as RecordsFile,
} from '../src/core/records.js';
import { openFolder } from '../src/core/fs/folder.js';
import { stampCopy, stampFolder, stampTime } from '../src/core/fs/stamp.js';
import { stampFolders } from '../src/collect/outputs.js';
import { walkTreeSync } from '../src/core/fs/walk.js';
import {
  appMedia,
  jsonReport,
  linkedInProcess,
  makeProject,
  removeTempDirs,
  setMtime,
  tempDir,
  writeTree,
} from './support/project.js';
import { TREE_CHANGES, TREE_FILES, writeChangeTree } from './support/tree-changes.js';

after(removeTempDirs);

const MANIFEST = '.app-media.json';
const copyConfig = (apps: string[]): Record<string, unknown> => ({
  mediaRoot: 'public/media',
  mode: 'copy',
  apps: apps.map((name) => `./apps/${name}`),
});
const mediaOf = (root: string): string => path.join(root, 'public/media');
const sourceOf = (root: string, name: string): string => path.join(root, 'apps', name, 'app_media', name);

interface Records {
  entries: Record<string, { kind: string; files?: Record<string, [number, number]>; stamps?: Record<string, number> }>;
}
const readRecords = (root: string): Records =>
  JSON.parse(fs.readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8')) as Records;
const writeRecords = (root: string, records: Records): void =>
  fs.writeFileSync(path.join(mediaOf(root), MANIFEST), `${JSON.stringify(records, null, 1)}\n`);

/** A project with its apps copied (a set-up step, in process); returns its root. */
async function copied(apps = ['blog']): Promise<string> {
  const root = makeProject({ apps, config: copyConfig(apps), gulp: false });
  await linkedInProcess(root);
  return root;
}

/**
 * Slips `slipped.css` into the copy's css/ folder and puts the folder's time back as it was: a stamp fooled on purpose.
 */
function slipIn(root: string): string {
  const css = path.join(mediaOf(root), 'blog/css');
  const mtime = fs.lstatSync(css).mtimeMs;
  fs.writeFileSync(path.join(css, 'slipped.css'), '/* slipped */');
  setMtime(css, mtime);
  return css;
}

/** stampCopy on the copy at `dir`, through its parent folder held open as a run holds mediaRoot. */
function stampAt(
  dir: string,
  record: CopyRecord,
  previous?: Readonly<Record<string, number>>,
  now?: number,
): Record<string, number> | undefined {
  const parent = openFolder(path.dirname(dir), { follow: true });
  try {
    return stampCopy(parent, path.basename(dir), record, previous, now);
  } finally {
    parent.close();
  }
}

describe('copy mode: folder stamps (a re-run need not list the copy)', () => {
  it('after a copy, every folder of it carries a past time (a whole even second) that the records keep', async () => {
    const before = Date.now();
    const root = await copied();
    const after = Date.now();
    const stamps = readRecords(root).entries['blog']?.stamps ?? {};
    expect(Object.keys(stamps).sort(), 'one stamp per folder of the copy, "." for the copy itself').to.deep.equal([
      '.',
      'css',
      'img',
      'js',
    ]);
    for (const [folder, stamp] of Object.entries(stamps)) {
      const dir = path.join(mediaOf(root), 'blog', folder);
      expect(fs.lstatSync(dir).mtimeMs, `${folder}: the folder's mtime is its stamp`).to.equal(stamp);
      expect(stamp % 2000, `${folder}: a whole even second`).to.equal(0);
      // Stamped during the run (between before and after): 2 to 4 s before that moment.
      expect(stamp, `${folder}: at least 2 s before the run ended`).to.be.at.most(after - 2000);
      expect(stamp, `${folder}: less than 4 s before the run began`).to.be.above(before - 4000);
    }
    // The files keep their source's times: only folders are stamped.
    const file = path.join(mediaOf(root), 'blog/css/blog.css');
    expect(fs.statSync(file).mtimeMs).to.be.closeTo(
      fs.statSync(path.join(sourceOf(root, 'blog'), 'css/blog.css')).mtimeMs,
      0.01,
    );
  });

  it(
    'a copy with an empty folder (kept in the records\' "dirs"): a re-run writes nothing, ' + 'not even a lock',
    async () => {
      const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']), gulp: false });
      fs.mkdirSync(path.join(sourceOf(root, 'blog'), 'fonts/empty'), { recursive: true });
      await linkedInProcess(root);
      expect(fs.readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8')).to.match(
        /"dirs": \["fonts","fonts\/empty"\]/,
      );
      const media = fs.statSync(mediaOf(root));
      const text = fs.readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8');
      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(/1 up-to-date/);
      expect(fs.statSync(mediaOf(root)).mtimeMs, 'no lock or temporary file was made in mediaRoot').to.equal(
        media.mtimeMs,
      );
      expect(fs.readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8')).to.equal(text);
    },
  );

  it(
    'a stamp is only the time that was set (stampFolder, for copies and builds): where the time read back is ' +
      'another (the file system kept its own, or a change landed meanwhile) there is none; a build folder is listed',
    () => {
      const base = tempDir('stamp');
      fs.mkdirSync(path.join(base, 'a'));
      const root = openFolder(base);
      const folderClass = Object.getPrototypeOf(root) as { setTimes: (this: unknown, seconds: number) => void };
      const setTimes = folderClass.setTimes;
      try {
        const seconds = stampTime();
        expect(stampFolder(root.open('a'), seconds), 'a time that holds').to.equal(seconds * 1000);
        // A file system that takes the call and keeps its own time: what is read back is "now".
        folderClass.setTimes = () => undefined;
        fs.writeFileSync(path.join(base, 'a', 'new.txt'), 'x');
        expect(stampFolder(root.open('a'), seconds - 2)).to.equal(undefined);
        const built = stampFolders(root, ['', 'a'], { stamps: new Map(), dirs: new Map() });
        expect([...built.dirs.keys()].sort()).to.deep.equal(['', 'a']);
        expect(built.stamps.size, 'no stamp, so the folder is listed by every run').to.equal(0);
      } finally {
        folderClass.setTimes = setTimes;
        root.close();
      }
    },
  );

  it('stampTime: a whole even second, two to four seconds before now', () => {
    for (const now of [1_700_000_000_000, 1_700_000_001_000, 1_700_000_001_999, 1_700_000_002_001]) {
      const seconds = stampTime(now);
      expect(Number.isInteger(seconds) && seconds % 2 === 0, `${now}`).to.equal(true);
      expect(now - seconds * 1000, `${now}`)
        .to.be.at.least(2000)
        .and.below(4000);
    }
  });

  it(
    "a stamped folder is not listed: a file slipped in with the folder's time put back is unseen, " +
      "until the folder's time moves",
    async () => {
      const root = await copied();
      const css = slipIn(root);

      // This is what the stamp spares: the folder's names come from the records.
      const unseen = appMedia(root, ['verify', '--json']);
      expect(unseen.status, unseen.output).to.equal(0);
      expect(jsonReport(unseen).apps.map((app) => app['status'])).to.deep.equal(['ok']);

      // Any change to the folder (here its time alone) and it is listed again.
      fs.utimesSync(css, new Date(), new Date());
      const seen = appMedia(root, ['verify']);
      expect(seen.status, seen.output).to.equal(1);
      expect(seen.output)
        .to.match(/drift\s+blog/)
        .and.match(/css\/slipped\.css not written by app-media/);
    },
  );

  it(
    'a stamp fooled on purpose never costs a byte: a slipped-in file stays when the source drops its folder, ' +
      'and is named on the next run',
    async () => {
      const root = await copied();
      const css = slipIn(root);
      fs.rmSync(path.join(sourceOf(root, 'blog'), 'css'), { recursive: true });

      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(fs.readFileSync(path.join(css, 'slipped.css'), 'utf8'), 'the file is there, whole').to.equal(
        '/* slipped */',
      );
      expect(() => fs.lstatSync(path.join(css, 'blog.css')), "the tool's own file is gone").to.throw(/ENOENT/);

      const next = appMedia(root, ['link']);
      expect(next.status, next.output).to.equal(0);
      expect(next.output).to.match(/kept css\/slipped\.css \(added by hand/);
    },
  );

  it("a file edited in place (the folder's time does not move) is still seen: each file is looked at", async () => {
    const root = await copied();
    const file = path.join(mediaOf(root), 'blog/js/blog.js');
    const stamp = fs.lstatSync(path.dirname(file)).mtimeMs;
    fs.writeFileSync(file, 'console.log("mine, longer than before");\n');
    expect(fs.lstatSync(path.dirname(file)).mtimeMs, "editing a file in place leaves its folder's time").to.equal(
      stamp,
    );
    const run = appMedia(root, ['link']);
    expect(run.status, run.output).to.equal(1);
    expect(run.output)
      .to.match(/conflict\s+blog/)
      .and.match(/js\/blog\.js \(changed by hand\)/);
    expect(fs.readFileSync(file, 'utf8')).to.equal('console.log("mine, longer than before");\n');
  });

  it(
    'a folder that holds a file added by hand gets no stamp (it is listed by every run); ' + 'the others get new ones',
    async () => {
      const root = await copied();
      fs.writeFileSync(path.join(mediaOf(root), 'blog/css/mine.css'), '/* mine */');
      fs.writeFileSync(path.join(sourceOf(root, 'blog'), 'js/blog.js'), 'console.log("v2");\n');
      const old = readRecords(root).entries['blog']?.stamps ?? {};

      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(0);
      const stamps = readRecords(root).entries['blog']?.stamps ?? {};
      expect(Object.keys(stamps).sort()).to.deep.equal(['.', 'img', 'js']);
      expect(stamps['js'], 'the folder written to has a new stamp').to.be.a('number').and.not.equal(old['js']);
      expect(fs.lstatSync(path.join(mediaOf(root), 'blog/js')).mtimeMs).to.equal(stamps['js']);

      for (let i = 0; i < 2; i++) {
        const again = appMedia(root, ['link']);
        expect(again.status, again.output).to.equal(0);
        expect(again.output, `run ${i + 2}`).to.match(/kept css\/mine\.css \(added by hand/);
      }
    },
  );

  it(
    'records without stamps (an older version): every folder is listed, and a no-change run writes nothing, ' +
      'not even stamps',
    async () => {
      const root = await copied(['blog']);
      const records = readRecords(root);
      delete records.entries['blog']?.stamps;
      fs.writeFileSync(path.join(mediaOf(root), MANIFEST), serializeRecords(records as unknown as RecordsFile));
      const text = fs.readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8');
      slipIn(root);
      const times = ['blog', 'blog/css', 'blog/js'].map((rel) => fs.lstatSync(path.join(mediaOf(root), rel)).mtimeMs);

      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output, 'without a stamp the folder is listed').to.match(/kept css\/slipped\.css \(added by hand/);
      expect(fs.readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8'), 'the records file is not rewritten').to.equal(
        text,
      );
      expect(
        ['blog', 'blog/css', 'blog/js'].map((rel) => fs.lstatSync(path.join(mediaOf(root), rel)).mtimeMs),
        'no folder is stamped by a run that changes nothing',
      ).to.deep.equal(times);
    },
  );

  it(
    "broken stamps in the records prove nothing and cost nothing: the copy is still the tool's, " +
      'its folders are listed',
    async () => {
      const root = await copied(['blog']);
      const records = readRecords(root);
      (records.entries['blog'] as Record<string, unknown>)['stamps'] = {
        '.': 'yesterday',
        css: fs.lstatSync(path.join(mediaOf(root), 'blog/css')).mtimeMs,
      };
      writeRecords(root, records);
      slipIn(root);

      const run = appMedia(root, ['link', '--json']);
      expect(run.status, run.output).to.equal(0);
      expect(jsonReport(run).apps.map((app) => [app['name'], app['status']])).to.deep.equal([['blog', 'up-to-date']]);
      expect(run.stdout, 'a stamps field with one bad value is dropped whole').to.match(/kept css\/slipped\.css/);
    },
  );

  it(
    'a records file forged to list "../" names with matching stamps leads no walk, ' +
      'and no delete, outside the copy',
    async () => {
      const root = await copied();
      const outside = path.join(root, 'public', 'outside.txt');
      fs.writeFileSync(outside, "not the tool's");
      const records = readRecords(root);
      const blog = records.entries['blog'] as {
        files: Record<string, [number, number]>;
        stamps: Record<string, number>;
      };
      const stat = fs.statSync(outside);
      blog.files['../../outside.txt'] = [stat.size, Math.round(stat.mtimeMs)];
      blog.stamps['..'] = fs.lstatSync(mediaOf(root)).mtimeMs;
      blog.stamps['../..'] = fs.lstatSync(path.join(root, 'public')).mtimeMs;
      fs.writeFileSync(path.join(mediaOf(root), MANIFEST), serializeRecords(records as unknown as RecordsFile));
      expect(fs.lstatSync(path.join(mediaOf(root), 'blog')).mtimeMs, "the copy's own stamp still holds").to.equal(
        blog.stamps['.'],
      );

      // The walk takes no name from the records that a listing could not give.
      const entry = path.join(mediaOf(root), 'blog');
      const forged = readRecords(root).entries['blog'] as unknown as CopyRecord;
      const known = {
        stamps: forged.stamps ?? {},
        listing: recordedListing(forged),
        rootMtimeMs: fs.lstatSync(entry).mtimeMs,
      };
      expect(walkTreeSync(entry, { known })).to.deep.equal(walkTreeSync(entry));
      // A record with a name no listing could give is not the tool's any more: dropped whole, and said.
      // verify takes no lock (mediaRoot's time stays as the forged stamp says) and sees no copy of the tool's.
      const verified = appMedia(root, ['verify']);
      expect(verified.status, verified.output).to.equal(1);
      expect(verified.output).to.match(
        new RegExp(
          'the records file lists 1 entry that app-media does not take \\(nothing was done with it\\): ' +
            '"blog" \\(its record is malformed\\)',
        ),
      );
      expect(verified.output).to.match(/conflict\s+blog/);
      expect(verified.output).to.not.match(/outside/);
      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(1);
      expect(run.output).to.match(/conflict\s+blog/);
      expect(fs.readFileSync(outside, 'utf8'), 'the file outside mediaRoot is untouched').to.equal("not the tool's");
    },
  );

  it(
    'a re-run after a copy of many folders: the names it reports and plans are those a ' + 'full listing gives',
    async () => {
      const root = await copied();
      writeTree(sourceOf(root, 'blog'), {
        'a/b/c/deep.txt': 'deep',
        'a/b/side.txt': 'side',
        'a/top.txt': 'top',
        'z/only.txt': 'z',
      });
      await linkedInProcess(root);
      expect(Object.keys(readRecords(root).entries['blog']?.stamps ?? {}).sort()).to.deep.equal([
        '.',
        'a',
        'a/b',
        'a/b/c',
        'css',
        'img',
        'js',
        'z',
      ]);
      fs.writeFileSync(path.join(mediaOf(root), 'blog/a/b/c/mine.txt'), 'mine');
      fs.rmSync(path.join(sourceOf(root, 'blog'), 'z'), { recursive: true });
      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.match(/kept a\/b\/c\/mine\.txt/);
      expect(
        () => fs.lstatSync(path.join(mediaOf(root), 'blog/z')),
        'the folder dropped from the source is gone from the copy',
      ).to.throw(/ENOENT/);
    },
  );
});

describe('the stamped walk gives what a full walk gives, whatever changed in the copy', () => {
  /** A copy-like tree, its record, and its stamps as apply makes them. */
  function stampedTree(): { dir: string; record: CopyRecord } {
    const dir = path.join(tempDir('stamped'), 'copy');
    const files = TREE_FILES;
    writeChangeTree(dir);
    const record: CopyRecord = { kind: 'copy', source: 'apps/x/app_media/x', files: {}, dirs: ['empty'] };
    for (const rel of Object.keys(files).sort()) {
      const stat = fs.statSync(path.join(dir, rel));
      record.files[rel] = [stat.size, Math.round(stat.mtimeMs)];
    }
    const stamps = stampAt(dir, record);
    if (stamps) record.stamps = stamps;
    return { dir, record };
  }

  const changes: Record<string, (dir: string) => void> = {
    ...TREE_CHANGES,
    'a temporary file of a run left in a folder': (dir) =>
      fs.writeFileSync(path.join(dir, 'js/.app-media-tmp-m.js-1-abcd'), 'half'),
  };

  for (const [what, change] of Object.entries(changes)) {
    it(`${what}`, () => {
      const { dir, record } = stampedTree();
      expect(Object.keys(record.stamps ?? {}).sort(), 'every folder is stamped').to.deep.equal([
        '.',
        'css',
        'css/vendor',
        'empty',
        'img',
        'js',
        'js/lib',
      ]);
      change(dir);
      const known = {
        stamps: record.stamps ?? {},
        listing: recordedListing(record),
        rootMtimeMs: fs.lstatSync(dir).mtimeMs,
      };
      expect(walkTreeSync(dir, { known })).to.deep.equal(walkTreeSync(dir));
    });
  }

  it('a folder without a stamp (one that held a name of yours when stamped) is listed, and all below it', () => {
    const { dir, record } = stampedTree();
    const stamps = { ...record.stamps };
    delete stamps['css'];
    const known = { stamps, listing: recordedListing(record), rootMtimeMs: fs.lstatSync(dir).mtimeMs };
    fs.writeFileSync(path.join(dir, 'css/mine.css'), 'mine');
    const walked = walkTreeSync(dir, { known });
    expect(walked).to.deep.equal(walkTreeSync(dir));
    expect([...walked.files.keys()]).to.include.members(['css/mine.css', 'css/site.css', 'css/vendor/x.css']);
  });

  it('a symlink where a recorded file was, and a stamped folder that is now a link', () => {
    const { dir, record } = stampedTree();
    fs.unlinkSync(path.join(dir, 'a.css'));
    fs.symlinkSync('css/site.css', path.join(dir, 'a.css'));
    fs.rmSync(path.join(dir, 'js/lib'), { recursive: true });
    fs.symlinkSync('../css', path.join(dir, 'js/lib'));
    const known = {
      stamps: record.stamps ?? {},
      listing: recordedListing(record),
      rootMtimeMs: fs.lstatSync(dir).mtimeMs,
    };
    const walked = walkTreeSync(dir, { known });
    expect(walked).to.deep.equal(walkTreeSync(dir));
    expect(walked.skipped).to.deep.equal(['a.css', 'js/lib']);
  });

  it(
    'a folder never gets back the stamp of the record still on disk (a run killed before saving ' +
      'its records must not leave it vouching)',
    () => {
      const dir = path.join(tempDir('stamped'), 'copy');
      writeTree(dir, { 'css/a.css': 'a' });
      const record: CopyRecord = { kind: 'copy', source: 's', files: { 'css/a.css': [1, 0] } };
      const now = Date.now();
      const first = stampAt(dir, record, {}, now) ?? {};
      expect(first['.'], 'the stamp this instant gives').to.equal(stampTime(now) * 1000);
      const second = stampAt(dir, record, first, now) ?? {};
      expect(Object.keys(second).sort()).to.deep.equal(['.', 'css']);
      for (const folder of ['.', 'css']) {
        expect(second[folder], folder).to.not.equal(first[folder]);
        expect(second[folder], `${folder}: still at least 2 s before now`).to.be.at.most(now - 2000);
        expect(fs.lstatSync(path.join(dir, folder)).mtimeMs, folder).to.equal(second[folder]);
      }
      // Just after, in the same two seconds: still not the old one.
      const third = stampAt(dir, record, second, now + 500) ?? {};
      expect(third['css']).to.not.equal(second['css']);
    },
  );

  it(
    'stamping never writes through a link: a folder of the copy replaced by a link to a folder ' +
      "outside keeps that folder's times",
    () => {
      const base = tempDir('stamped');
      const dir = path.join(base, 'copy');
      writeTree(dir, { 'js/b.js': 'b' });
      writeTree(base, { 'outside/a.css': 'a', 'outside/vendor/c.css': 'c' });
      fs.symlinkSync('../outside', path.join(dir, 'css'));
      for (const folder of ['outside', 'outside/vendor']) setMtime(path.join(base, folder), 1_000_000_000_000);
      const record: CopyRecord = {
        kind: 'copy',
        source: 's',
        files: { 'css/a.css': [1, 0], 'css/vendor/c.css': [1, 0], 'js/b.js': [1, 0] },
      };
      const stamps = stampAt(dir, record) ?? {};
      for (const folder of ['outside', 'outside/vendor']) {
        expect(fs.lstatSync(path.join(base, folder)).mtimeMs, `${folder} is not the copy's`).to.equal(
          1_000_000_000_000,
        );
      }
      expect(Object.keys(stamps).sort(), 'the link and what is below it get no stamp').to.deep.equal(['.', 'js']);
    },
  );

  it('a folder with a name the record does not list when it is stamped gets no stamp', () => {
    const dir = path.join(tempDir('stamped'), 'copy');
    writeTree(dir, { 'css/a.css': 'a', 'css/mine.css': 'mine', 'js/b.js': 'b' });
    const record: CopyRecord = { kind: 'copy', source: 's', files: { 'css/a.css': [1, 0], 'js/b.js': [1, 0] } };
    expect(Object.keys(stampAt(dir, record) ?? {}).sort()).to.deep.equal(['.', 'js']);
  });
});

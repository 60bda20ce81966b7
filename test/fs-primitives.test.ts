/**
 * The file-system primitives the safety rests on (src/core/fs/), called directly on real temporary
 * folders: the run's temporary names, who else may write a folder, folders held open, the private
 * workspace, the sweep of a killed run's leftovers, the link check and the records file. Each case
 * failed with a mutant that survived the mutation run (issue 29, reports/mutation-judged/fs.md).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { folderKind, FolderTree, openFolder, sameFolder, withRealPaths, type Folder } from '../src/core/fs/folder.js';
import { checkLink, isLinkRefusal, LinkMaker } from '../src/core/fs/link.js';
import { LOCK_FILE } from '../src/core/fs/lock.js';
import { onPause } from '../src/core/fs/pause.js';
import { readRecordsText, saveRecords } from '../src/core/fs/records-file.js';
import { unlinkEach } from '../src/core/fs/remove-exact.js';
import { sweepLeftovers } from '../src/core/fs/sweep.js';
import { labelOfTemp, TEMP_MARK, tempNames, tokenOfTemp } from '../src/core/fs/temp.js';
import { otherWriter, writerOf } from '../src/core/fs/trust.js';
import { removeEmptyFolder, removeOwnTree, Workspace } from '../src/core/fs/workspace.js';
import { RECORDS_FILE } from '../src/core/records.js';
import { removeTempDirs, tempDir, writeTree } from './support/project.js';

after(removeTempDirs);

const token = (): string => randomBytes(8).toString('hex');
const ROOT = { uid: 0, gid: 0 };

/** `fn` with the folder kind forced to `kind`, the kind in use before put back after. */
function withKind<T>(kind: 'descriptor' | 'path', fn: () => T): T {
  const was = folderKind();
  folderKind(kind);
  try {
    return fn();
  } finally {
    folderKind(was);
  }
}

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'no code';
  }
  return undefined;
};

describe("fs primitives: a run's temporary names", () => {
  it('are hidden names with the mark, the token and a counter, and give their token back (any counter, label)', () => {
    const run = token();
    const next = tempNames(run);
    const names = Array.from({ length: 12 }, (_, index) => next(index % 2 ? 'blog' : undefined));
    for (const name of names) {
      expect(name.startsWith(`.app-media-tmp-${run}-`), name).to.equal(true);
      expect(name.startsWith(TEMP_MARK)).to.equal(true);
      expect(tokenOfTemp(name), name).to.equal(run);
    }
    expect(new Set(names).size).to.equal(12);
    expect(tokenOfTemp(next('x'.repeat(300))), 'a long label is cut, the name still ours').to.equal(run);
  });

  it('only names of that exact shape carry a token: a name a person gave a file never does', () => {
    const run = token();
    const base = `.app-media-tmp-${run}-3abcdef01`;
    expect(tokenOfTemp(base)).to.equal(run);
    expect(tokenOfTemp(`${base}-blog`)).to.equal(run);
    expect(tokenOfTemp(`${base}-my-app.v2`)).to.equal(run);
    expect(tokenOfTemp(`.app-media-tmp-${run}-123456789abcdef01-blog`), 'a ninth name and on').to.equal(run);
    for (const other of [
      `x${base}`,
      `${base}X`,
      `${base}Z-blog`,
      `.app-media-tmp-${run.slice(1)}-3abcdef01`,
      `.app-media-tmp-${run}-3abcdef0`,
      `.app-media-tmp-${run}-abcdef012`,
      `.app-media-tmp-${run}-3ABCDEF01`,
      '.app-media-tmp-notes.txt',
      'notes.txt',
    ]) {
      expect(tokenOfTemp(other), other).to.equal(undefined);
    }
  });

  it("a temporary name's label, for messages", () => {
    const run = token();
    expect(labelOfTemp(`.app-media-tmp-${run}-3abcdef01-blog`)).to.equal('blog');
    expect(labelOfTemp(`.app-media-tmp-${run}-12abcdef01-my-app`)).to.equal('my-app');
    expect(labelOfTemp(`.app-media-tmp-${run}-3abcdef01`)).to.equal('');
    expect(labelOfTemp('notes.txt')).to.equal(undefined);
    expect(labelOfTemp(tempNames(run)('blog'))).to.equal('blog');
  });

  it('a token that is not 16 hex digits is refused', () => {
    expect(() => tempNames(token())).to.not.throw();
    for (const bad of ['', 'abc', `${token()}0`, `0${token()}`, 'g'.repeat(16)]) {
      expect(() => tempNames(bad), bad).to.throw(/not a run token/);
    }
  });
});

describe('fs primitives: who else may write a folder (trust)', () => {
  it('a folder anyone can write is found, also when reached through a link (relative or absolute)', () => {
    const base = tempDir('trust');
    fs.mkdirSync(path.join(base, 'open/media'), { recursive: true });
    fs.chmodSync(path.join(base, 'open'), 0o777);
    fs.symlinkSync('open', path.join(base, 'relative'));
    fs.symlinkSync(path.join(base, 'open'), path.join(base, 'absolute'));
    for (const target of ['open', 'relative', 'absolute', 'relative/media', 'absolute/media']) {
      expect(otherWriter(path.join(base, target), ROOT), target).to.deep.equal({
        folder: path.join(base, 'open'),
        who: 'everyone',
      });
    }
    expect(otherWriter(path.join(base, 'open/media'), ROOT, { sharedLast: true }), 'a folder above').to.deep.equal({
      folder: path.join(base, 'open'),
      who: 'everyone',
    });
    expect(otherWriter(path.join(base, 'open'), ROOT, { sharedLast: true }), 'shared on purpose').to.equal(undefined);
    expect(otherWriter(path.join(base, 'open/media'), ROOT)).to.deep.equal({
      folder: path.join(base, 'open'),
      who: 'everyone',
    });
  });

  it('a folder anyone can write with its sticky bit set shields the folders below it, not itself', () => {
    const base = tempDir('trust');
    fs.mkdirSync(path.join(base, 'sticky/media'), { recursive: true });
    fs.chmodSync(path.join(base, 'sticky'), 0o1777);
    expect(otherWriter(path.join(base, 'sticky'), ROOT)).to.deep.equal({
      folder: path.join(base, 'sticky'),
      who: 'everyone',
    });
    expect(otherWriter(path.join(base, 'sticky/media'), ROOT)).to.equal(undefined);
  });

  it('a chain of 40 links is followed to its end; a loop of links ends', () => {
    const base = tempDir('trust');
    fs.mkdirSync(path.join(base, 'open'));
    fs.chmodSync(path.join(base, 'open'), 0o777);
    fs.symlinkSync('open', path.join(base, 'l0'));
    for (let n = 1; n < 40; n++) fs.symlinkSync(`l${n - 1}`, path.join(base, `l${n}`));
    expect(otherWriter(path.join(base, 'l39'), ROOT)).to.deep.equal({
      folder: path.join(base, 'open'),
      who: 'everyone',
    });
    fs.symlinkSync('b', path.join(base, 'a'));
    fs.symlinkSync('a', path.join(base, 'b'));
    expect(otherWriter(path.join(base, 'a'), ROOT)).to.equal(undefined);
  });

  it('a folder another user owns is found and named from /etc/passwd; the runner or root as owner is not', () => {
    const nobody = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((fields) => fields[2] === '65534')?.[0];
    const runner = { uid: 1000, gid: 1000 };
    expect(writerOf({ uid: 65534, gid: 65534, mode: 0o40755 }, true, runner)).to.equal(
      `user ${nobody ?? '65534'} (uid 65534)`,
    );
    expect(writerOf({ uid: 1000, gid: 1000, mode: 0o40755 }, true, runner), 'the runner').to.equal(undefined);
    expect(writerOf({ uid: 0, gid: 0, mode: 0o40755 }, true, runner), 'root').to.equal(undefined);
  });

  it("a folder root's group can write is no other writer while that group has no member but root", function () {
    // root's group here: no other user has it as primary group or is listed in it (else this case says nothing).
    const others =
      fs
        .readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .some((line) => line.split(':')[3] === '0' && line.split(':')[2] !== '0') ||
      (fs
        .readFileSync('/etc/group', 'utf8')
        .split('\n')
        .find((line) => line.startsWith('root:'))
        ?.split(':')[3]
        ?.split(',')
        .some((member) => member.trim() !== '' && member.trim() !== 'root') ??
        false);
    if (others) this.skip();
    expect(writerOf({ uid: 0, gid: 0, mode: 0o40775 }, true, ROOT)).to.equal(undefined);
    expect(
      writerOf({ uid: 0, gid: 0, mode: 0o40775 }, true, { uid: 1000, gid: 1000 }),
      "root's group, for another runner",
    ).to.equal(undefined);
  });

  it("a folder its group can write, the group not the runner's alone, is found", () => {
    const stat = { uid: 0, gid: 4242, mode: 0o40775 };
    expect(writerOf(stat, true, ROOT)).to.match(/^group .* \(gid 4242\)$/);
    expect(writerOf({ ...stat, mode: 0o40755 }, true, ROOT)).to.equal(undefined);
  });
});

describe('fs primitives: folders held open', () => {
  it('on Linux with /proc, a folder is held by its descriptor', function () {
    if (process.platform !== 'linux') this.skip();
    expect(folderKind()).to.equal('descriptor');
    const folder = openFolder(tempDir('held'));
    try {
      expect(folder.here()).to.match(/^\/proc\/self\/fd\/\d+$/);
    } finally {
      folder.close();
    }
  });

  it('a folder whose first look fails (EIO on its fstat) is not left open', function () {
    if (folderKind() !== 'descriptor') this.skip();
    const dir = tempDir('held');
    const open = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = open();
    const real = fs.fstatSync;
    let failed = 0;
    fs.fstatSync = ((...args: Parameters<typeof fs.fstatSync>) => {
      if (failed === 0) {
        failed++;
        throw Object.assign(new Error('EIO: i/o error, fstat'), { code: 'EIO', syscall: 'fstat' });
      }
      return real(...args);
    }) as typeof fs.fstatSync;
    syncBuiltinESMExports();
    try {
      expect(() => openFolder(dir)).to.throw(/EIO/);
    } finally {
      fs.fstatSync = real;
      syncBuiltinESMExports();
    }
    expect(failed).to.equal(1);
    expect(open(), 'descriptors open after the failed look').to.equal(before);
  });

  describe('held by path (other systems)', () => {
    it(
      'chmod of a folder swapped for a link right before the call changes nothing through the link ' +
        '(opened without following it, then fchmod)',
      () => {
        const base = tempDir('held');
        const outside = tempDir('outside');
        fs.chmodSync(outside, 0o700);
        writeTree(base, { 'copy/a.css': 'a' });
        const root = withKind('path', () => openFolder(base));
        const copy = root.open('copy');
        // The racer acts right before the system call that uses the path, whichever it is.
        const real = { openSync: fs.openSync, chmodSync: fs.chmodSync };
        let swapped = false;
        const swapFirst = (file: fs.PathLike): void => {
          if (swapped || String(file) !== path.join(base, 'copy')) return;
          swapped = true;
          fs.renameSync(path.join(base, 'copy'), path.join(base, 'moved'));
          fs.symlinkSync(outside, path.join(base, 'copy'));
        };
        fs.openSync = (file: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode | null): number => {
          swapFirst(file);
          return real.openSync(file, flags, mode);
        };
        fs.chmodSync = (file: fs.PathLike, mode: fs.Mode): void => {
          swapFirst(file);
          real.chmodSync(file, mode);
        };
        syncBuiltinESMExports();
        try {
          expect(() => copy.chmod(0o755)).to.throw();
        } finally {
          Object.assign(fs, real);
          syncBuiltinESMExports();
        }
        expect(swapped, 'the swap happened right before the open').to.equal(true);
        expect((fs.statSync(outside).mode & 0o777).toString(8), 'the folder the link leads to').to.equal('700');
      },
    );

    it('a file or a link is not opened as a folder (ENOTDIR), at the top or below', () => {
      const base = tempDir('held');
      writeTree(base, { 'dir/file': 'x' });
      fs.symlinkSync('dir', path.join(base, 'link'));
      withKind('path', () => {
        expect(codeOf(() => openFolder(path.join(base, 'link')))).to.equal('ENOTDIR');
        expect(codeOf(() => openFolder(path.join(base, 'dir/file')))).to.equal('ENOTDIR');
        const top = openFolder(base);
        expect(codeOf(() => top.open('link'))).to.equal('ENOTDIR');
        expect(codeOf(() => top.open('dir').open('file'))).to.equal('ENOTDIR');
      });
    });

    it('a folder swapped for another since it was opened, at the top or below, is refused (ENOTDIR)', () => {
      const base = tempDir('held');
      fs.mkdirSync(path.join(base, 'top/sub'), { recursive: true });
      withKind('path', () => {
        const top = openFolder(path.join(base, 'top'));
        const sub = top.open('sub');
        fs.renameSync(path.join(base, 'top/sub'), path.join(base, 'top/was'));
        fs.mkdirSync(path.join(base, 'top/sub'));
        expect(codeOf(() => sub.at('x'))).to.equal('ENOTDIR');
        expect(codeOf(() => top.at('x'))).to.equal(undefined);
        fs.renameSync(path.join(base, 'top'), path.join(base, 'old'));
        fs.mkdirSync(path.join(base, 'top'));
        expect(codeOf(() => top.at('x'))).to.equal('ENOTDIR');
      });
    });

    it("sets a folder's mode and times", () => {
      const base = tempDir('held');
      fs.mkdirSync(path.join(base, 'dir'));
      withKind('path', () => {
        const dir = openFolder(path.join(base, 'dir'));
        dir.chmod(0o750);
        dir.setTimes(1_000_000_000);
      });
      const stat = fs.statSync(path.join(base, 'dir'));
      expect(stat.mode & 0o7777).to.equal(0o750);
      expect(stat.mtimeMs).to.equal(1_000_000_000_000);
    });
  });

  it('a tree forgets a folder and those below it (renamed, made again), and only those', () => {
    const base = tempDir('tree');
    fs.mkdirSync(path.join(base, 'a/b'), { recursive: true });
    fs.mkdirSync(path.join(base, 'ab'));
    fs.mkdirSync(path.join(base, 'c'));
    const top = openFolder(base);
    const tree = new FolderTree(top);
    try {
      tree.folder('a/b');
      tree.folder('ab');
      tree.folder('c');
      fs.renameSync(path.join(base, 'a'), path.join(base, 'gone'));
      fs.mkdirSync(path.join(base, 'a/b'), { recursive: true });
      tree.forget('a');
      expect(sameFolder(tree.folder('a/b'), fs.statSync(path.join(base, 'a/b'))), 'a/b opened again').to.equal(true);
      expect(sameFolder(tree.folder('a'), fs.statSync(path.join(base, 'a'))), 'a opened again').to.equal(true);
      expect(tree.stillInPlace()).to.equal(undefined);
      // Not forgotten: "ab" and "c" are still checked.
      fs.renameSync(path.join(base, 'ab'), path.join(base, 'ab-was'));
      fs.mkdirSync(path.join(base, 'ab'));
      expect(tree.stillInPlace()).to.equal('ab');
    } finally {
      tree.close();
      top.close();
    }
  });

  it("an error named through an open folder names the folder's real path", () => {
    const base = tempDir('real');
    const spare = Array.from({ length: 10 }, () => fs.openSync(base, 'r')); // the folder's descriptor is past 9
    const folder = withKind('descriptor', () => openFolder(base));
    try {
      let error: NodeJS.ErrnoException | undefined;
      try {
        fs.readFileSync(folder.at('missing-file'));
      } catch (caught) {
        error = caught as NodeJS.ErrnoException;
      }
      expect(error?.path).to.match(/^\/proc\/self\/fd\/\d\d+\/missing-file$/);
      withRealPaths(error);
      expect(error?.path).to.equal(path.join(base, 'missing-file'));
      expect(error?.message).to.contain(`'${path.join(base, 'missing-file')}'`);
      const here = Object.assign(new Error(`EIO: '${folder.here()}'`), { path: folder.here(), dest: '/elsewhere' });
      expect(withRealPaths(here)).to.include({ path: base, dest: '/elsewhere', message: `EIO: '${base}'` });
      expect(withRealPaths(null)).to.equal(null);
    } finally {
      folder.close();
      for (const fd of spare) fs.closeSync(fd);
    }
  });
});

describe('fs primitives: the private workspace', () => {
  it('removeEmptyFolder removes an empty folder only; not a folder with files, a file, or nothing', () => {
    const base = tempDir('ws');
    writeTree(base, { 'full/mine.txt': 'mine', file: 'x' });
    fs.mkdirSync(path.join(base, 'empty'));
    const root = openFolder(base);
    try {
      expect(removeEmptyFolder(root, 'empty')).to.equal(true);
      expect(removeEmptyFolder(root, 'full')).to.equal(false);
      expect(removeEmptyFolder(root, 'file')).to.equal(false);
      expect(removeEmptyFolder(root, 'missing')).to.equal(false);
      expect(() => removeEmptyFolder(root, '..')).to.throw(/not a plain name/);
    } finally {
      root.close();
    }
    expect(fs.readdirSync(base).sort()).to.deep.equal(['file', 'full']);
    expect(fs.readFileSync(path.join(base, 'full/mine.txt'), 'utf8')).to.equal('mine');
  });

  for (const kind of ['descriptor', 'path'] as const) {
    it(`removeOwnTree (${kind}): a link or file at the name goes as itself; another folder than ours stays`, () => {
      const base = tempDir('ws');
      writeTree(base, { 'target/keep.txt': 'keep', 'mine/a/b.txt': 'b', 'other/theirs.txt': 't', file: 'f' });
      fs.symlinkSync('target', path.join(base, 'link'));
      const made = fs.statSync(path.join(base, 'mine'));
      withKind(kind, () => {
        const root = openFolder(base);
        try {
          removeOwnTree(root, 'link');
          removeOwnTree(root, 'file');
          removeOwnTree(root, 'missing');
          removeOwnTree(root, 'other', made);
          removeOwnTree(root, 'mine', made);
        } finally {
          root.close();
        }
      });
      expect(fs.readdirSync(base).sort()).to.deep.equal(['other', 'target']);
      expect(fs.readFileSync(path.join(base, 'target/keep.txt'), 'utf8')).to.equal('keep');
      expect(fs.readFileSync(path.join(base, 'other/theirs.txt'), 'utf8')).to.equal('t');
    });
  }

  for (const kind of ['descriptor', 'path'] as const) {
    it(
      `removeOwnTree (${kind}): a link at the name, swapped for someone's folder right after it failed to open as ` +
        'one: that folder and its files stay (regression)',
      () => {
        const base = tempDir('ws');
        writeTree(base, { 'victim/precious.txt': 'precious' });
        fs.symlinkSync(path.join(base, 'nowhere'), path.join(base, 'temp'));
        withKind(kind, () => {
          const root = openFolder(base);
          // The racer acts between the failed open (a link is no folder) and what removeOwnTree does next.
          const open = root.open.bind(root);
          let raced = false;
          root.open = (name: string): Folder => {
            try {
              return open(name);
            } finally {
              if (!raced && name === 'temp') {
                raced = true;
                fs.unlinkSync(path.join(base, 'temp'));
                fs.renameSync(path.join(base, 'victim'), path.join(base, 'temp'));
              }
            }
          };
          try {
            removeOwnTree(root, 'temp', { dev: 1, ino: 1 });
          } finally {
            root.close();
          }
          expect(raced).to.equal(true);
        });
        expect(fs.readFileSync(path.join(base, 'temp', 'precious.txt'), 'utf8')).to.equal('precious');
      },
    );
  }

  it(
    "a private folder swapped, between its mkdir and its opening, for one that is not the run's own " +
      '(open to others, holding a file, or of another user): refused (EEXIST), the folder in its place untouched',
    () => {
      const swaps: Array<[string, (at: string) => void]> = [
        ['open to its group and others', (at) => fs.mkdirSync(at, 0o755)],
        [
          'holding a file',
          (at) => {
            writeTree(at, { 'planted.txt': 'x' });
            fs.chmodSync(at, 0o700);
          },
        ],
        [
          "another user's",
          (at) => {
            fs.mkdirSync(at, 0o700);
            fs.chownSync(at, 65534, 65534);
          },
        ],
      ];
      for (const [what, plant] of swaps) {
        const base = tempDir('ws');
        const root = openFolder(base);
        const ws = new Workspace(root, token());
        onPause((point, name) => {
          if (point !== 'private') return;
          fs.renameSync(path.join(base, name), path.join(base, 'made-by-the-run'));
          plant(path.join(base, name));
        });
        try {
          expect(() => ws.privateFolder('blog'), what).to.throw(/EEXIST: .* was replaced while the run made it/);
        } finally {
          onPause(undefined);
          ws.close();
          root.close();
        }
        const planted = fs.readdirSync(base).find((name) => name.startsWith(TEMP_MARK)) as string;
        expect(planted, `${what}: the folder in its place stays`).to.be.a('string');
        if (what === 'holding a file')
          expect(fs.readFileSync(path.join(base, planted, 'planted.txt'), 'utf8'), what).to.equal('x');
      }
    },
  );

  for (const kind of ['descriptor', 'path'] as const) {
    it(
      `a private folder swapped, between its mkdir and its opening, for a link or a file (${kind} folders): ` +
        "refused, and what was put at the run's own name is unlinked; what the link leads to is untouched",
      () => {
        for (const what of ['a link to a folder outside', 'a file'] as const) {
          const base = tempDir('ws');
          const outside = tempDir('outside');
          writeTree(outside, { 'keep.txt': 'theirs' });
          fs.chmodSync(outside, 0o700);
          const root = withKind(kind, () => openFolder(base));
          const ws = new Workspace(root, token());
          let swappedAt: string | undefined;
          onPause((point, name) => {
            if (point !== 'private') return;
            swappedAt = name;
            fs.renameSync(path.join(base, name), path.join(base, 'made-by-the-run'));
            if (what === 'a file') fs.writeFileSync(path.join(base, name), 'planted');
            else fs.symlinkSync(outside, path.join(base, name));
          });
          try {
            withKind(kind, () => expect(() => ws.privateFolder('blog'), what).to.throw());
          } finally {
            onPause(undefined);
            ws.close();
            root.close();
          }
          expect(swappedAt, what).to.be.a('string');
          // The run's own name is free again; the folder the run made (renamed away by the racer) is the racer's now.
          expect(fs.readdirSync(base), what).to.deep.equal(['made-by-the-run']);
          expect(fs.readdirSync(outside), what).to.deep.equal(['keep.txt']);
          expect(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8'), what).to.equal('theirs');
        }
      },
    );
  }

  it('closing the workspace removes its staging folder, files the run left there included', () => {
    const base = tempDir('ws');
    const root = openFolder(base);
    const ws = new Workspace(root, token());
    try {
      const stage = ws.stage();
      fs.writeFileSync(stage.at(ws.stagedName('blog', 'css/site.css')), 'half');
      expect(fs.readdirSync(base)).to.have.length(1);
      ws.close();
    } finally {
      root.close();
    }
    expect(fs.readdirSync(base)).to.deep.equal([]);
  });
});

describe('fs primitives: unlinkEach, the removal where others may write', () => {
  it('removes a link as itself (what it leads to stays) and a file; a folder is left; a name gone is fine', () => {
    const base = tempDir('unlink');
    writeTree(base, { 'target/keep.txt': 'keep', file: 'f', 'folder/inside.txt': 'i' });
    fs.symlinkSync(path.join(base, 'target'), path.join(base, 'link'));
    const root = openFolder(base);
    try {
      expect(unlinkEach(root, ['link', 'file', 'folder', 'gone'])).to.deep.equal(['folder']);
    } finally {
      root.close();
    }
    expect(fs.readdirSync(base).sort()).to.deep.equal(['folder', 'target']);
    expect(fs.readFileSync(path.join(base, 'target/keep.txt'), 'utf8')).to.equal('keep');
    expect(fs.readFileSync(path.join(base, 'folder/inside.txt'), 'utf8')).to.equal('i');
  });
});

describe("fs primitives: the sweep of a killed run's leftovers", () => {
  /** mediaRoot with the lock draft a killed run left (empty: killed while writing it). */
  function leftBy(run: string): { base: string; root: Folder; ws: Workspace } {
    const base = tempDir('sweep');
    fs.writeFileSync(path.join(base, `${LOCK_FILE}.${run}`), '');
    const root = openFolder(base);
    return { base, root, ws: new Workspace(root, token()) };
  }

  it('nothing left: nothing swept, nothing said', async () => {
    const base = tempDir('sweep');
    fs.writeFileSync(path.join(base, 'notes.txt'), 'mine');
    const root = openFolder(base);
    try {
      expect(await sweepLeftovers(new Workspace(root, token()), false)).to.deep.equal({
        removed: 0,
        left: [],
        leftFiles: [],
      });
    } finally {
      root.close();
    }
    expect(fs.readdirSync(base)).to.deep.equal(['notes.txt']);
  });

  it(
    "removes the killed run's files and private folders; leaves folders not private to the runner, " +
      'and then its lock too',
    async () => {
      const run = token();
      const { base, root, ws } = leftBy(run);
      const named = tempNames(run);
      const [file, mine, open, theirs] = [named('a'), named('b'), named('c'), named('d')];
      const live = tempNames(token())('e');
      writeTree(base, {
        [file]: 'half',
        [`${mine}/css/a.css`]: 'a',
        [`${open}/mine.txt`]: 'open',
        [`${theirs}/theirs.txt`]: 'theirs',
        [`${live}/x`]: 'live',
        'notes.txt': 'notes',
      });
      for (const dir of [mine, theirs]) fs.chmodSync(path.join(base, dir), 0o700);
      fs.chmodSync(path.join(base, open), 0o755);
      fs.chownSync(path.join(base, theirs), 65534, 65534);
      try {
        const swept = await sweepLeftovers(ws, false);
        expect(swept.removed).to.equal(2);
        expect(swept.left.sort()).to.deep.equal([open, theirs].sort());
      } finally {
        root.close();
      }
      expect(fs.readdirSync(base).sort()).to.deep.equal(
        [`${LOCK_FILE}.${run}`, live, 'notes.txt', open, theirs].sort(),
      );
      expect(fs.readFileSync(path.join(base, open, 'mine.txt'), 'utf8')).to.equal('open');
      expect(fs.readFileSync(path.join(base, theirs, 'theirs.txt'), 'utf8')).to.equal('theirs');
    },
  );

  it('in a shared mediaRoot, a private folder is left too; once nothing is left, the lock goes', async () => {
    const run = token();
    const shared = leftBy(run);
    const mine = tempNames(run)('b');
    writeTree(shared.base, { [`${mine}/a.css`]: 'a' });
    fs.chmodSync(path.join(shared.base, mine), 0o700);
    try {
      expect(await sweepLeftovers(shared.ws, true)).to.deep.equal({ removed: 0, left: [mine], leftFiles: [] });
    } finally {
      shared.root.close();
    }
    expect(fs.readdirSync(shared.base).sort()).to.deep.equal([`${LOCK_FILE}.${run}`, mine].sort());

    const alone = leftBy(run);
    writeTree(alone.base, { [`${mine}/a.css`]: 'a' });
    fs.chmodSync(path.join(alone.base, mine), 0o700);
    try {
      expect(await sweepLeftovers(alone.ws, false)).to.deep.equal({ removed: 1, left: [], leftFiles: [] });
    } finally {
      alone.root.close();
    }
    expect(fs.readdirSync(alone.base)).to.deep.equal([]);
  });

  it('a leftover removed by someone else while the sweep runs is passed over', async () => {
    const run = token();
    const { base, root, ws } = leftBy(run);
    const [gone, file] = [tempNames(run)('a'), tempNames(run)('b')];
    writeTree(base, { [gone]: 'x', [file]: 'y' });
    onPause((point, detail) => {
      if (point === 'sweep' && detail === gone) fs.rmSync(path.join(base, gone));
    });
    try {
      expect((await sweepLeftovers(ws, false)).removed).to.equal(1);
    } finally {
      onPause(undefined);
      root.close();
    }
    expect(fs.readdirSync(base)).to.deep.equal([]);
  });
});

describe('fs primitives: links', () => {
  it('the errors that mean "no links here" are refusals; others are not', () => {
    for (const code of ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL']) {
      expect(isLinkRefusal(Object.assign(new Error(code), { code })), code).to.equal(true);
    }
    for (const code of ['EEXIST', 'EACCES', '', undefined]) {
      expect(isLinkRefusal(Object.assign(new Error('x'), { code })), String(code)).to.equal(false);
    }
  });

  it("a new link is checked: the app's folder passes, a link elsewhere inside the app fails", () => {
    const base = tempDir('link');
    fs.mkdirSync(path.join(base, 'app/media'), { recursive: true });
    fs.mkdirSync(path.join(base, 'app/private'));
    fs.mkdirSync(path.join(base, 'root'));
    fs.symlinkSync('../app/media', path.join(base, 'root/good'));
    fs.symlinkSync('../app/private', path.join(base, 'root/bad'));
    const media = path.join(base, 'app/media');
    const seen = fs.statSync(media);
    const root = openFolder(path.join(base, 'root'));
    try {
      const app = path.join(base, 'app');
      expect(checkLink(root, 'good', '../app/media', media, app, seen)).to.deep.equal({ ok: true });
      const bad = checkLink(root, 'bad', '../app/private', media, app, seen);
      expect(bad.ok).to.equal(false);
      expect(bad).to.have.property('why').that.contains(path.join(base, 'app/private'));
    } finally {
      root.close();
    }
  });

  it('a link that cannot be made fails its own make(), and the next link is still made', async () => {
    const base = tempDir('link');
    fs.mkdirSync(path.join(base, 'media'));
    const root = openFolder(base);
    const maker = new LinkMaker(root);
    try {
      const failed = await maker.make({ kind: 'symlink', name: 'x'.repeat(300), text: 'media' }).then(
        () => undefined,
        (error: NodeJS.ErrnoException) => error.code,
      );
      expect(failed).to.equal('ENAMETOOLONG');
      await maker.make({ kind: 'symlink', name: 'ok', text: 'media' });
    } finally {
      maker.close();
      root.close();
    }
    expect(fs.lstatSync(path.join(base, 'ok')).isSymbolicLink()).to.equal(true);
  });
  it('queued links wait for the first: when it fails, the others are not written until their own make()', async () => {
    const base = tempDir('link');
    fs.mkdirSync(path.join(base, 'media'));
    const root = openFolder(base);
    const maker = new LinkMaker(root);
    const names = ['x'.repeat(300), 'a', 'b', 'c', 'd'];
    try {
      maker.queue(names.map((name) => ({ kind: 'symlink' as const, name, text: 'media' })));
      const failed = await maker.make({ kind: 'symlink', name: names[0] as string, text: 'media' }).then(
        () => undefined,
        (error: NodeJS.ErrnoException) => error.code,
      );
      expect(failed).to.equal('ENAMETOOLONG');
      // Given time, the four streams would have made the rest by now if they had been written.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(fs.readdirSync(base).sort()).to.deep.equal(['media']);
      // Each is written in its own turn, by its make().
      await maker.make({ kind: 'symlink', name: 'a', text: 'media' });
      expect(fs.readdirSync(base).sort()).to.deep.equal(['a', 'media']);
    } finally {
      maker.close();
      root.close();
    }
    expect(fs.readlinkSync(path.join(base, 'a'))).to.equal('media');
  });

  it('queued links after a first one made are all made, each read back by make()', async () => {
    const base = tempDir('link');
    fs.mkdirSync(path.join(base, 'media'));
    const root = openFolder(base);
    const maker = new LinkMaker(root);
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    try {
      maker.queue(names.map((name) => ({ kind: 'symlink' as const, name, text: 'media' })));
      for (const name of names) await maker.make({ kind: 'symlink', name, text: 'media' });
    } finally {
      maker.close();
      root.close();
    }
    expect(fs.readdirSync(base).sort()).to.deep.equal([...names, 'media']);
    for (const name of names) expect(fs.readlinkSync(path.join(base, name))).to.equal('media');
  });
});

describe('fs primitives: the records file', () => {
  const trust = { shared: false, rootOwner: 0, display: 'public/media/.app-media.json' };

  it('a records file of a few KiB is read; one that is a link is refused', () => {
    const base = tempDir('records');
    fs.writeFileSync(path.join(base, RECORDS_FILE), 'x'.repeat(4096));
    expect(readRecordsText(base, trust)).to.have.length(4096);
    fs.rmSync(path.join(base, RECORDS_FILE));
    fs.writeFileSync(path.join(base, 'elsewhere.json'), '{}');
    fs.symlinkSync('elsewhere.json', path.join(base, RECORDS_FILE));
    expect(codeOf(() => readRecordsText(base, trust))).to.equal('APP_MEDIA_FOREIGN_RECORDS');
  });

  it('saving a record writes it in the records file', () => {
    const base = tempDir('records');
    const root = openFolder(base);
    try {
      const target = `sha256:${'0'.repeat(64)}`;
      saveRecords(
        new Workspace(root, token()),
        trust,
        new Map([['blog', { kind: 'symlink', target, source: 'apps/blog/app_media/blog' }]]),
      );
    } finally {
      root.close();
    }
    expect(fs.readdirSync(base)).to.deep.equal([RECORDS_FILE]);
    expect(JSON.parse(fs.readFileSync(path.join(base, RECORDS_FILE), 'utf8')).entries).to.have.property('blog');
  });
});

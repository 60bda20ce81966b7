/**
 * Changes made to a copy-like tree (a.css; css/site.css, css/vendor/x.css, css/vendor-y.css;
 * img/i.png; js/m.js, js/lib/l.js; an empty folder `empty`) after its folders were stamped: a walk
 * that takes stamped folders from a record must give, after each, what a full listing gives.
 * Shared by the copy's stamps (stamps.test.ts) and the source's (source-stamps.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeTree } from './project.js';

/** The tree's files (the folders are theirs and `empty`). */
export const TREE_FILES: Record<string, string> = {
  'a.css': 'a',
  'css/site.css': 'site',
  'css/vendor/x.css': 'x',
  'css/vendor-y.css': 'y',
  'img/i.png': 'i',
  'js/lib/l.js': 'l',
  'js/m.js': 'm',
};

/** Writes the tree at `dir`. */
export function writeChangeTree(dir: string): void {
  writeTree(dir, TREE_FILES);
  fs.mkdirSync(path.join(dir, 'empty'));
}

export const TREE_CHANGES: Record<string, (dir: string) => void> = {
  nothing: () => undefined,
  'a file added': (dir) => fs.writeFileSync(path.join(dir, 'css/vendor/new.css'), 'n'),
  'a file added at the top': (dir) => fs.writeFileSync(path.join(dir, 'new.txt'), 'n'),
  'a file removed': (dir) => fs.unlinkSync(path.join(dir, 'js/lib/l.js')),
  'a file renamed': (dir) => fs.renameSync(path.join(dir, 'css/site.css'), path.join(dir, 'css/site2.css')),
  'a file moved to another folder': (dir) => fs.renameSync(path.join(dir, 'img/i.png'), path.join(dir, 'js/i.png')),
  'a file replaced by a folder': (dir) => {
    fs.unlinkSync(path.join(dir, 'js/m.js'));
    fs.mkdirSync(path.join(dir, 'js/m.js'));
  },
  'a folder replaced by a file': (dir) => {
    fs.rmSync(path.join(dir, 'img'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'img'), 'not a folder');
  },
  'a folder added': (dir) => fs.mkdirSync(path.join(dir, 'css/vendor/more')),
  'the empty folder removed': (dir) => fs.rmdirSync(path.join(dir, 'empty')),
  'a file added, then removed': (dir) => {
    fs.writeFileSync(path.join(dir, 'css/tmp.css'), 't');
    fs.unlinkSync(path.join(dir, 'css/tmp.css'));
  },
  'a file edited in place': (dir) => fs.writeFileSync(path.join(dir, 'css/vendor/x.css'), 'longer than before'),
};

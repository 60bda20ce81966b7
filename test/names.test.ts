/**
 * The checks of names read from disk (src/core/util/names.ts) and from a collect output or a bucket
 * (src/publish/collected.ts). isPlainPath and isPlainRelative walk the characters once, for speed;
 * each must say exactly what its definition says about every part of the path, split at "/".
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isPlainName, isPlainPath } from '../src/core/util/names.js';
import { isOwnName, isPlainRelative } from '../src/publish/collected.js';

const byDefinition = (rel: string): boolean => rel !== '' && rel.split('/').every(isPlainName);

const parts = fc.constantFrom('a', 'b.css', '.', '..', '...', '.x', 'x.', '', '\0', '\\', ':', 'é', ' ', '.app-media');
const paths = fc.array(parts, { maxLength: 6 }).map((list) => list.join('/'));
const joined = fc.array(parts, { maxLength: 8 }).map((list) => list.join(''));
const anyPath = fc.oneof(paths, joined, fc.string({ maxLength: 12 }));

describe('names read from disk: isPlainPath', () => {
  it('matches its definition (each "/"-separated part a plain name) for any mix of the characters that matter', () => {
    fc.assert(
      fc.property(anyPath, (rel) => {
        expect(isPlainPath(rel), JSON.stringify(rel)).to.equal(byDefinition(rel));
      }),
      { numRuns: 2000, seed: 20261206 },
    );
  });

  it('refuses the paths that climb or hide a separator, and takes plain ones', () => {
    for (const rel of ['', '.', '..', 'a/..', '../a', 'a//b', 'a/', '/a', 'a/./b', 'a\0b'])
      expect(isPlainPath(rel), JSON.stringify(rel)).to.equal(false);
    for (const rel of ['a', 'css/site.css', '...', '.well-known/x', 'a/.b/c..d'])
      expect(isPlainPath(rel), JSON.stringify(rel)).to.equal(true);
  });
});

/** A key of the bucket: each part one or more characters, none "/", "\\" or NUL, and not "." or "..". */
const keyByDefinition = (rel: string): boolean =>
  rel !== '' &&
  rel.length <= 1024 &&
  rel.split('/').every((part) => /^[^/\\\0]+$/.test(part) && part !== '.' && part !== '..');

describe('names read from a collect output or a bucket: isPlainRelative, isOwnName', () => {
  it('isPlainRelative matches its definition for any mix of the characters that matter', () => {
    fc.assert(
      fc.property(anyPath, (rel) => {
        expect(isPlainRelative(rel), JSON.stringify(rel)).to.equal(keyByDefinition(rel));
      }),
      { numRuns: 2000, seed: 20261206 },
    );
  });

  it('isPlainRelative refuses what is not a string, too long, climbing or with a "\\", and takes plain keys', () => {
    for (const value of [undefined, 1, null, {}, '', 'a'.repeat(1025), '..', 'a/../b', 'a\\b', 'a//b', 'a/', 'a\0'])
      expect(isPlainRelative(value), JSON.stringify(value)).to.equal(false);
    for (const value of ['a', 'blog/css/site.0123456789.css', 'a'.repeat(1024), '.well-known/x', 'a/..b'])
      expect(isPlainRelative(value), JSON.stringify(value)).to.equal(true);
  });

  it('isOwnName is true exactly when some "/"-separated part starts with ".app-media"', () => {
    fc.assert(
      fc.property(anyPath, (rel) => {
        const expected = rel.split('/').some((part) => part.startsWith('.app-media'));
        expect(isOwnName(rel), JSON.stringify(rel)).to.equal(expected);
      }),
      { numRuns: 2000, seed: 20261206 },
    );
    expect(isOwnName('blog/x.app-media')).to.equal(false);
    expect(isOwnName('.app-media-publish.json')).to.equal(true);
    expect(isOwnName('blog/.app-media-tmp/x')).to.equal(true);
  });
});

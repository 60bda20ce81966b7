/**
 * The checks of names read from disk (src/core/util/names.ts). isPlainPath walks the characters
 * once, for speed; it must say exactly what its definition says: every part of the path, split at
 * "/", is a plain name.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isPlainName, isPlainPath } from '../src/core/util/names.js';

const byDefinition = (rel: string): boolean => rel !== '' && rel.split('/').every(isPlainName);

describe('names read from disk: isPlainPath', () => {
  it('matches its definition (each "/"-separated part a plain name) for any mix of the characters that matter', () => {
    const parts = fc.constantFrom('a', 'b.css', '.', '..', '...', '.x', 'x.', '', '\0', '\\', ':', 'é', ' ');
    const paths = fc.array(parts, { maxLength: 6 }).map((list) => list.join('/'));
    const joined = fc.array(parts, { maxLength: 8 }).map((list) => list.join(''));
    fc.assert(
      fc.property(fc.oneof(paths, joined, fc.string({ maxLength: 12 })), (rel) => {
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

/**
 * docs/safety.md proves each guarantee by naming tests: `file.test.ts`: `title`. A title that no
 * test has any more (renamed, removed) would leave a guarantee unproven without anyone noticing:
 * every cited title must be found in the cited file's source (titles built from a template are
 * cited with their `${…}` part; a cut title ends in "...").
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './support/project.js';

interface Citation {
  file: string;
  title: string;
}

function citations(text: string): Citation[] {
  const out: Citation[] = [];
  for (const line of text.split('\n')) {
    let file: string | undefined;
    for (const match of line.matchAll(/`((?:\\`|[^`])+)`/g)) {
      const quoted = (match[1] as string).replace(/\\`/g, '`');
      if (/^[\w-]+\.test\.ts$/.test(quoted)) {
        file = quoted;
        continue;
      }
      // A title is a sentence: words and a colon or comma; a flag or a path alone is not.
      if (
        file &&
        quoted.includes(' ') &&
        quoted.length > 25 &&
        !quoted.startsWith('npm ') &&
        !quoted.startsWith('app-media ')
      )
        out.push({ file, title: quoted });
    }
  }
  return out;
}

/** The file's source with quote escapes undone, as a title reads in the test output. */
function sourceOf(file: string): string {
  return readFileSync(path.join(REPO, 'test', file), 'utf8')
    .replace(/\\'/g, "'")
    .replace(/\\"/g, '"')
    .replace(/\\\\/g, '\\');
}

/**
 * Found as written, or, for a title a test builds from a table row (`${row.title}: ${row.code}`),
 * each of its ": "-separated parts found in the file.
 */
function found(source: string, title: string): boolean {
  return (
    foundInOrder(source, title) ||
    (title.includes(': ') && title.split(': ').every((part) => foundInOrder(source, part)))
  );
}

function foundInOrder(source: string, title: string): boolean {
  const parts = title
    .replace(/\$\{…\}/g, '...')
    .split(/\.\.\.|…/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  let at = 0;
  for (const part of parts) {
    const next = source.indexOf(part, at);
    if (next < 0) return false;
    at = next + part.length;
  }
  return true;
}

describe('docs/safety.md', () => {
  it('every test title it cites exists in the file it names', () => {
    const text = readFileSync(path.join(REPO, 'docs', 'safety.md'), 'utf8');
    const cited = citations(text);
    expect(cited.length, 'the page cites tests').to.be.greaterThan(50);
    const missing = cited
      .filter(({ file, title }) => {
        let source: string;
        try {
          source = sourceOf(file);
        } catch {
          return true;
        }
        return !found(source, title);
      })
      .map(({ file, title }) => `${file}: ${title}`);
    expect(missing).to.deep.equal([]);
  });

  it('the check finds a title that is not there (so the test above can fail)', () => {
    expect(found(sourceOf('hostile-root.test.ts'), 'a title no test has')).to.equal(false);
    expect(
      found(
        sourceOf('hostile-root.test.ts'),
        'a source file swapped for a FIFO mid-copy: the run does not hang, the app is error',
      ),
    ).to.equal(true);
  });
});

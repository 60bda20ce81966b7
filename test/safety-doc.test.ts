/**
 * docs/safety.md proves each guarantee by naming tests: `file.test.ts`: `title`. A title that no
 * test has any more (renamed, removed) would leave a guarantee unproven without anyone noticing:
 * every cited title must be the title of a test (or of a describe block) of the cited file, as mocha
 * sees it (one dry run of the cited files lists them: a title cut into pieces joined with `+` in the
 * source is whole there). A title built from a template is cited with its `${…}` parts; a cut title
 * ends in "...".
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, removeTempDirs, tempDir } from './support/project.js';

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

/** What mocha's dry run of the cited files knows of them. */
interface Titles {
  /** By file (`hostile.test.ts`): its tests' titles, and the titles of the describe blocks around each. */
  byFile: Map<string, string[]>;
  /** The dry run's own output when it listed no test at all (it failed). */
  failure?: string;
}

/**
 * One dry run of mocha (no test body or hook runs) over `files`, its JSON report written to a file:
 * each test's `title`, and its `fullTitle` less that title (the describe blocks it sits in).
 */
function dryRun(files: string[]): Titles {
  const report = path.join(tempDir('safety-doc'), 'titles.json');
  const run = spawnSync(
    process.execPath,
    [
      '--import=tsx',
      path.join(REPO, 'node_modules/mocha/bin/mocha.js'),
      '--no-config',
      '--no-package',
      '--dry-run',
      '--reporter',
      'json',
      '--reporter-option',
      `output=${report}`,
      ...files.map((file) => path.join('test', file)),
    ],
    { cwd: REPO, encoding: 'utf8', timeout: 120_000 },
  );
  const byFile = new Map<string, string[]>(files.map((file) => [file, []]));
  let tests: Array<{ title: string; fullTitle: string; file: string }> = [];
  try {
    tests = (JSON.parse(readFileSync(report, 'utf8')) as { tests: typeof tests }).tests;
  } catch {
    // no report: the failure below says why
  }
  for (const test of tests) {
    const titles = byFile.get(path.basename(test.file));
    if (!titles) continue;
    titles.push(test.title);
    const suites = test.fullTitle.slice(0, test.fullTitle.length - test.title.length).trim();
    if (suites) titles.push(suites);
  }
  return tests.length > 0
    ? { byFile }
    : { byFile, failure: `mocha --dry-run listed no test (exit ${run.status}): ${run.error ?? ''}${run.stderr}` };
}

/**
 * The cited title is one of the titles, or, when it has gaps (`${…}` or any other `${...}` for a part
 * built from a template, "..." or "…" for a part left out), its pieces are found in order in one of them.
 */
function found(titles: readonly string[], title: string): boolean {
  return titles.some((one) => foundInOrder(one, title));
}

function foundInOrder(source: string, title: string): boolean {
  const parts = title
    .replace(/\$\{[^}]*\}/g, '...')
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

describe('docs/safety.md', function () {
  this.timeout(180_000);

  const cited = citations(readFileSync(path.join(REPO, 'docs', 'safety.md'), 'utf8'));
  let titles: Titles;

  before(() => {
    const files = [...new Set([...cited.map((one) => one.file), 'hostile-root.test.ts'])].sort();
    titles = dryRun(files);
  });
  after(removeTempDirs);

  it('every test title it cites exists in the file it names', () => {
    expect(cited.length, 'the page cites tests').to.be.greaterThan(50);
    expect(titles.failure).to.equal(undefined);
    const missing = cited
      .filter(({ file, title }) => !found(titles.byFile.get(file) ?? [], title))
      .map(({ file, title }) =>
        (titles.byFile.get(file) ?? []).length === 0
          ? `${file}: ${title} (mocha finds no test in test/${file})`
          : `${file}: ${title}`,
      );
    expect(missing, 'cited in docs/safety.md, but no test or describe title of that file matches').to.deep.equal([]);
  });

  it('the check finds a title that is not there (so the test above can fail)', () => {
    const hostileRoot = titles.byFile.get('hostile-root.test.ts') ?? [];
    expect(hostileRoot.length, 'the dry run lists the tests of hostile-root.test.ts').to.be.greaterThan(10);
    expect(found(hostileRoot, 'a title no test has')).to.equal(false);
    expect(
      found(hostileRoot, 'a source file swapped for a FIFO mid-copy: the run does not hang, the app is error'),
    ).to.equal(true);
    // Pieces in order within one title, not spread over two.
    expect(found(hostileRoot, 'a source file swapped for a FIFO ... nothing outside is deleted')).to.equal(false);
  });
});

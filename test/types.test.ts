/**
 * The TypeScript of this repository type-checks: `src/`, `test/`, `bench/` and `gulpfile.ts`, strict
 * (tsconfig.json). The tests run through tsx, which strips types without checking them, and
 * `npm test`'s pretest emits dist/ without checking either: this is where a type error fails the
 * suite. One `tsc --noEmit` in its own process, handed out as any test file (.mocharc.cjs), so it
 * runs beside the other test files rather than before them.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from './support/project.js';

describe('types', function () {
  this.timeout(180_000);

  it('tsc --noEmit -p tsconfig.json: no errors in src, test, bench or gulpfile.ts', () => {
    const run = spawnSync(
      process.execPath,
      [
        path.join(REPO, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '-p',
        path.join(REPO, 'tsconfig.json'),
        '--pretty',
        'false',
      ],
      {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 170_000,
      },
    );
    expect(run.error, String(run.error)).to.equal(undefined);
    const errors = `${run.stdout}${run.stderr}`.split('\n').filter((line) => /error TS\d+/.test(line));
    expect(errors, `${run.stdout}${run.stderr}`).to.deep.equal([]);
    expect(run.status, `${run.stdout}${run.stderr}`).to.equal(0);
  });
});

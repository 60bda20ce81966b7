// Mutation testing of the code that guards data (`npm run test:mutation`; README, "Mutation testing").
// StrykerJS plants one small bug at a time in the modules below and runs the tests that reach
// it; a mutant that no test notices is a gap in the tests. On demand only, not in CI.
//
// Incremental: reports/stryker-incremental.json (committed) records every mutant's result and
// the tests that covered it, so a re-run, from a fresh clone too, only tests the mutants in
// changed code or covered by changed tests. `npm run test:mutation -- --force` runs them all.

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'mocha',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  plugins: [
    '@stryker-mutator/mocha-runner',
    '@stryker-mutator/typescript-checker',
    './tools/mutation/live-reporter.mjs',
  ],

  // The modules that keep the tool from deleting or overwriting what it did not create. The
  // globs also match the layout issue 26 moves them to (src/core/fs/, src/core/records.ts,
  // src/link/guards.ts, src/link/clean-plan.ts, src/link/copy-plan.ts, src/link/copy.ts).
  mutate: [
    'src/**/fs/*.ts',
    'src/**/ownership.ts',
    'src/**/records.ts',
    'src/**/guards.ts',
    'src/**/plan-clean.ts',
    'src/**/clean-plan.ts',
    // The link planner decides what is replaced or removed (planEntry, planUnclaimed, planCopy,
    // provesCopy, planCopyRemoval): all of plan.ts is about that.
    'src/plan.ts',
    'src/link/plan.ts',
    'src/**/copy-plan.ts',
    'src/link/copy.ts',
    // A seam for the tests (the moments a test acts as a racing process), not a guard.
    '!src/**/fs/pause.ts',
    // collect and publish have their own records and plans; not in this scope.
    '!src/collect/**',
    '!src/publish/**',
  ],

  // The tests that reach the guarded modules in process. Tests that spawn the built CLI (dist/)
  // or the packed tarball run code that carries no mutant, and are left out to keep the run short.
  mochaOptions: {
    'no-config': true,
    'no-package': true,
    spec: [
      'test/hostile-root.test.ts',
      'test/hostile.test.ts',
      'test/clean.test.ts',
      'test/plan.test.ts',
      'test/probe.test.ts',
      'test/copy-mode.test.ts',
      'test/stamps.test.ts',
      'test/verify.test.ts',
      'test/link.test.ts',
      'test/links-vinyl.test.ts',
      'test/refused-links.test.ts',
      'test/untrusted-input.test.ts',
      'test/real-paths.test.ts',
      'test/property.test.ts',
      'test/collect-safety.test.ts',
      'test/lock.test.ts',
      'test/fs-primitives.test.ts',
    ],
  },
  // The tests are TypeScript, loaded through tsx as in .mocharc.cjs (one process, no parallel mode).
  testRunnerNodeArgs: ['--import', 'tsx'],
  coverageAnalysis: 'perTest',
  // A mutant in code that runs when a module loads (a constant table, a module-level regex) is
  // "static": it needs a fresh process and every test, about two minutes each here. They are left
  // out (reported as ignored); `npm run test:mutation -- --ignoreStatic false` includes them.
  ignoreStatic: true,

  // Several tests wait on real processes and
  // locks, so a mutant's time limit is generous (its tests' time in the first run x 2, + 8 s).
  // 4 = two type-checker processes and two test runners (Stryker gives half to checkers when a checker is set);
  // the test runners spend much of their time waiting on real processes and locks, so two cores keep up.
  concurrency: 4,
  timeoutMS: 8000,
  timeoutFactor: 2,
  // A test process is restarted now and then: every run leaves temp folders and open handles.
  maxTestRunnerReuse: 200,

  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  // live: each result as it is known, in reports/mutation/mutants.ndjson (tools/mutation/live-reporter.mjs).
  reporters: ['html', 'json', 'clear-text', 'progress', 'live'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 75, break: null },
  tempDirName: '.stryker-tmp',
  // Not copied into the sandbox: the example's links into its apps (made by its own media:link
  // at install), and the caches of the bench and of packing.
  ignorePatterns: ['/example/public/media', '/.bench-cache', '*.tgz', '/tools'],
  cleanTempDir: true,
};

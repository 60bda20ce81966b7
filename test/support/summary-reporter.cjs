// Mocha's spec reporter, plus the plain closing line CI reads: "N passed, N failed".
'use strict';
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats ?? this.stats;
      // After the spec reporter's own epilogue (printed on the same event).
      process.nextTick(() => {
        if (pending) process.stdout.write(`\n${pending} skipped (see the reasons above)`);
        process.stdout.write(`\n${passes} passed, ${failures} failed\n`);
      });
    });
  }
}

module.exports = SummaryReporter;

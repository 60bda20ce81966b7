/**
 * One run of the tool in its own process, for the crash and race runs of
 * test/soak.ts: loads the API, prints `ready`, waits for `go` on stdin (so the
 * parent can start several at the same moment, or time a kill from the real
 * start of the run), runs, and prints the report as one JSON line.
 *
 *   node --import=tsx test/support/soak-child.ts '{"cwd": "/tmp/x/project", "task": "link"}'
 */
import { createInterface } from 'node:readline';
import { clean, link } from '../../src/index.js';

interface Job {
  cwd: string;
  task: 'link' | 'clean' | 'clean-force';
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;

const input = createInterface({ input: process.stdin });
input.once('line', () => {
  input.close();
  process.stdin.destroy();
  const started = performance.now();
  // Told when the run had to wait for another run's lock: proof that a race really overlapped.
  let waited = false;
  const logger = {
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (line: string) => {
      if (line.startsWith('waiting for another')) waited = true;
    },
  };
  const run =
    job.task === 'link'
      ? link({ cwd: job.cwd, logger })
      : clean({ cwd: job.cwd, force: job.task === 'clean-force', logger });
  run.then(
    (report) => {
      const apps = report.apps.map((app) => ({ name: app.name, status: app.status, reason: app.reason }));
      process.stdout.write(
        `${JSON.stringify({ ok: true, ms: performance.now() - started, waited, apps, failed: report.failed })}\n`,
        () => process.exit(0),
      );
    },
    (error: unknown) => {
      process.stdout.write(
        JSON.stringify({ ok: false, ms: performance.now() - started, error: (error as Error).stack ?? String(error) }) +
          '\n',
        () => process.exit(0),
      );
    },
  );
});
process.stdout.write('ready\n');

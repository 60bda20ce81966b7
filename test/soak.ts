/**
 * The soak run (issue 8): the randomized non-destruction property at scale,
 * plus real crashes and real races.
 *
 *   npm run test:soak                        10,000 scenarios, 200 kills, 100 races
 *   npm run test:soak -- --scenarios 500 --kills 20 --races 10 --seed 7 --workers 2
 *
 * - scenarios: test/support/scenario.ts, seeds `seed`..`seed + N - 1`, steps
 *   in-process through the API, every step checked (--steps 4-8).
 * - kills: a child process runs link / clean / clean --force on a scenario with
 *   bulky media (copy or link mode, sometimes switching between them) and gets
 *   SIGKILL at a random moment of its run; then the checks of a run (nothing
 *   foreign changed, nothing outside mediaRoot touched, nothing made inside a
 *   foreign folder), no half-written file at a published path, and a normal
 *   link in-process with the full checks (no temporary file, no lock, verify
 *   agrees where there is no conflict). Only kills that landed while the run
 *   was going count; runs that finished first are counted apart. In 15 % of
 *   them the child runs in auto mode under the LD_PRELOAD shim that makes
 *   symlink() fail with EPERM (test/support/deny-symlink.c), so it copies.
 * - races: 2-4 child processes of link / clean / clean --force in a random mix,
 *   started at the same moment; each must finish without an error, the end
 *   state must keep everything foreign and leave nothing behind, and a final
 *   link must verify. In 20 % of races, some runs are under the EPERM shim
 *   (auto mode: they copy while the others link).
 *
 * Prints the counts and every violation with its seed and steps; exits 1 on any.
 * SOAK_TRACE=1 prints the steps of every run.
 * A violation replays with `--only scenarios|kills|races --seed <seed> --scenarios 1`
 * (or `--kills 1` / `--races 1`; those seeds are printed as such).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFailure, Rng, runScenario, Violation, World, type ScenarioResult } from './support/scenario.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const CHILD = path.join(HERE, 'support', 'soak-child.ts');

interface Args {
  scenarios: number;
  kills: number;
  races: number;
  seed: number;
  workers: number;
  steps: [number, number];
  only: 'all' | 'scenarios' | 'kills' | 'races';
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    scenarios: 10_000,
    kills: 200,
    races: 100,
    seed: 1,
    workers: Math.max(1, Math.min(4, os.cpus().length)),
    steps: [4, 8],
    only: 'all',
    keep: false,
  };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index] as string;
    const value = (): string => {
      const next = argv[++index];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    const count = (): number => {
      const number = Number.parseInt(value(), 10);
      if (!Number.isFinite(number) || number < 0) throw new Error(`${flag} needs a number`);
      return number;
    };
    switch (flag) {
      case '--scenarios':
        args.scenarios = count();
        break;
      case '--kills':
        args.kills = count();
        break;
      case '--races':
        args.races = count();
        break;
      case '--seed':
        args.seed = count();
        break;
      case '--workers':
        args.workers = Math.max(1, count());
        break;
      case '--steps': {
        const [lo, hi] = value()
          .split('-')
          .map((part) => Number.parseInt(part, 10));
        if (lo === undefined || hi === undefined || !(lo >= 0 && hi >= lo))
          throw new Error('--steps takes lo-hi, such as 4-8');
        args.steps = [lo, hi];
        break;
      }
      case '--only': {
        const only = value();
        if (!['all', 'scenarios', 'kills', 'races'].includes(only))
          throw new Error('--only takes scenarios, kills or races');
        args.only = only as Args['only'];
        break;
      }
      case '--keep':
        args.keep = true;
        break;
      case '--worker':
        break;
      default:
        throw new Error(
          `unknown flag ${flag} (known: --scenarios --kills --races --seed --workers --steps --only --keep)`,
        );
    }
  }
  return args;
}

// ---------------------------------------------------------------------------
// Child runs of the tool

interface ChildReport {
  ok: boolean;
  ms: number;
  /** The run waited for another run's lock. */
  waited?: boolean;
  apps?: Array<{ name: string; status: string; reason: string | null }>;
  error?: string;
}

interface ChildRun {
  ready: Promise<void>;
  go(): void;
  kill(): void;
  done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    report: ChildReport | undefined;
    stderr: string;
  }>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The LD_PRELOAD shim that makes symlink() fail with EPERM (test/support/deny-symlink.c), built once by the parent. */
const DENY_SYMLINK = process.env['SOAK_DENY_SYMLINK'];

function startChild(cwd: string, task: 'link' | 'clean' | 'clean-force', refuseLinks = false): ChildRun {
  const env = refuseLinks && DENY_SYMLINK ? { ...process.env, LD_PRELOAD: DENY_SYMLINK } : process.env;
  const child = spawn(process.execPath, ['--import=tsx', CHILD, JSON.stringify({ cwd, task })], {
    cwd: REPO,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.startsWith('ready\n')) readyResolve();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => undefined);
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    report: ChildReport | undefined;
    stderr: string;
  }>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      readyResolve();
      const line = stdout.split('\n').find((text) => text.startsWith('{'));
      let report: ChildReport | undefined;
      try {
        report = line ? (JSON.parse(line) as ChildReport) : undefined;
      } catch {
        report = undefined;
      }
      resolve({ code, signal, report, stderr });
    });
  });
  return {
    ready,
    go: () => child.stdin.end('go\n'),
    kill: () => child.kill('SIGKILL'),
    done,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What a child's report says went wrong: a throw or an `error` status. */
function childProblems(label: string, result: Awaited<ChildRun['done']>): string[] {
  if (!result.report)
    return [`${label}: no report (exit ${result.code}, signal ${result.signal}): ${result.stderr.slice(0, 500)}`];
  if (!result.report.ok) return [`${label}: threw ${result.report.error ?? ''}`];
  return (result.report.apps ?? [])
    .filter((app) => app.status === 'error')
    .map((app) => `${label}: ${app.name} error: ${app.reason ?? ''}`);
}

// ---------------------------------------------------------------------------
// Crash and race runs

interface RunOutcome {
  kind: 'scenario' | 'kill' | 'race';
  seed: number;
  /** kill: the SIGKILL landed while the run was going. */
  landed?: boolean;
  /** kill: it left a lock or temporary files (it was cut while writing). */
  midWrite?: boolean;
  processes?: number;
  /** race: at least one run waited for another's lock (the runs really overlapped). */
  contended?: boolean;
  toolRuns: number;
  violations: string[];
  steps: string[];
  dir: string;
}

/** Expected length of a run, per task and mode, from runs that finished: the kill moment is drawn within it. */
const durations = new Map<string, number>();

async function crashRun(seed: number, keep: boolean): Promise<RunOutcome> {
  const world = new World(seed, { bulk: true, steps: [0, 3], finalLink: false, keep });
  const rng = new Rng(seed ^ 0x5bd1e995);
  let landed = false;
  let midWrite = false;
  try {
    await world.setup();
    for (const kind of world.plan()) await world.step(kind);
    if (rng.chance(0.4)) await world.userStep('mode-switch');
    // Sometimes links are refused (EPERM, as on Windows without the privilege): auto mode copies instead.
    const refuse = DENY_SYMLINK !== undefined && rng.chance(0.15);
    if (refuse && world.config.mode !== 'auto') world.setMode('auto', 'for a run where symlink() is refused');
    const task = rng.weighted([
      ['link', 7],
      ['clean', 2],
      ['clean-force', 1],
    ] as const);
    const key = `${task}:${world.config.mode}:${refuse ? 'refused' : 'links'}`;
    const expected = durations.get(key) ?? 250;
    const before = world.mediaPrints();
    world.reconcile(before);
    const outsideBefore = world.outsidePrints();
    const run = startChild(world.project, task, refuse);
    await run.ready;
    const delay = rng.float() * expected * 1.1;
    run.go();
    const finished = await Promise.race([run.done.then(() => true), sleep(delay).then(() => false)]);
    if (!finished) run.kill();
    const result = await run.done;
    landed = result.signal === 'SIGKILL';
    midWrite = [...world.mediaPrints().keys()].some((rel) => /(^|\/)\.app-media-tmp-|^\.app-media\.lock/.test(rel));
    if (!landed && result.report?.ok)
      durations.set(key, 0.7 * (durations.get(key) ?? result.report.ms) + 0.3 * result.report.ms);
    world.toolRuns++;
    world.steps.push(
      `${task} in a child process${refuse ? ' where symlink() fails with EPERM' : ''} (${world.describeConfig()}): ` +
        (landed
          ? `killed -9 ${delay.toFixed(1)} ms after it started`
          : `finished first (${result.report?.ms.toFixed(1) ?? '?'} ms)`),
    );
    const problems = landed ? [] : childProblems(task, result);
    world.afterTool(`killed ${task}`, before, outsideBefore, problems, {
      leftovers: landed,
      editedRemovable: task === 'clean-force',
    });
    world.checkWhole(before);
    await world.toolStep('link');
  } catch (error) {
    if (!(error instanceof Violation))
      world.violations.push(`unexpected failure: ${(error as Error).stack ?? String(error)}`);
  } finally {
    world.dispose();
  }
  return { kind: 'kill', seed, landed, midWrite, ...pick(world.result()) };
}

async function raceRun(seed: number, keep: boolean): Promise<RunOutcome> {
  const rng = new Rng(seed ^ 0x27d4eb2f);
  const world = new World(seed, { bulk: rng.chance(0.3), steps: [0, 4], finalLink: false, keep });
  let processes = 0;
  let contended = false;
  try {
    await world.setup();
    for (const kind of world.plan()) await world.step(kind);
    const tasks = Array.from({ length: rng.range(2, 4) }, () =>
      rng.weighted([
        ['link', 6],
        ['clean', 3],
        ['clean-force', 1],
      ] as const),
    );
    processes = tasks.length;
    // Sometimes some of the runs cannot make links (EPERM): in auto mode they copy while the others link.
    const refusing =
      DENY_SYMLINK !== undefined && rng.chance(0.2) ? tasks.map(() => rng.chance(0.5)) : tasks.map(() => false);
    if (refusing.includes(true) && world.config.mode !== 'auto')
      world.setMode('auto', 'for runs where symlink() is refused');
    const before = world.mediaPrints();
    world.reconcile(before);
    const outsideBefore = world.outsidePrints();
    const runs = tasks.map((task, index) => startChild(world.project, task, refusing[index]));
    await Promise.all(runs.map((run) => run.ready));
    for (const run of runs) run.go();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 120_000);
    });
    const settled = await Promise.race([Promise.all(runs.map((run) => run.done)), timeout]);
    clearTimeout(timer);
    world.toolRuns += tasks.length;
    if (settled === 'timeout') {
      for (const run of runs) run.kill();
      world.steps.push(
        `race of ${tasks.map((task, index) => `${task}${refusing[index] ? ' (symlink() refused)' : ''}`).join(', ')}`,
      );
      world.fail('a race did not finish within 120 s (a hang, or a lock never released)');
    }
    const results = settled === 'timeout' ? [] : settled;
    contended = results.some((result) => result.report?.waited === true);
    world.steps.push(
      'race of ' +
        tasks
          .map(
            (task, index) =>
              `${task}${refusing[index] ? ' (symlink() refused)' : ''}=` +
              `[${(results[index]?.report?.apps ?? []).map((app) => `${app.name}:${app.status}`).join(' ')}]`,
          )
          .join(', '),
    );
    const problems = results.flatMap((result, index) => childProblems(`${tasks[index] ?? '?'} #${index + 1}`, result));
    world.afterTool('race', before, outsideBefore, problems, { editedRemovable: tasks.includes('clean-force') });
    await world.toolStep('link');
  } catch (error) {
    if (!(error instanceof Violation))
      world.violations.push(`unexpected failure: ${(error as Error).stack ?? String(error)}`);
  } finally {
    world.dispose();
  }
  return { kind: 'race', seed, processes, contended, ...pick(world.result()) };
}

function pick(result: ScenarioResult): Pick<RunOutcome, 'toolRuns' | 'violations' | 'steps' | 'dir'> {
  return { toolRuns: result.toolRuns, violations: result.violations, steps: result.steps, dir: result.dir };
}

// ---------------------------------------------------------------------------
// Workers: the same script, forked, one job list each

interface Job {
  kind: 'scenarios' | 'kills' | 'races';
  seeds: number[];
  /** kills: stop once this many kills landed (seeds is then an upper bound of attempts). */
  target?: number;
  steps: [number, number];
  keep: boolean;
}

async function workerMain(): Promise<void> {
  process.on('message', (job: Job) => {
    void (async () => {
      let landed = 0;
      for (const seed of job.seeds) {
        let outcome: RunOutcome;
        if (job.kind === 'scenarios') {
          const result = await runScenario(seed, { steps: job.steps, keep: job.keep });
          outcome = { kind: 'scenario', seed, ...pick(result) };
        } else if (job.kind === 'kills') {
          outcome = await crashRun(seed, job.keep);
          if (outcome.landed) landed++;
        } else {
          outcome = await raceRun(seed, job.keep);
        }
        process.send?.(outcome);
        if (job.target !== undefined && landed >= job.target) break;
      }
      process.send?.({ kind: 'done' });
      process.disconnect?.();
    })();
  });
}

function signature(violation: string): string {
  return violation
    .replace(/^step \d+ \([^)]*(\([^)]*\))*[^)]*\): /, '')
    .split('\n')[0]!
    .replace(/\.app-media-tmp-[\w.-]+/g, '<tmp>')
    .replace(/\/tmp\/[^\s,)]+/g, '<path>')
    .replace(/\b[a-z]+[0-9]?(@[\w-]+)?(\/[\w./~-]+)?(?=[:=])/g, '<x>')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
}

/** Compiles test/support/deny-symlink.c for the children; undefined when there is no C compiler. */
function buildDenySymlink(): string | undefined {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'app-media-soak-shim-')), 'deny-symlink.so');
  for (const cc of [process.env['CC'], 'cc', 'gcc', 'clang'].filter((name): name is string => Boolean(name))) {
    const run = spawnSync(cc, ['-shared', '-fPIC', '-o', out, path.join(HERE, 'support', 'deny-symlink.c'), '-ldl'], {
      encoding: 'utf8',
    });
    if (run.status === 0) return out;
  }
  return undefined;
}

async function parentMain(args: Args): Promise<void> {
  const started = performance.now();
  if (args.only !== 'scenarios' && (args.kills > 0 || args.races > 0)) {
    const shim = buildDenySymlink();
    if (shim) process.env['SOAK_DENY_SYMLINK'] = shim;
    else console.log('soak: no C compiler: crash and race runs will not include runs where symlink() is refused');
  }
  const totals = {
    scenarios: 0,
    scenarioRuns: 0,
    kills: 0,
    killAttempts: 0,
    finishedFirst: 0,
    midWrite: 0,
    races: 0,
    raceProcesses: 0,
    contended: 0,
    violations: 0,
  };
  const failures: RunOutcome[] = [];
  const phaseTimes: string[] = [];

  const runPhase = async (
    kind: Job['kind'],
    seedsFor: (worker: number) => number[],
    target: (worker: number) => number | undefined,
  ): Promise<void> => {
    const phaseStart = performance.now();
    let seen = 0;
    const workers = Array.from(
      { length: args.workers },
      (_, worker) =>
        new Promise<void>((resolve, reject) => {
          const seeds = seedsFor(worker);
          const goal = target(worker);
          if (seeds.length === 0 || goal === 0) {
            resolve();
            return;
          }
          const child = fork(fileURLToPath(import.meta.url), ['--worker'], {
            execArgv: ['--import=tsx'],
            cwd: REPO,
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          const job: Job = { kind, seeds, steps: args.steps, keep: args.keep };
          if (goal !== undefined) job.target = goal;
          child.send(job);
          child.on('message', (message: RunOutcome | { kind: 'done' }) => {
            if (message.kind === 'done') return;
            const outcome = message;
            seen++;
            if (outcome.kind === 'scenario') {
              totals.scenarios++;
              totals.scenarioRuns += outcome.toolRuns;
            } else if (outcome.kind === 'kill') {
              totals.killAttempts++;
              if (outcome.landed) {
                totals.kills++;
                if (outcome.midWrite) totals.midWrite++;
              } else {
                totals.finishedFirst++;
              }
            } else {
              totals.races++;
              totals.raceProcesses += outcome.processes ?? 0;
              if (outcome.contended) totals.contended++;
            }
            if (process.env['SOAK_TRACE'])
              console.log(
                `  ${outcome.kind} ${outcome.seed}:\n${outcome.steps.map((step) => `    ${step}`).join('\n')}`,
              );
            if (outcome.violations.length > 0) {
              totals.violations += outcome.violations.length;
              failures.push(outcome);
              console.log(
                `  VIOLATION (${outcome.kind} seed ${outcome.seed}): ${outcome.violations[0]?.split('\n')[0] ?? ''}`,
              );
            }
            if (seen % 500 === 0 || (kind !== 'scenarios' && seen % 25 === 0)) {
              console.log(
                `  ${kind}: ${seen} done, ${totals.violations} violation(s), ` +
                  `${((performance.now() - started) / 1000).toFixed(0)} s`,
              );
            }
          });
          child.on('exit', (code) =>
            code === 0 || code === null ? resolve() : reject(new Error(`worker ${worker} exited with ${code}`)),
          );
        }),
    );
    await Promise.all(workers);
    phaseTimes.push(`${kind} ${((performance.now() - phaseStart) / 1000).toFixed(1)} s`);
  };

  const split = <T>(items: T[], worker: number): T[] => items.filter((_, index) => index % args.workers === worker);
  if ((args.only === 'all' || args.only === 'scenarios') && args.scenarios > 0) {
    console.log(
      `soak: ${args.scenarios} scenarios from seed ${args.seed}, steps ${args.steps.join('-')}, ` +
        `${args.workers} workers`,
    );
    const seeds = Array.from({ length: args.scenarios }, (_, index) => args.seed + index);
    await runPhase(
      'scenarios',
      (worker) => split(seeds, worker),
      () => undefined,
    );
  }
  if ((args.only === 'all' || args.only === 'kills') && args.kills > 0) {
    console.log(`soak: ${args.kills} kills (kill -9 at a random moment of a child's run)`);
    // Each worker aims for its share of landed kills, with at most 3x as many attempts.
    const share = (worker: number): number =>
      Math.floor(args.kills / args.workers) + (worker < args.kills % args.workers ? 1 : 0);
    const base = args.only === 'kills' ? args.seed : args.seed + 1_000_000;
    await runPhase(
      'kills',
      (worker) => Array.from({ length: share(worker) * 3 }, (_, index) => base + worker * 100_000 + index),
      share,
    );
  }
  if ((args.only === 'all' || args.only === 'races') && args.races > 0) {
    console.log(`soak: ${args.races} races (2-4 concurrent link/clean processes)`);
    const base = args.only === 'races' ? args.seed : args.seed + 2_000_000;
    const seeds = Array.from({ length: args.races }, (_, index) => base + index);
    await runPhase(
      'races',
      (worker) => split(seeds, worker),
      () => undefined,
    );
  }

  const shim = process.env['SOAK_DENY_SYMLINK'];
  if (shim) rmSync(path.dirname(shim), { recursive: true, force: true });
  const elapsed = (performance.now() - started) / 1000;
  console.log('');
  for (const failure of failures.slice(0, 25)) {
    const flag = failure.kind === 'scenario' ? '--scenarios' : failure.kind === 'kill' ? '--kills' : '--races';
    const only = failure.kind === 'scenario' ? 'scenarios' : failure.kind === 'kill' ? 'kills' : 'races';
    console.log(
      formatFailure(
        {
          seed: failure.seed,
          steps: failure.steps,
          violations: failure.violations,
          toolRuns: failure.toolRuns,
          dir: failure.dir,
        },
        `npm run test:soak -- --only ${only} --seed ${failure.seed} ${flag} 1 --workers ` +
          `1${failure.kind === 'scenario' ? ` --steps ${args.steps.join('-')}` : ''}`,
      ),
    );
    console.log('');
  }
  if (failures.length > 25) console.log(`... and ${failures.length - 25} more failing runs\n`);
  if (failures.length > 0) {
    const groups = new Map<string, number[]>();
    for (const failure of failures) {
      const key = `${failure.kind}: ${signature(failure.violations[0] ?? '')}`;
      groups.set(key, [...(groups.get(key) ?? []), failure.seed]);
    }
    console.log('violations by kind:');
    for (const [key, seeds] of [...groups].sort((a, b) => b[1].length - a[1].length))
      console.log(
        `  ${seeds.length} x ${key}  (seeds ${seeds.slice(0, 8).join(', ')}${seeds.length > 8 ? ', ...' : ''})`,
      );
    console.log('');
  }
  console.log(
    `soak: ${totals.scenarios} scenarios (${totals.scenarioRuns} runs of link/clean/verify), ` +
      `${totals.kills} kills (${totals.midWrite} of them left a lock or temporary files: cut while writing; ` +
      `${totals.killAttempts} crash runs, ${totals.finishedFirst} finished before the kill), ` +
      `${totals.races} races (${totals.raceProcesses} processes; ` +
      `in ${totals.contended} a run waited for another's lock), ${totals.violations} violation(s) ` +
      `in ${failures.length} run(s); ${elapsed.toFixed(1)} s (${phaseTimes.join(', ')})`,
  );
  process.exitCode = failures.length > 0 ? 1 : 0;
}

const argv = process.argv.slice(2);
if (argv.includes('--worker')) {
  await workerMain();
} else {
  try {
    await parentMain(parseArgs(argv));
  } catch (error) {
    console.error(`soak: ${(error as Error).message}`);
    process.exitCode = 2;
  }
}

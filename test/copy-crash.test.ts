/**
 * Copy mode under a real `kill -9` (a crash converges: docs/safety.md rule 4) and with real
 * concurrent processes (two runs at once end as one run: rule 5).
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verify } from '../src/index.js';
import { STAGING_LABEL } from '../src/core/fs/temp.js';
import {
  appMedia,
  exists,
  gulp,
  isLink,
  jsonReport,
  linkedInProcess,
  makeProject,
  projectState,
  sha,
  verifiedInProcess,
  viaCommand,
  type RunResult,
} from './support/project.js';
import {
  bulkMedia,
  copyConfig,
  endChildren,
  expectConverged,
  expectedOf,
  faultEnv,
  faultsShim,
  fileShas,
  LOCK,
  locks,
  lockWritten,
  MANIFEST,
  mediaOf,
  published,
  readManifest,
  sleep,
  sourceOf,
  spawnAppMedia,
  spawnGulp,
  TEMP_MARK,
  temporaries,
} from './support/copy.js';

after(endChildren);

describe('copy mode: crash-safe under a real kill -9 (§6 rule 4)', function () {
  this.timeout(60_000);
  const APPS = ['a1', 'a2', 'a3', 'a4', 'a5'];
  const BULK = 120;
  const FILES = BULK + 3; // bulk files + the three of makeProject
  let root: string;
  let media: string;

  before(() => {
    root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    media = mediaOf(root);
    // 5 apps × 120 files × 48 KiB (28 MiB): a copy takes a few hundred milliseconds.
    for (const name of APPS) bulkMedia(root, name, BULK, 48 * 1024);
  });

  interface Kill {
    /** The run was still going when it was killed. */
    midRun: boolean;
    /** Its temporary files or folders that the kill left on disk. */
    leftovers: number;
    /** The lock file was there right before the kill (the run was writing). */
    locked: boolean;
  }

  /**
   * Starts `app-media link` (with `env` added), waits until `when` holds (polled every ms),
   * waits `extra` ms more and kills it with SIGKILL. (The command, not gulp: a kill lands in
   * the same code either way, and gulp's start-up is most of a short run.)
   */
  async function killDuring(
    cwd: string,
    args: string[],
    when: (elapsed: number) => boolean,
    extra = 0,
    env: NodeJS.ProcessEnv = {},
  ): Promise<Kill> {
    const run = spawnAppMedia(cwd, args, env);
    let exited = false;
    void run.done.then(() => {
      exited = true;
    });
    const started = Date.now();
    while (!exited && Date.now() - started < 15_000 && !when(Date.now() - started)) await sleep(1);
    if (extra > 0) await sleep(extra);
    const locked = exists(path.join(mediaOf(cwd), LOCK));
    run.child.kill('SIGKILL');
    const result = await run.done;
    return { midRun: result.signal === 'SIGKILL', leftovers: temporaries(mediaOf(cwd)).length, locked };
  }

  /**
   * A copy being built under its temporary name. Only a folder counts: the records file is also
   * written under a temporary name, for an instant, and a kill there may find it renamed already
   * (the test then counted one run too few that left temporary files: a flake seen in CI).
   */
  const tempAtTop = (): boolean => {
    try {
      return readdirSync(media, { withFileTypes: true }).some(
        (entry) => entry.name.startsWith(TEMP_MARK) && entry.isDirectory(),
      );
    } catch {
      return false;
    }
  };
  const lockThere = (): boolean => lockWritten(media);
  /**
   * A file being staged for an update (the run stages new versions of a copy's files in a
   * private folder at the top of mediaRoot, then renames each into its place).
   */
  const staging = (): boolean => {
    try {
      return readdirSync(media, { withFileTypes: true }).some(
        (entry) =>
          entry.name.startsWith(TEMP_MARK) &&
          entry.isDirectory() &&
          readdirSync(path.join(media, entry.name)).length > 0,
      );
    } catch {
      return false;
    }
  };
  /** The new file of this round already in place in app `name`'s copy: the update reached that app. */
  const placedIn = (name: string, round: () => number) => (): boolean =>
    exists(path.join(media, name, 'd3', `new${round()}.bin`));

  /** Right after a kill: every published file is whole, each one equal to a version its source had. */
  function expectNoHalfFile(allowed: Map<string, Set<string>>, fresh: boolean, label: string): void {
    const seen = published(root);
    for (const [rel, hash] of seen) {
      expect(allowed.get(rel)?.has(hash), `${label}: ${rel} is a whole file of some version of its source`).to.equal(
        true,
      );
    }
    if (fresh) {
      // A new copy is put in place whole: an entry is complete, or (claimed, not yet filled) empty.
      for (const name of APPS) {
        const count = [...seen.keys()].filter((rel) => rel.startsWith(`${name}/`)).length;
        expect([0, FILES], `${label}: ${name} holds ${count} files`).to.include(count);
      }
    }
  }

  /** The next normal run: exit 0, everything published and right, nothing left, verify passes. */
  async function recover(label: string, expected: Map<string, string>): Promise<void> {
    // The next normal run, as an npm script would start it.
    const run = appMedia(root, ['link']);
    expect(run.status, `${label}: the next normal run\n${run.output}`).to.equal(0);
    expect(temporaries(media), `${label}: temporary files left`).to.deep.equal([]);
    expect(locks(root), `${label}: lock left`).to.deep.equal([]);
    expect(Object.fromEntries(published(root)), `${label}: published files equal their sources`).to.deep.equal(
      Object.fromEntries(expected),
    );
    const checked = await verify({ cwd: root });
    expect(checked.failed, `${label}: verify\n${JSON.stringify(checked.apps)}`).to.equal(false);
    expect(checked.counts).to.deep.equal({ ok: APPS.length });
    const manifest = readManifest(root);
    expect(Object.keys(manifest.entries).sort()).to.deep.equal(APPS);
    for (const name of APPS) expect(manifest.entries[name]?.kind, name).to.equal('copy');
  }

  it(
    'a fresh copy killed at 6 moments: no half-written file is ever published; the next run converges, ' +
      'verify passes, nothing is left',
    async () => {
      const moments: Array<{ label: string; when: (elapsed: number) => boolean; extra?: number }> = [
        { label: 'at 40 ms (starting up)', when: (t) => t >= 40 },
        { label: 'as the lock is taken', when: lockThere },
        { label: 'as the first temporary folder appears', when: tempAtTop },
        { label: '30 ms into a temporary folder', when: tempAtTop, extra: 30 },
        { label: 'as a2 is put in place', when: () => exists(path.join(media, 'a2')) },
        { label: 'as a5 is put in place (records being written)', when: () => exists(path.join(media, 'a5')) },
      ];
      const expected = expectedOf(root, APPS);
      const allowed = new Map([...expected].map(([rel, hash]) => [rel, new Set([hash])]));
      // Files are copied one at a time: under the fault shim (Linux) each write into a temporary
      // folder first sleeps 1 ms, so a kill after one appears still finds one there.
      const shim = faultsShim().lib;
      const slowTemp = shim ? faultEnv(shim, { FAULT_SLOW_PATH: TEMP_MARK, FAULT_SLOW_US: '1000' }) : {};
      const kills: Kill[] = [];
      for (const moment of moments) {
        rmSync(media, { recursive: true, force: true });
        const kill = await killDuring(root, ['media:link'], moment.when, moment.extra ?? 0, slowTemp);
        kills.push(kill);
        expectNoHalfFile(allowed, true, moment.label);
        await recover(moment.label, expected);
      }
      expect(
        kills.filter((kill) => kill.midRun).length,
        'kills that landed while the run was going',
      ).to.be.greaterThanOrEqual(5);
      if (shim)
        expect(
          kills.filter((kill) => kill.leftovers > 0).length,
          'kills that left temporary files for the next run to sweep',
        ).to.be.greaterThanOrEqual(2);
      const checked = viaCommand(root, ['media:verify']);
      expect(checked.status, checked.output).to.equal(0);
    },
  );

  it(
    'an update (changed, added and deleted files) killed at 3 moments: ' +
      'every published file is the old or the new version, whole; then converges',
    async () => {
      rmSync(media, { recursive: true, force: true });
      await linkedInProcess(root);
      let round = 0;
      const moments: Array<{ label: string; when: (elapsed: number) => boolean; extra?: number }> = [
        { label: 'update: as the first new version is being staged', when: staging },
        { label: 'update: once a new file is in place in a3', when: placedIn('a3', () => round) },
        { label: 'update: 5 ms after a new file is in place in a4', when: placedIn('a4', () => round), extra: 5 },
      ];
      // Files are copied one at a time, each renamed into place as soon as it is written: a kill
      // lands beside a staged file only while one is being written. Under the fault shim (Linux),
      // each write of a staged file first sleeps 3 ms, so it does.
      const shim = faultsShim().lib;
      const slowD0 = shim ? faultEnv(shim, { FAULT_SLOW_PATH: `-${STAGING_LABEL}/`, FAULT_SLOW_US: '3000' }) : {};
      const kills: Kill[] = [];
      for (const moment of moments) {
        round++;
        const old = published(root);
        // Every app: a quarter of its files (those in d0) get new contents of another size, one file goes, one comes.
        for (const name of APPS) {
          for (let index = 0; index < BULK; index += 4) {
            writeFileSync(path.join(sourceOf(root, name), 'd0', `f${index}.bin`), randomBytes(40 * 1024 + round));
          }
          rmSync(path.join(sourceOf(root, name), 'd1', `f${round * 4 + 1}.bin`), { force: true });
          writeFileSync(path.join(sourceOf(root, name), 'd3', `new${round}.bin`), randomBytes(4096));
        }
        const expected = expectedOf(root, APPS);
        const allowed = new Map<string, Set<string>>();
        for (const [rel, hash] of [...old, ...expected]) {
          if (!allowed.has(rel)) allowed.set(rel, new Set());
          allowed.get(rel)?.add(hash);
        }
        const kill = await killDuring(root, ['media:link'], moment.when, moment.extra ?? 0, slowD0);
        kills.push(kill);
        expectNoHalfFile(allowed, false, moment.label);
        await recover(moment.label, expected);
      }
      expect(
        kills.filter((kill) => kill.locked && kill.midRun).length,
        'kills that landed while the run held the lock (was writing)',
      ).to.be.greaterThanOrEqual(2);
      if (shim)
        expect(
          kills.filter((kill) => kill.leftovers > 0).length,
          'kills that left staged files for the next run to sweep',
        ).to.be.greaterThanOrEqual(2);
      const checked = viaCommand(root, ['media:verify']);
      expect(checked.status, checked.output).to.equal(0);
    },
  );

  it(
    'link mode: runs killed while making links, replacing copies with links, and links with copies: ' +
      'each entry is whole; then converges',
    async () => {
      const names = Array.from({ length: 30 }, (_, index) => `app${String(index).padStart(2, '0')}`);
      const linkRoot = makeProject({ apps: names });
      const linkMedia = mediaOf(linkRoot);
      const lockAt = (): boolean => lockWritten(linkMedia);
      const plans: Array<{
        label: string;
        from: 'nothing' | 'copy' | 'symlink';
        to: 'symlink' | 'copy';
        when: (elapsed: number) => boolean;
        extra?: number;
      }> = [
        { label: 'making links, as the lock is taken', from: 'nothing', to: 'symlink', when: lockAt },
        { label: 'making links, at 130 ms', from: 'nothing', to: 'symlink', when: (t) => t >= 130 },
        { label: 'copies to links, as the lock is taken', from: 'copy', to: 'symlink', when: lockAt },
        { label: 'copies to links, 15 ms after the lock', from: 'copy', to: 'symlink', when: lockAt, extra: 15 },
        { label: 'links to copies, 10 ms after the lock', from: 'symlink', to: 'copy', when: lockAt, extra: 10 },
      ];
      let locked = 0;
      for (const plan of plans) {
        rmSync(linkMedia, { recursive: true, force: true });
        if (plan.from !== 'nothing') await linkedInProcess(linkRoot, { mode: plan.from });
        const kill = await killDuring(linkRoot, ['media:link', '--mode', plan.to], plan.when, plan.extra ?? 0);
        if (kill.locked && kill.midRun) locked++;
        // Each entry is missing, a link to its app's media, or a copy whose files are whole.
        for (const name of names) {
          const entry = path.join(linkMedia, name);
          if (!exists(entry)) continue;
          if (isLink(entry)) {
            expect(statSync(entry).ino, `${plan.label}: ${name} leads to its media folder`).to.equal(
              statSync(sourceOf(linkRoot, name)).ino,
            );
          } else {
            const files = fileShas(entry);
            const source = fileShas(sourceOf(linkRoot, name));
            for (const [rel, hash] of files) expect(source.get(rel), `${plan.label}: ${name}/${rel}`).to.equal(hash);
          }
        }
        const run = appMedia(linkRoot, ['link', '--mode', plan.to]);
        expect(run.status, `${plan.label}\n${run.output}`).to.equal(0);
        expect(temporaries(linkMedia), plan.label).to.deep.equal([]);
        expect(locks(linkRoot), plan.label).to.deep.equal([]);
        for (const name of names)
          expect(isLink(path.join(linkMedia, name)), `${plan.label}: ${name}`).to.equal(plan.to === 'symlink');
        const checked = await verify({ cwd: linkRoot });
        expect(checked.failed, `${plan.label}\n${JSON.stringify(checked.apps)}`).to.equal(false);
      }
      expect(locked, 'kills that landed while a run held the lock').to.be.greaterThanOrEqual(2);
      const checked = viaCommand(linkRoot, ['media:verify']);
      expect(checked.status, checked.output).to.equal(0);
    },
  );

  it('a run killed between creating the lock file and writing it does not hold up the next run', () => {
    const project = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    mkdirSync(mediaOf(project), { recursive: true });
    writeFileSync(path.join(mediaOf(project), LOCK), ''); // what the kill leaves
    const run = gulp(project, ['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/media:link: 1 copied/);
    // A run that took the empty file for another run's lock would say so and wait for it to go stale.
    expect(run.output, 'no wait for a lock nobody holds').to.not.match(/waiting for another app-media run/);
    expect(locks(project)).to.deep.equal([]);
  });
});

describe('copy mode: race-safe with real concurrent processes (§6 rule 5)', function () {
  this.timeout(60_000);

  it(
    '4 runs of `gulp media:link --mode copy` at once all exit 0 and end as one run would: ' +
      'each app copied exactly once',
    async () => {
      const APPS = ['r1', 'r2', 'r3', 'r4'];
      const root = makeProject({
        apps: APPS,
        config: { mediaRoot: 'public/media', apps: APPS.map((name) => `./apps/${name}`) },
      });
      for (const name of APPS) bulkMedia(root, name, 60, 32 * 1024);
      const runs = Array.from({ length: 4 }, () =>
        spawnGulp(root, ['media:link', '--mode', 'copy', '--json', '--silent']),
      );
      const results = await Promise.all(runs.map((run) => run.done));
      const copied = new Map<string, number>();
      for (const result of results) {
        expect(result.status, result.output).to.equal(0);
        for (const app of jsonReport(result).apps) {
          expect(['copied', 'up-to-date'], JSON.stringify(app)).to.include(app['status']);
          if (app['status'] === 'copied') copied.set(String(app['name']), (copied.get(String(app['name'])) ?? 0) + 1);
        }
      }
      expect(Object.fromEntries(copied), 'each app copied by exactly one of the runs').to.deep.equal(
        Object.fromEntries(APPS.map((name) => [name, 1])),
      );
      expectConverged(root, APPS);
      const manifestText = readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8');
      const manifest = JSON.parse(manifestText) as ReturnType<typeof readManifest>;
      expect(Object.keys(manifest.entries).sort(), 'each app recorded once').to.deep.equal(APPS);
      for (const name of APPS) {
        expect(manifest.entries[name]?.kind).to.equal('copy');
        expect(Object.keys(manifest.entries[name]?.files ?? {}).sort()).to.deep.equal(
          [...fileShas(sourceOf(root, name)).keys()].sort(),
        );
      }
      await verifiedInProcess(root);
      // The state is the one-run state: one more run finds nothing to do and writes nothing.
      const before = projectState(mediaOf(root));
      const again = viaCommand(root, ['media:link', '--mode', 'copy']);
      expect(again.stdout, again.output).to.match(/media:link: 4 up-to-date/);
      expect(projectState(mediaOf(root))).to.deep.equal(before);
    },
  );

  /** A copy-mode project, linked, with foreign entries in mediaRoot; `race` runs 2 link and 2 clean at once. */
  async function mixedProject(): Promise<{
    root: string;
    apps: string[];
    race: () => Promise<Array<RunResult & { signal: NodeJS.Signals | null }>>;
    expectForeignIntact: () => void;
  }> {
    const apps = ['m1', 'm2', 'm3'];
    const root = makeProject({
      apps,
      config: copyConfig(apps),
      files: { 'public/media/robots.txt': 'User-agent: *\n', 'public/media/legacy/index.html': '<p>mine</p>' },
    });
    for (const name of apps) bulkMedia(root, name, 30, 16 * 1024);
    await linkedInProcess(root);
    const robots = sha(readFileSync(path.join(mediaOf(root), 'robots.txt')));
    const legacy = projectState(path.join(mediaOf(root), 'legacy'));
    return {
      root,
      apps,
      // The app-media command, not gulp: it starts in a tenth of the time, so the four runs' work
      // really overlaps (with gulp, most of each run is its own start-up).
      race: () =>
        Promise.all(
          [
            spawnAppMedia(root, ['media:link']),
            spawnAppMedia(root, ['media:clean']),
            spawnAppMedia(root, ['media:link']),
            spawnAppMedia(root, ['media:clean']),
          ].map((run) => run.done),
        ),
      expectForeignIntact: () => {
        expect(sha(readFileSync(path.join(mediaOf(root), 'robots.txt')))).to.equal(robots);
        expect(projectState(path.join(mediaOf(root), 'legacy'))).to.deep.equal(legacy);
      },
    };
  }

  it(
    'link and clean at once (2 of each): foreign entries intact, the end is all-or-nothing with whole files, ' +
      'nothing left; link + verify then pass',
    async () => {
      const { root, apps, race, expectForeignIntact } = await mixedProject();
      for (let round = 0; round < 2; round++) {
        const results = await race();
        for (const result of results) expect(result.signal, result.output).to.equal(null);
        expect(temporaries(mediaOf(root))).to.deep.equal([]);
        expect(locks(root)).to.deep.equal([]);
        expectForeignIntact();
        const present = apps.filter((name) => exists(path.join(mediaOf(root), name)));
        expect([0, apps.length], `round ${round}: apps present ${present.join(', ')}`).to.include(present.length);
        const seen = published(root);
        for (const [rel, hash] of expectedOf(root, present)) expect(seen.get(rel), rel).to.equal(hash);
        await linkedInProcess(root);
        await verifiedInProcess(root);
      }
    },
  );

  it('link and clean at once: every run exits 0', async () => {
    const { race } = await mixedProject();
    for (let round = 0; round < 6; round++) {
      for (const result of await race()) expect(result.status, result.output).to.equal(0);
    }
  });
});

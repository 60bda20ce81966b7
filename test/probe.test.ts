/**
 * The probe's phases (src/link/probe.ts): every app's media folder is looked at
 * before any entry of mediaRoot (the refusals come first), each app's facts
 * are handed over as soon as they are gathered, and the caller may let go of
 * an app's walks or end the look there. A new copy's source is walked when
 * the copy is made, except in a dry run, whose plan lists every file.
 */
import { expect } from 'chai';
import { loadConfig } from '../src/core/config/load.js';
import { discoverApps, type App } from '../src/core/discover.js';
import { link } from '../src/link/link.js';
import { recordsTrust } from '../src/link/session.js';
import { Probe, type AppFacts, type ProbeOptions, type ProbeResult, type SourcesSeen } from '../src/link/probe.js';
import { makeProject, removeTempDirs } from './support/project.js';

after(removeTempDirs);

const APPS = ['blog', 'shop', 'zoo'];

/** What a caller does with an app's facts: keep its walks, let go of them, or end the look there. */
type AppVerdict = 'keep' | 'forget-trees' | 'stop';

/** A look as a caller walks through its phases, told as hooks: `onSources` after the first, `onApp` at each app. */
interface Look extends ProbeResult {
  sources: SourcesSeen['apps'];
  stopped?: boolean;
}

interface LookOptions extends Partial<ProbeOptions> {
  onSources?: (seen: SourcesSeen) => void;
  onApp?: (facts: AppFacts) => AppVerdict;
  /** An earlier look of the same run, whose facts are reused. */
  previous?: Look;
}

/** `apps`: the apps of an earlier look, when one is given as `previous` (a run discovers them once). */
async function probeOf(root: string, options: LookOptions, apps?: App[]): Promise<Look> {
  const config = await loadConfig({ cwd: root });
  const { onSources, onApp, previous, ...probeOptions } = options;
  const probe = new Probe(config.projectRoot, config.mediaRoot, apps ?? discoverApps(config), {
    walk: 'existing-copies',
    ignore: config.ignore,
    trust: recordsTrust(config),
    ...probeOptions,
    ...(previous ? { earlier: { sources: previous.sources, apps: previous.apps } } : {}),
  });
  const seen = await probe.sources();
  onSources?.(seen);
  const facts: AppFacts[] = [];
  let stopped = false;
  for await (const fact of probe.apps()) {
    facts.push(fact);
    const verdict = onApp?.(fact) ?? 'keep';
    if (verdict === 'stop') {
      stopped = true;
      break;
    }
    if (verdict === 'forget-trees') {
      delete fact.sourceTree;
      delete fact.entryTree;
      delete fact.publishedTree;
    }
  }
  const { apps: sources, ...rootSeen } = seen;
  return { ...rootSeen, apps: facts, sources, ...(await probe.rest()), ...(stopped ? { stopped } : {}) };
}

async function copiedProject(): Promise<string> {
  const root = makeProject({
    apps: APPS,
    gulp: false,
    config: { mediaRoot: 'public/media', mode: 'copy', apps: APPS.map((name) => `./apps/${name}`) },
  });
  expect((await link({ cwd: root })).counts).to.deep.equal({ copied: APPS.length });
  return root;
}

describe('probe: every media folder first, then one app at a time', () => {
  it("onSources gets every app's media folder before onApp gets the first app", async () => {
    const root = await copiedProject();
    const calls: string[] = [];
    await probeOf(root, {
      onSources: (seen) =>
        calls.push(`sources ${seen.apps.map(({ app, source }) => `${app.name}:${source.kind}`).join(',')}`),
      onApp: (facts) => {
        calls.push(`app ${facts.app.name}:${facts.entry.kind}`);
        return 'keep';
      },
    });
    expect(calls).to.deep.equal(['sources blog:dir,shop:dir,zoo:dir', 'app blog:dir', 'app shop:dir', 'app zoo:dir']);
  });

  it('a refusal thrown by onSources ends the probe before any entry is looked at', async () => {
    const root = await copiedProject();
    const seen: string[] = [];
    const error = await probeOf(root, {
      onSources: () => {
        throw new Error('refused');
      },
      onApp: (facts) => {
        seen.push(facts.app.name);
        return 'keep';
      },
    }).catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(Error).with.property('message', 'refused');
    expect(seen).to.deep.equal([]);
  });

  it('"stop" ends the look at that app: the result holds the apps up to it and says it stopped', async () => {
    const root = await copiedProject();
    const verdicts: Record<string, AppVerdict> = { blog: 'keep', shop: 'stop', zoo: 'keep' };
    const probed = await probeOf(root, { onApp: (facts) => verdicts[facts.app.name] ?? 'keep' });
    expect(probed.apps.map((facts) => facts.app.name)).to.deep.equal(['blog', 'shop']);
    expect(probed.stopped).to.equal(true);
    const whole = await probeOf(root, {});
    expect(whole.apps.map((facts) => facts.app.name)).to.deep.equal(APPS);
    expect(whole.stopped).to.equal(undefined);
  });

  it(
    "a look taken again after one that stopped reuses every app's media folder facts, " +
      'also those of apps after the stop',
    async () => {
      const root = await copiedProject();
      const first = await probeOf(root, { onApp: (facts) => (facts.app.name === 'blog' ? 'stop' : 'keep') });
      expect(first.apps.map((facts) => facts.app.name)).to.deep.equal(['blog']);
      expect(first.sources?.map((seen) => `${seen.app.name}:${seen.source.kind}`)).to.deep.equal([
        'blog:dir',
        'shop:dir',
        'zoo:dir',
      ]);
      const again = await probeOf(
        root,
        { previous: first },
        first.sources?.map((seen) => seen.app),
      );
      expect(again.apps.map((facts) => facts.app.name)).to.deep.equal(APPS);
      // The same objects: not looked at (lstat, realpath) a second time.
      expect(again.apps.map((facts, index) => facts.source === first.sources?.[index]?.source)).to.deep.equal([
        true,
        true,
        true,
      ]);
      // A look without an earlier one looks for itself.
      const fresh = await probeOf(
        root,
        {},
        first.sources?.map((seen) => seen.app),
      );
      expect(fresh.apps.map((facts, index) => facts.source === first.sources?.[index]?.source)).to.deep.equal([
        false,
        false,
        false,
      ]);
    },
  );

  it('"forget-trees" lets go of that app\'s walks, "keep" keeps them', async () => {
    const root = await copiedProject();
    const probed = await probeOf(root, {
      published: true,
      onApp: (facts) => (facts.app.name === 'shop' ? 'forget-trees' : 'keep'),
    });
    const trees = probed.apps.map((facts) => [
      facts.app.name,
      !!facts.sourceTree,
      !!facts.entryTree,
      !!facts.publishedTree,
    ]);
    expect(trees).to.deep.equal([
      ['blog', true, true, true],
      ['shop', false, false, false],
      ['zoo', true, true, true],
    ]);
    // What the walks saw was there to let go of.
    expect(probed.apps[0]?.sourceTree?.files.size).to.be.greaterThan(0);
  });

  it('a new copy\'s source is walked only when a dry run asks for every file (walk: "all")', async () => {
    const root = makeProject({
      apps: APPS,
      gulp: false,
      config: { mediaRoot: 'public/media', mode: 'copy', apps: APPS.map((name) => `./apps/${name}`) },
    });
    const walked = async (walk: ProbeOptions['walk']): Promise<boolean[]> =>
      (await probeOf(root, { walk })).apps.map((facts) => !!facts.sourceTree);
    expect(await walked('existing-copies')).to.deep.equal([false, false, false]);
    expect(await walked('all')).to.deep.equal([true, true, true]);
    // The dry run lists the files each new copy would get; the run itself copies them all.
    const dry = await link({ cwd: root, dryRun: true });
    expect(dry.apps.map((app) => [app.name, app.status, app.files > 0])).to.deep.equal(
      APPS.map((name) => [name, 'copied', true]),
    );
    const run = await link({ cwd: root });
    expect(run.apps.map((app) => [app.name, app.status, app.files])).to.deep.equal(
      dry.apps.map((app) => [app.name, app.status, app.files]),
    );
  });
});

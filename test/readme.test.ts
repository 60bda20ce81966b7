/**
 * The README as a test (issue 24): every fenced block of README.md that is a
 * gulpfile, a config file, a script or a command a user would type is written
 * or run, as the README shows it, in a plain JavaScript project that installs
 * the packed tarball with the README's own install command. Output blocks
 * (`$ command` and what it prints) are run and their lines looked for in the
 * real output. Nothing is copied into this file: an HTML comment before each
 * block (`<!-- readme-test: ... -->`) only says which project it belongs to
 * and what to do with it:
 *
 *   skip="why"          not run (a picture, sample output, the repository's own commands)
 *   install             the install command: run once, with the tarball for "gulp-app-media"
 *   project=NAME        the project the block belongs to (made on first use: the installed
 *                       node_modules, plus apps blog and shop and the package @acme/gallery)
 *   copy=P:FILE,...     before the block, copy FILE from project P
 *   touch=FILE          before the block, a file of the user's own at FILE
 *   file=FILE           write the block to FILE
 *   merge=package.json  merge the block (JSON) into package.json; run-scripts: `npm run` each script
 *   run                 run each command of the block (a shell block); each must exit 0
 *   then="command"      run it after the block is written; it must exit 0
 *   expect=FILE,...     these exist afterwards
 *   transcript          run each `$ command` and find the lines below it in its output, in
 *                       order (times and the gulpfile's path aside); JSON is compared whole
 *
 * Pack once, install once: each project starts from that install (its packages linked into the
 * project's own node_modules, shareModules).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { readmeTables } from '../src/core/options.js';
import { mediaFiles, REPO, removeTempDirs, tempDir, writeTree } from './support/project.js';

after(removeTempDirs);

interface Block {
  /** The line of the opening fence, for messages. */
  line: number;
  info: string;
  body: string;
  marker: Record<string, string> | undefined;
}

const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');

/** The fenced blocks, each with the `<!-- readme-test: ... -->` comment on the line above it, if any. */
function readmeBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = /^```(\S*)\s*$/.exec(lines[index] ?? '');
    if (!open) continue;
    const start = index;
    const body: string[] = [];
    for (index++; index < lines.length && !/^```\s*$/.test(lines[index] ?? ''); index++) body.push(lines[index] ?? '');
    const comment = /^<!-- readme-test:(.*)-->\s*$/.exec(lines[start - 1] ?? '');
    blocks.push({
      line: start + 1,
      info: open[1] ?? '',
      body: `${body.join('\n')}\n`,
      marker: comment ? markerFields(comment[1] ?? '') : undefined,
    });
  }
  return blocks;
}

function markerFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of text.matchAll(/([a-z-]+)(?:=(?:"([^"]*)"|(\S+)))?/g))
    fields[match[1] ?? ''] = match[2] ?? match[3] ?? '';
  return fields;
}

interface Run {
  status: number | null;
  /** stdout and stderr as one stream, in the order they were written. */
  output: string;
}

/**
 * A command as a user types it in the project: a shell, node_modules/.bin on the PATH (as `npx` and npm scripts have
 * it).
 */
function shell(cwd: string, command: string): Run {
  const run = spawnSync('sh', ['-c', `${command} 2>&1`], {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    env: {
      ...process.env,
      PATH: `${path.join(cwd, 'node_modules', '.bin')}${path.delimiter}${process.env['PATH'] ?? ''}`,
      NO_COLOR: '1',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    },
  });
  return { status: run.status, output: `${run.stdout}${run.error ? String(run.error) : ''}` };
}

/** The commands of a shell block: one a line, comments dropped. */
function commands(body: string): string[] {
  return body
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A line as compared: no gulp timestamp, no timings, no path of the gulpfile, no trailing spaces. */
function normalized(line: string): string {
  return line
    .replace(/^\[\d\d:\d\d:\d\d\] /, '')
    .replace(/\(\d+ ms\)/g, '(<ms>)')
    .replace(/ after \d+(\.\d+)? ?(ms|μs|s)\b/g, ' after <t>')
    .replace(/^Using gulpfile \S+$/, 'Using gulpfile <file>')
    .trimEnd();
}

/** Each `$ command` of an output block with the lines shown under it. */
function transcriptSteps(body: string): Array<{ command: string; expected: string[] }> {
  const steps: Array<{ command: string; expected: string[] }> = [];
  for (const line of body.split('\n')) {
    const command = /^\$ (.*)$/.exec(line);
    if (command) steps.push({ command: (command[1] ?? '').replace(/\s{2,}\(.*\)\s*$/, '').trim(), expected: [] });
    else steps.at(-1)?.expected.push(line);
  }
  return steps;
}

function checkTranscriptStep(project: string, step: { command: string; expected: string[] }, where: string): void {
  const run = shell(project, step.command);
  const shown = step.expected.filter((line) => line.trim() !== '' && line.trim() !== '...');
  let json: unknown;
  try {
    json = JSON.parse(shown.join('\n'));
  } catch {
    json = undefined;
  }
  if (json !== undefined) {
    const actual = JSON.parse(run.output.slice(run.output.indexOf('{'))) as Record<string, unknown>;
    delete actual['ms'];
    delete (json as Record<string, unknown>)['ms'];
    expect(actual, `${where}: \`${step.command}\` prints the JSON shown`).to.deep.equal(json);
    return;
  }
  const actual = run.output.split('\n').map(normalized);
  let from = 0;
  for (const line of shown.map(normalized)) {
    const found = actual.indexOf(line, from);
    expect(
      found,
      `${where}: \`${step.command}\` prints ${JSON.stringify(line)} (in this order); it printed:\n${run.output}`,
    ).to.be.greaterThan(-1);
    from = found + 1;
  }
}

const blocks = readmeBlocks(README);

describe('the README', () => {
  it('marks every fenced block: run, written, checked, or skipped with a reason', () => {
    const unmarked = blocks.filter((block) => block.marker === undefined).map((block) => `README.md:${block.line}`);
    expect(unmarked, 'blocks without a <!-- readme-test: ... --> comment').to.deep.equal([]);
    const noReason = blocks.filter((block) => block.marker?.['skip'] === '').map((block) => `README.md:${block.line}`);
    expect(noReason, 'skip without a reason').to.deep.equal([]);
    // Every gulpfile, config file and shell block is run (only the repository's own commands are not).
    const skippedRunnable = blocks
      .filter((block) => block.marker?.['skip'] !== undefined && ['js', 'json', 'ts', 'mjs'].includes(block.info))
      .map((block) => `README.md:${block.line}`);
    expect(skippedRunnable, 'a gulpfile, config or script block that is not run').to.deep.equal([]);
  });

  it('its configuration and flag tables are the table of src/options.ts (npm run readme rewrites them)', () => {
    for (const [name, table] of Object.entries(readmeTables())) {
      const found = new RegExp(`<!-- table:${name} -->\\n([\\s\\S]*?)\\n<!-- /table:${name} -->`).exec(README);
      expect(found, `README.md has the <!-- table:${name} --> markers`).to.not.equal(null);
      expect(found?.[1], `the ${name} table (run: npm run readme)`).to.equal(table);
    }
  });
});

describe('every README example, run against the packed package in a plain JavaScript project', function () {
  this.timeout(300_000);
  let tarball: string;
  let base: string;
  let installOutput: string;
  const projects = new Map<string, string>();

  before(() => {
    expect(existsSync(path.join(REPO, 'dist', 'index.js')), 'dist/ is built (run `npm run build` first)').to.equal(
      true,
    );
    // dist/ is already built by `npm test`'s pretest: packing without scripts keeps the test quick.
    const out = tempDir('readme-pack');
    const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    expect(packed.status, packed.stderr).to.equal(0);
    tarball = path.join(
      out,
      (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string }>)[0]!.filename,
    );

    // The README's install command, once, in a plain project, with the tarball for the package name.
    base = tempDir('readme-install');
    writeFileSync(
      path.join(base, 'package.json'),
      `${JSON.stringify({ name: 'user-site', version: '1.0.0', private: true }, null, 2)}\n`,
    );
    const install = blocks.find((block) => block.marker?.['install'] !== undefined);
    expect(install, 'the README has an install block').to.not.equal(undefined);
    const outputs: string[] = [];
    for (const command of commands(install!.body)) {
      expect(command, 'the install command installs gulp-app-media').to.match(/\bgulp-app-media\b/);
      const run = shell(base, `${command.replace(/(?<=\s)gulp-app-media(?=\s|$)/, tarball)} --prefer-offline`);
      expect(run.status, `README.md:${install!.line}: ${command}\n${run.output}`).to.equal(0);
      outputs.push(run.output);
    }
    installOutput = outputs.join('\n');
  });

  it(
    "installs without npm's install-scripts warning about gulp-app-media: " +
      'the published package.json has no install script',
    () => {
      expect(
        installOutput.split('\n').filter((line) => /install-scripts/.test(line) && /gulp-app-media/.test(line)),
        installOutput,
      ).to.deep.equal([]);
      const installed = JSON.parse(
        readFileSync(path.join(base, 'node_modules', 'gulp-app-media', 'package.json'), 'utf8'),
      ) as { scripts?: Record<string, string> };
      const installScripts = Object.keys(installed.scripts ?? {}).filter((name) =>
        ['preinstall', 'install', 'postinstall', 'prepare', 'preprepare', 'postprepare'].includes(name),
      );
      expect(installScripts).to.deep.equal([]);
      expect(
        existsSync(path.join(base, 'node_modules', 'gulp-app-media', 'dist', 'index.js')),
        'installed built',
      ).to.equal(true);
    },
  );

  /**
   * The installed base's packages in a project's own node_modules, each a link to the base's (a scope folder is the
   * project's own, its packages links): the same names resolve to the same installed files, without copying the
   * thousands of files of the install for each project. `.bin` is copied (its links are relative, through these).
   */
  function shareModules(from: string, to: string): void {
    mkdirSync(to);
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const source = path.join(from, entry.name);
      if (entry.name === '.bin' || !entry.isDirectory()) {
        cpSync(source, path.join(to, entry.name), { recursive: true, verbatimSymlinks: true });
      } else if (entry.name.startsWith('@')) {
        mkdirSync(path.join(to, entry.name));
        for (const scoped of readdirSync(source))
          symlinkSync(path.join(source, scoped), path.join(to, entry.name, scoped));
      } else {
        symlinkSync(source, path.join(to, entry.name));
      }
    }
  }

  /** A project of the README: the installed base, the user's apps, and @acme/gallery as an installed package. */
  function project(name: string): string {
    let dir = projects.get(name);
    if (dir) return dir;
    dir = tempDir(`readme-${name}`);
    for (const entry of ['package.json', 'package-lock.json']) cpSync(path.join(base, entry), path.join(dir, entry));
    shareModules(path.join(base, 'node_modules'), path.join(dir, 'node_modules'));
    writeTree(dir, {
      ...mediaFiles('apps/blog', 'blog'),
      ...mediaFiles('apps/shop', 'shop'),
      ...mediaFiles('packages/gallery', 'gallery'),
      'packages/gallery/package.json': JSON.stringify({ name: '@acme/gallery', version: '1.0.0', appMedia: {} }),
    });
    mkdirSync(path.join(dir, 'node_modules', '@acme'), { recursive: true });
    symlinkSync('../../packages/gallery', path.join(dir, 'node_modules', '@acme', 'gallery'));
    projects.set(name, dir);
    return dir;
  }

  for (const block of blocks) {
    const marker = block.marker;
    if (!marker || marker['skip'] !== undefined || marker['install'] !== undefined) continue;
    const where = `README.md:${block.line}`;
    const what =
      marker['transcript'] !== undefined
        ? 'prints what it shows'
        : marker['run'] !== undefined
          ? `runs: ${commands(block.body).join('; ')}`
          : marker['file'] !== undefined
            ? `is written as ${marker['file']}${marker['then'] ? ` and \`${marker['then']}\` runs` : ''}`
            : 'is merged into package.json and its scripts run';

    it(`${where} (project ${marker['project'] ?? '?'}, ${block.info || 'output'}) ${what}`, () => {
      expect(marker['project'], `${where}: the block names its project`).to.be.a('string');
      const dir = project(marker['project']!);
      for (const spec of (marker['copy'] ?? '').split(',').filter(Boolean)) {
        const [from = '', file = ''] = spec.split(':');
        expect(projects.has(from), `${where}: project ${from} comes earlier in the README`).to.equal(true);
        cpSync(path.join(projects.get(from)!, file), path.join(dir, file));
      }
      if (marker['touch']) writeTree(dir, { [marker['touch']]: 'a file of my own\n' });

      if (marker['file']) {
        const file = path.join(dir, marker['file']);
        writeFileSync(file, block.body);
        if (file.endsWith('.json')) {
          const json = JSON.parse(block.body) as Record<string, unknown>;
          if (typeof json['$schema'] === 'string') {
            expect(
              existsSync(path.resolve(path.dirname(file), json['$schema'])),
              `${where}: "$schema" leads to the schema the package ships`,
            ).to.equal(true);
          }
        }
      }
      if (marker['merge']) {
        const file = path.join(dir, marker['merge']);
        const merged = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        const added = JSON.parse(block.body) as Record<string, Record<string, string>>;
        for (const [key, value] of Object.entries(added))
          merged[key] = { ...(merged[key] as object | undefined), ...value };
        writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
        if (marker['run-scripts'] !== undefined) {
          for (const script of Object.keys(added['scripts'] ?? {})) {
            const run = shell(dir, `npm run ${script}`);
            expect(run.status, `${where}: npm run ${script}\n${run.output}`).to.equal(0);
          }
        }
      }
      if (marker['run'] !== undefined) {
        for (const command of commands(block.body)) {
          const run = shell(dir, command);
          expect(run.status, `${where}: ${command}\n${run.output}`).to.equal(0);
          expect(run.output, `${where}: ${command} prints no error`).to.not.match(
            /\bError\b|APP_MEDIA_|errored|Task never defined/,
          );
        }
      }
      if (marker['then']) {
        const run = shell(dir, marker['then']);
        expect(run.status, `${where}: ${marker['then']}\n${run.output}`).to.equal(0);
      }
      if (marker['transcript'] !== undefined) {
        const steps = transcriptSteps(block.body);
        expect(steps.length, `${where}: an output block shows at least one $ command`).to.be.greaterThan(0);
        for (const step of steps) checkTranscriptStep(dir, step, where);
      }
      for (const file of (marker['expect'] ?? '').split(',').filter(Boolean)) {
        expect(existsLstat(path.join(dir, file)), `${where}: ${file} exists afterwards`).to.equal(true);
      }
    });
  }
});

function existsLstat(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

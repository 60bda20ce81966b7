/**
 * collect's records and index are written piece by piece (recordsText, indexText), through one small buffer
 * (disk.ts writeNew), so a build of 10,000 files never holds their text whole. The pieces must make exactly the
 * text the contract describes: the JSON that JSON.stringify makes of the same content, whatever the names hold.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeNew } from '../src/collect/disk.js';
import {
  emptyRecords,
  indexText,
  isBuildName,
  parseRecords,
  readIndex,
  recordsText,
  serializeIndex,
  serializeRecords,
  type IndexInput,
  type IndexSource,
} from '../src/collect/records.js';
import { INDEX_FILE } from '../src/collect/names.js';
import { openFolder } from '../src/core/fs/folder.js';

const HEX64 = 'ab'.repeat(32);
const INTEGRITY = `sha384-${'A'.repeat(64)}`;

/** A logical path: an app, then one or two parts of any characters but '/', '\0' and the dot names. */
const part = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .filter((text) => !/[/\0]/.test(text) && text !== '.' && text !== '..');
const logical = fc.tuple(part, part, fc.option(part)).map(([app, a, b]) => (b ? `${app}/${a}/${b}` : `${app}/${a}`));

/** The index as JSON.stringify makes it of one object (what the pieces replace): the reference. */
function reference(index: IndexInput): string {
  const names = [...index.sources.keys()].sort();
  const facts: Record<string, [number, number]> = {};
  const lines: string[] = [];
  for (const name of names) {
    const [size, mtimeMs, sourceSha, finalSha, nameHash, finalSize, integrity, br, gz] = index.sources.get(
      name,
    ) as IndexSource;
    facts[name] = [size, mtimeMs];
    lines.push(`${name}\t${sourceSha}\t${finalSha}\t${nameHash}\t${finalSize}\t${integrity}\t${br}\t${gz}`);
  }
  const css: Record<string, unknown> = {};
  for (const name of [...index.css.keys()].sort()) css[name] = index.css.get(name);
  return `${JSON.stringify({
    tool: 'gulp-app-media',
    kind: 'collect-index',
    version: 2,
    settings: index.settings,
    build: index.build,
    records: index.records,
    manifest: index.manifest,
    revManifest: index.revManifest,
    facts,
    hashes: lines.join('\n'),
    css,
    dirs: Object.fromEntries([...index.dirs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    stamps: Object.fromEntries([...index.stamps].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    foreign: index.foreign,
  })}\n`;
}

function indexOf(names: string[], withCss: boolean): IndexInput {
  const sources = new Map<string, IndexSource>();
  names.forEach((name, at) => {
    sources.set(name, [at * 7, 1_700_000_000_000.5 + at, HEX64, HEX64, 'abc123def0', at, INTEGRITY, -1, at]);
  });
  return {
    settings: 'settings-digest',
    build: '0123456789abcdef',
    records: [10, 1_700_000_000_000.25],
    manifest: null,
    revManifest: [3, 4],
    sources,
    css: new Map(
      withCss ? names.slice(0, 3).map((name) => [name, { deps: [name], missing: [[1, `url("${name}")`]] }]) : [],
    ),
    dirs: new Map([
      ['', 'd0'],
      ['app', 'd1'],
    ]),
    stamps: new Map([['app', 1_600_000_000_000]]),
    foreign: names.slice(0, 2).sort(),
  };
}

describe('collect: the records and the index, written in pieces', () => {
  it('the index pieces make the same text as JSON.stringify of the whole, for any names', () => {
    fc.assert(
      fc.property(fc.uniqueArray(logical, { maxLength: 20 }), fc.boolean(), (names, withCss) => {
        const index = indexOf(names, withCss);
        expect(serializeIndex(index)).to.equal(reference(index));
      }),
      { numRuns: 300 },
    );
  });

  it('the records pieces make JSON that reads back as the same records, for any name the records may hold', () => {
    fc.assert(
      fc.property(fc.uniqueArray(logical.filter(isBuildName), { maxLength: 20 }), (names) => {
        const records = emptyRecords();
        for (const name of names) records.files.set(name, { size: 3, mtimeMs: 5.5, sha256: HEX64, immutable: true });
        records.builds.push({ id: '0123456789abcdef', at: '2026-12-06T00:00:00.000Z', files: names });
        const text = serializeRecords(records);
        const back = parseRecords(JSON.parse(text));
        expect(back).to.not.be.a('string');
        expect([...(back as typeof records).files.keys()].sort()).to.deep.equal([...names].sort());
        expect((back as typeof records).builds[0]?.files).to.deep.equal(names);
      }),
      { numRuns: 300 },
    );
  });

  it('written through the small buffer, a text larger than it (and a piece larger than it) is written whole', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'app-media-text-'));
    const folder = openFolder(dir);
    try {
      // 20,000 names (over a megabyte of pieces), and 5,000 folders: the one piece that lists them is over 64 KiB.
      const names = Array.from({ length: 20_000 }, (_, at) => `app${at % 7}/img/ünïcode-${at}-\u2028.png`);
      const records = emptyRecords();
      for (const name of names) records.files.set(name, { size: 1, mtimeMs: 2, sha256: HEX64, immutable: false });
      for (let at = 0; at < 5000; at++) records.dirs.add(`app${at % 7}/folder-${at}-with-a-longer-name`);
      writeNew(folder, 'records.json', recordsText(records));
      const written = readFileSync(path.join(dir, 'records.json'), 'utf8');
      expect(written).to.equal(serializeRecords(records));
      expect(Buffer.byteLength(written)).to.be.greaterThan(1024 * 1024);

      const index = indexOf(names, true);
      writeNew(folder, INDEX_FILE, indexText(index));
      expect(readFileSync(path.join(dir, INDEX_FILE), 'utf8')).to.equal(reference(index));
      const read = readIndex(dir);
      expect(read?.facts.size).to.equal(names.length);
      expect(read?.build).to.equal('0123456789abcdef');
    } finally {
      folder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

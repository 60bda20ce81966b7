/**
 * The references a stylesheet makes to other files, found with a real CSS
 * parser (postcss for the stylesheet's structure: rules, at-rules, comments;
 * postcss-value-parser for each value), never with a regular expression over
 * the whole file: a `url()` inside a comment is a comment.
 *
 * Found: `url(...)` in every declaration (quoted or not, with `?`/`#`
 * suffixes), the strings of `image-set()`, `@import "..."` and
 * `@import url(...)`, and `/*# sourceMappingURL=... *\/`. The file is read as
 * latin1, one character per byte: every position is a byte offset, and a
 * rewrite changes only the bytes of the references (any encoding survives).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { dirOf, isPlainRelPath } from './names.js';

type PostcssModule = typeof import('postcss');
type ValueParser = typeof import('postcss-value-parser');

const require = createRequire(import.meta.url);
let postcssModule: PostcssModule | undefined;
let valueParserModule: ValueParser | undefined;
/** Loaded on first use: a run without CSS to parse (a no-change re-run) never loads them. */
function parsers(): { postcss: PostcssModule; valueParser: ValueParser } {
  postcssModule ??= require('postcss') as PostcssModule;
  valueParserModule ??= require('postcss-value-parser') as ValueParser;
  return { postcss: postcssModule, valueParser: valueParserModule };
}

export type ReferenceKind = 'url' | 'import' | 'image-set' | 'source-map';

export interface CssReference {
  kind: ReferenceKind;
  /** The reference as written, without its quotes (latin1: one character per byte of the file). */
  value: string;
  /** Its bytes in the file: [start, end). */
  start: number;
  end: number;
  line: number;
}

export interface CssParse {
  references: CssReference[];
  /** The stylesheet could not be parsed: it is then published as it is. */
  error?: { line: number; message: string };
}

/** Finds the references of a stylesheet given as its bytes. */
export function findReferences(bytes: Buffer): CssParse {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const text = bytes.toString('latin1', bom);
  const { postcss, valueParser } = parsers();
  let root: import('postcss').Root;
  try {
    root = postcss.parse(text);
  } catch (error) {
    const failure = error as { line?: number; reason?: string; message?: string };
    return {
      references: [],
      error: { line: failure.line ?? 1, message: failure.reason ?? failure.message ?? String(error) },
    };
  }
  const starts = lineStarts(text);
  const found: CssReference[] = [];
  const add = (kind: ReferenceKind, value: string, start: number, end: number): void => {
    if (value.trim() === '') return;
    found.push({ kind, value, start: start + bom, end: end + bom, line: lineAt(starts, start) });
  };

  /** Where `raw` stands in the text, from `guess`; searched for near the node when the guess is off. */
  const locate = (raw: string, guess: number, from: number): number => {
    if (text.startsWith(raw, guess)) return guess;
    const at = text.indexOf(raw, from);
    return at;
  };

  const scanValue = (raw: string, base: number): void => {
    const walk = (nodes: import('postcss-value-parser').Node[], inImageSet: boolean): void => {
      for (const node of nodes) {
        if (node.type === 'function') {
          const name = node.value.toLowerCase();
          if (name === 'url') {
            urlIn(node, base, 'url');
          } else {
            walk(node.nodes, name === 'image-set' || name === '-webkit-image-set');
          }
        } else if (node.type === 'string' && inImageSet) {
          stringAt(node, base, 'image-set');
        }
      }
    };
    walk(valueParser(raw).nodes, false);
  };

  const urlIn = (node: import('postcss-value-parser').FunctionNode, base: number, kind: ReferenceKind): void => {
    const inner = node.nodes[0];
    if (!inner || node.nodes.length !== 1) return;
    if (inner.type === 'string') stringAt(inner, base, kind);
    else if (inner.type === 'word')
      add(kind, inner.value, base + inner.sourceIndex, base + inner.sourceIndex + inner.value.length);
  };

  const stringAt = (node: import('postcss-value-parser').StringNode, base: number, kind: ReferenceKind): void => {
    const start = base + node.sourceIndex + 1;
    add(kind, node.value, start, start + node.value.length);
  };

  root.walk((node) => {
    const start = node.source?.start?.offset;
    if (start === undefined) return;
    if (node.type === 'decl') {
      const raw = (node.raws.value as { raw?: string } | undefined)?.raw ?? node.value;
      const at = locate(raw, start + node.prop.length + (node.raws.between ?? '').length, start);
      const lower = raw.toLowerCase();
      if (at !== -1 && (lower.includes('url') || lower.includes('image-set'))) scanValue(raw, at);
    } else if (node.type === 'atrule' && node.name.toLowerCase() === 'import') {
      const raw = (node.raws.params as { raw?: string } | undefined)?.raw ?? node.params;
      const at = locate(raw, start + 1 + node.name.length + (node.raws.afterName ?? '').length, start);
      if (at === -1) return;
      const first = valueParser(raw).nodes.find((part) => part.type !== 'space' && part.type !== 'comment');
      if (first?.type === 'string') stringAt(first, at, 'import');
      else if (first?.type === 'function' && first.value.toLowerCase() === 'url') urlIn(first, at, 'import');
    } else if (node.type === 'comment') {
      const close = text.indexOf('*/', start + 2);
      const inner = text.slice(start + 2, close === -1 ? text.length : close);
      const match = /^\s*[#@]\s*sourceMappingURL=(\S+)/.exec(inner);
      if (match?.[1]) {
        const at = start + 2 + (match.index + match[0].length - match[1].length);
        add('source-map', match[1], at, at + match[1].length);
      }
    }
  });
  found.sort((a, b) => a.start - b.start);
  return { references: found };
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
  return starts;
}

function lineAt(starts: readonly number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] as number) <= offset) low = mid;
    else high = mid - 1;
  }
  return low + 1;
}

/** What a reference leads to. */
export type Target =
  /** Not a file of the collected media: data:, http(s):, //host, #fragment, or an absolute path not under mediaUrl. */
  | { kind: 'external' }
  /** A file of the collected media (it may be missing): its published path, and how it was written. */
  | { kind: 'local'; logical: string; rawPath: string; suffix: string }
  /** A relative path that leads above the collected media. */
  | { kind: 'outside' };

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Resolves a reference made by the stylesheet published at `from` (`blog/css/site.css`): a
 * relative path against that file's folder, a path under `mediaUrl` against collectRoot.
 */
export function resolveReference(value: string, from: string, mediaUrl: string): Target {
  const written = Buffer.from(value, 'latin1').toString('utf8').trim();
  if (written === '' || written.startsWith('#')) return { kind: 'external' };
  const cut = written.search(/[?#]/);
  const rawPath = cut === -1 ? written : written.slice(0, cut);
  const suffix = cut === -1 ? '' : written.slice(cut);
  let joined: string;
  if (mediaUrl !== '' && rawPath.startsWith(mediaUrl) && (mediaUrl.endsWith('/') || rawPath[mediaUrl.length] === '/')) {
    joined = rawPath.slice(mediaUrl.length).replace(/^\/+/, '');
  } else if (SCHEME.test(rawPath) || rawPath.startsWith('//') || rawPath.startsWith('/') || rawPath.startsWith('\\')) {
    return { kind: 'external' };
  } else {
    joined = path.posix.join(dirOf(from), rawPath);
  }
  if (joined === '..' || joined.startsWith('../')) return { kind: 'outside' };
  const logical = joined.split('/').map(decodeSegment).join('/');
  if (!isPlainRelPath(logical) || !logical.includes('/')) return { kind: 'outside' };
  return {
    kind: 'local',
    logical,
    rawPath: Buffer.from(rawPath, 'utf8').toString('latin1'),
    suffix: Buffer.from(suffix, 'utf8').toString('latin1'),
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The reference rewritten to the fingerprinted name: the hash goes into its last segment, the rest stays as written.
 */
export function rewrittenReference(target: { rawPath: string; suffix: string }, hash: string): string {
  const slash = target.rawPath.lastIndexOf('/');
  const segment = target.rawPath.slice(slash + 1);
  const dot = segment.lastIndexOf('.');
  const named = dot <= 0 ? `${segment}.${hash}` : `${segment.slice(0, dot)}.${hash}${segment.slice(dot)}`;
  return `${target.rawPath.slice(0, slash + 1)}${named}${target.suffix}`;
}

/** The bytes with each [start, end) replaced by its text (latin1: one byte per character). */
export function applyEdits(bytes: Buffer, edits: ReadonlyArray<{ start: number; end: number; text: string }>): Buffer {
  if (edits.length === 0) return bytes;
  const parts: Buffer[] = [];
  let at = 0;
  for (const edit of [...edits].sort((a, b) => a.start - b.start)) {
    parts.push(bytes.subarray(at, edit.start), Buffer.from(edit.text, 'latin1'));
    at = edit.end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts);
}

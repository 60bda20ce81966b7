/**
 * The final bytes of the stylesheets: each reference rewritten to the
 * fingerprinted name of what it references, so a stylesheet's name (the hash
 * of its final bytes) changes whenever anything it references changes, down
 * any chain of `@import`s.
 *
 * Stylesheets are done in dependency order (Tarjan's strongly connected
 * components come out dependencies first). An import cycle has no order: its
 * members' names come from one hash over all of them (their own bytes and
 * the names of what they reference outside the cycle), so a change to any
 * of them still renames them all; only there is a name's hash not the hash
 * of the file's own final bytes.
 */
import { createHash } from 'node:crypto';
import { applyEdits, findReferences, resolveReference, rewrittenReference, type CssParse } from './css-references.js';
import { hashBytes, type Hashes } from './pool.js';

export interface Stylesheet {
  logical: string;
  /** SHA-256 of its own bytes. */
  sourceSha: string;
  /** What the last build knew, when its bytes are unchanged since: its references and result. */
  previous?: {
    deps: string[];
    missing: Array<[number, string]>;
    unparsed?: [number, string];
    finalSha: string;
    nameHash: string;
    size: number;
    integrity: string;
    /** The name hash each reference had then (undefined: it was missing). */
    depHashes: ReadonlyMap<string, string | undefined>;
  };
  // Filled in here:
  bytes?: Buffer;
  parsed?: CssParse;
  deps?: string[];
  final?: Buffer;
  hashes?: Hashes;
  nameHash?: string;
  missing?: Array<[number, string]>;
  unparsed?: [number, string];
  /** Whether it was written anew this run (its bytes rendered). */
  rendered?: boolean;
}

export interface RenderContext {
  mediaUrl: string;
  hashLength: number;
  /** The name hash of a file that is not a stylesheet (undefined: no such file). */
  nameHashOf(logical: string): string | undefined;
  /** Reads a stylesheet's bytes (checked against its sourceSha by the caller). */
  load(sheet: Stylesheet): Buffer;
}

function parse(sheet: Stylesheet, ctx: RenderContext): CssParse {
  sheet.bytes ??= ctx.load(sheet);
  sheet.parsed ??= findReferences(sheet.bytes);
  return sheet.parsed;
}

function depsOf(sheet: Stylesheet, ctx: RenderContext): string[] {
  if (sheet.deps) return sheet.deps;
  if (sheet.previous) {
    sheet.deps = sheet.previous.deps;
    return sheet.deps;
  }
  const found = new Set<string>();
  for (const ref of parse(sheet, ctx).references) {
    const target = resolveReference(ref.value, sheet.logical, ctx.mediaUrl);
    if (target.kind === 'local') found.add(target.logical);
  }
  sheet.deps = [...found].sort();
  return sheet.deps;
}

/** Renders (or takes over from the last build) every stylesheet; `sheets` by logical path. */
export function renderStylesheets(sheets: Map<string, Stylesheet>, ctx: RenderContext): void {
  const hashOf = (logical: string): string | undefined =>
    sheets.get(logical)?.nameHash ?? (sheets.has(logical) ? undefined : ctx.nameHashOf(logical));
  for (const component of components(sheets, ctx)) {
    const members = component.map((logical) => sheets.get(logical) as Stylesheet);
    const inside = new Set(component);
    const cyclic = members.length > 1 || members.some((sheet) => depsOf(sheet, ctx).includes(sheet.logical));
    const outside = [
      ...new Set(members.flatMap((sheet) => depsOf(sheet, ctx)).filter((dep) => !inside.has(dep))),
    ].sort();
    // The last build's result stands when no member's bytes changed and nothing outside it got another name.
    const reusable =
      members.every((sheet) => sheet.previous !== undefined) &&
      members.every((sheet) =>
        (sheet.previous as NonNullable<Stylesheet['previous']>).deps
          .filter((dep) => !inside.has(dep))
          .every((dep) => sheet.previous?.depHashes.get(dep) === hashOf(dep)),
      );
    if (reusable) {
      for (const sheet of members) {
        const previous = sheet.previous as NonNullable<Stylesheet['previous']>;
        sheet.nameHash = previous.nameHash;
        sheet.hashes = { size: previous.size, sha256: previous.finalSha, integrity: previous.integrity };
        sheet.missing = previous.missing;
        if (previous.unparsed) sheet.unparsed = previous.unparsed;
        sheet.rendered = false;
      }
      continue;
    }
    for (const sheet of members) {
      delete sheet.previous; // its references are read anew
      delete sheet.deps;
      depsOf(sheet, ctx);
    }
    if (cyclic) {
      const cycle = createHash('sha256');
      for (const sheet of [...members].sort((a, b) => (a.logical < b.logical ? -1 : 1))) {
        cycle.update(`${sheet.logical}\0${sheet.sourceSha}\0`);
        for (const dep of (sheet.deps as string[]).filter((name) => !inside.has(name)))
          cycle.update(`${dep}=${hashOf(dep) ?? '-'}\0`);
      }
      cycle.update(`${outside.length}`);
      const key = cycle.digest('hex');
      for (const sheet of members)
        sheet.nameHash = createHash('sha256').update(`${key}\0${sheet.logical}`).digest('hex').slice(0, ctx.hashLength);
    }
    for (const sheet of members) {
      render(sheet, ctx, hashOf);
      if (!cyclic) sheet.nameHash = (sheet.hashes as Hashes).sha256.slice(0, ctx.hashLength);
    }
  }
}

function render(sheet: Stylesheet, ctx: RenderContext, hashOf: (logical: string) => string | undefined): void {
  const parsed = parse(sheet, ctx);
  const bytes = sheet.bytes as Buffer;
  const edits: Array<{ start: number; end: number; text: string }> = [];
  const missing: Array<[number, string]> = [];
  for (const ref of parsed.references) {
    const target = resolveReference(ref.value, sheet.logical, ctx.mediaUrl);
    if (target.kind === 'external') continue;
    const written = Buffer.from(ref.value, 'latin1').toString('utf8');
    if (target.kind === 'outside') {
      missing.push([ref.line, written]);
      continue;
    }
    const hash = hashOf(target.logical);
    if (hash === undefined) missing.push([ref.line, written]);
    else edits.push({ start: ref.start, end: ref.end, text: rewrittenReference(target, hash) });
  }
  sheet.missing = missing;
  if (parsed.error) sheet.unparsed = [parsed.error.line, parsed.error.message];
  sheet.final = applyEdits(bytes, edits);
  sheet.hashes = hashBytes(sheet.final);
  sheet.rendered = true;
}

/** Tarjan's algorithm, iterative: the stylesheets' strongly connected components, dependencies first. */
function components(sheets: Map<string, Stylesheet>, ctx: RenderContext): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  const edges = (logical: string): string[] =>
    depsOf(sheets.get(logical) as Stylesheet, ctx).filter((dep) => sheets.has(dep));
  for (const start of [...sheets.keys()].sort()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; next: number; edges: string[] }> = [];
    const open = (node: string): void => {
      index.set(node, counter);
      low.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: 0, edges: edges(node) });
    };
    open(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as (typeof work)[number];
      if (frame.next < frame.edges.length) {
        const dep = frame.edges[frame.next++] as string;
        if (!index.has(dep)) open(dep);
        else if (onStack.has(dep))
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(dep) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        out.push(component);
      }
    }
  }
  return out;
}

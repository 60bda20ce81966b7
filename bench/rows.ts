/** What the suites measure: rows of samples, each knowing its floor and its peers. */
import { max, median, min, type Sample } from './measure.js';

export type RowKind = 'ours' | 'floor' | 'peer' | 'baseline';

export interface Row {
  id: string;
  label: string;
  /** How other rows' ratios name this one (default: the label). */
  short?: string;
  kind: RowKind;
  samples: Sample[];
  /** Ids of rows that are a floor for this one: the fastest of them counts. */
  floors?: readonly string[];
  /** Ids of rows of other programs doing the same job: the fastest of them counts. */
  peers?: readonly string[];
  /** Why the row was not measured. */
  skipped?: string;
}

export class Rows {
  readonly list: Row[] = [];

  add(row: Omit<Row, 'samples'>): Row {
    const full: Row = { ...row, samples: [] };
    this.list.push(full);
    return full;
  }

  get(id: string): Row | undefined {
    return this.list.find((row) => row.id === id);
  }
}

export function medianMs(row: Row | undefined): number {
  return row && !row.skipped ? median(row.samples.map((sample) => sample.ms)) : Number.NaN;
}

export function minMs(row: Row | undefined): number {
  return row && !row.skipped ? min(row.samples.map((sample) => sample.ms)) : Number.NaN;
}

/** The highest peak RSS over the row's runs, in MiB. */
export function peakRssMiB(row: Row | undefined): number {
  const values = (row?.samples ?? []).flatMap((sample) => (sample.rssKiB === undefined ? [] : [sample.rssKiB / 1024]));
  return max(values);
}

/** The fastest measured row among `ids` (by median). */
export function fastest(rows: Rows, ids: readonly string[] | undefined): Row | undefined {
  let best: Row | undefined;
  for (const id of ids ?? []) {
    const row = rows.get(id);
    if (!row || row.skipped || row.samples.length === 0) continue;
    if (!best || medianMs(row) < medianMs(best)) best = row;
  }
  return best;
}

export interface Ratio {
  value: number;
  against: Row;
}

export function ratioTo(rows: Rows, row: Row, ids: readonly string[] | undefined): Ratio | undefined {
  const against = fastest(rows, ids);
  if (!against || row.skipped || row.samples.length === 0) return undefined;
  return { value: medianMs(row) / medianMs(against), against };
}

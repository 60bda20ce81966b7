// A Stryker reporter of our own: each mutant's result as one JSON line in
// reports/mutation/mutants.ndjson the moment it is known, so a long run can be read (and
// judged) while it goes, and a run stopped early still leaves what it found.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { declareClassPlugin, PluginKind } from '@stryker-mutator/api/plugin';

const FILE = path.resolve('reports/mutation/mutants.ndjson');

class LiveReporter {
  onDryRunCompleted() {
    mkdirSync(path.dirname(FILE), { recursive: true });
    writeFileSync(FILE, '');
  }

  onMutantTested(result) {
    const { id, fileName, mutatorName, replacement, location, status, statusReason, killedBy, coveredBy } = result;
    const line = {
      id,
      file: path.relative(process.cwd(), fileName),
      line: location.start.line,
      column: location.start.column,
      mutatorName,
      replacement,
      status,
      statusReason,
      killedBy: killedBy?.[0],
      covering: coveredBy?.length,
    };
    appendFileSync(FILE, `${JSON.stringify(line)}\n`);
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, 'live', LiveReporter)];

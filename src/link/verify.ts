/**
 * media:verify of mediaRoot: look (read-only, no lock), check each app as soon as it is seen,
 * fetch through the web server when asked (`--url`), report.
 */
import { loadConfig } from '../core/config/load.js';
import { discoverApps } from '../core/discover.js';
import { logReport, reportOf, verifyReport } from '../core/report.js';
import { checkBaseUrl } from '../core/served-url.js';
import type { Report, RunOptions } from '../core/types.js';
import { checkAppEntry, finishChecks, type Finding } from './check.js';
import { checkSafety } from './guards.js';
import { Probe } from './probe.js';
import { checkServed } from './served.js';
import { ignoredRecords, realHome, recordsTrust } from './session.js';

/** media:verify of mediaRoot: is every app published as the config says, and nothing published that should not be? */
export async function verifyMediaRoot(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  if (options.url !== undefined) checkBaseUrl(options.url);
  const config = await loadConfig(options);
  const probe = new Probe(config.projectRoot, config.mediaRoot, discoverApps(config), {
    walk: 'existing-copies',
    ignore: config.ignore,
    published: true,
    trust: recordsTrust(config),
  });
  const seen = await probe.sources();
  // The refusals come before any entry is looked at.
  checkSafety(config, seen, { home: realHome() });
  // Each app is checked as soon as it is seen: its walks are not held (as link does).
  const checked: Finding[] = [];
  for await (const facts of probe.apps())
    checked.push(checkAppEntry(facts, seen, config.exposed, config.mode, config.projectRoot));
  let findings = finishChecks(checked, { ...seen, ...(await probe.rest()) }, config.projectRoot);
  if (options.url !== undefined)
    findings = await checkServed(findings, options.url, config.mediaUrl, options.urlTimeout);
  const report = verifyReport(
    config,
    started,
    findings.map((finding) => reportOf(finding, config.projectRoot, config.mediaRoot)),
    ignoredRecords(seen.records.ignored),
  );
  logReport(report, options.logger, options.verbose ?? false);
  return report;
}

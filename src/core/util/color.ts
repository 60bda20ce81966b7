/**
 * Colours on a terminal only, and never under NO_COLOR, FORCE_COLOR=0 or gulp's --no-color.
 * picocolors paints (core/report.ts), but its own detection is not used: it looks at stdout only
 * (the logger also writes to stderr), colours under FORCE_COLOR=0, and colours off a terminal when
 * CI is set, which the README's contract rules out.
 */
export function wantsColor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv,
): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] === '0' || argv.includes('--no-color')) return false;
  if (argv.includes('--color') || (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '')) return true;
  return stream.isTTY === true;
}

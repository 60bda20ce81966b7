/** Colours on a terminal only, and never under NO_COLOR, FORCE_COLOR=0 or gulp's --no-color. */
export function wantsColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] === '0' || argv.includes('--no-color')) return false;
  if (argv.includes('--color') || (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '')) return true;
  return stream.isTTY === true;
}

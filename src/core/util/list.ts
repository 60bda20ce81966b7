/** The first three items, and how many more: `a, b, c and 4 more`. */
export function listSome(items: readonly string[]): string {
  const shown = items.slice(0, 3).join(', ');
  return items.length > 3 ? `${shown} and ${items.length - 3} more` : shown;
}

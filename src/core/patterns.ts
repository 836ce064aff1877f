/** Model-name constraints: regexes that must match the whole name, compiled once. */

/** A constraint as written (for messages) and compiled (for matching). */
export interface Pattern {
  source: string;
  re: RegExp;
}

export function compilePatterns(patterns: readonly string[]): Pattern[] {
  return patterns.map((source) => ({ source, re: new RegExp(`^(?:${source})$`, 'u') }));
}

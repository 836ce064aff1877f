/** Model-name constraints: regexes that must match the whole name, compiled once. */

/** A constraint as written (for messages) and compiled (for matching). */
export interface Pattern {
  source: string;
  re: RegExp;
}

export function compilePatterns(patterns: readonly string[]): Pattern[] {
  return patterns.map((source) => ({ source, re: new RegExp(`^(?:${source})$`, 'u') }));
}

/**
 * True when a quantified group holds a quantifier itself (`(a+)+`, `(.*x)*`, `(?:a|b+){2,}`): the
 * shape of catastrophic backtracking. JavaScript's engine backtracks, so such constraints are
 * refused at write time; model names are also capped in length, which bounds the rest.
 */
export function hasNestedQuantifier(pattern: string): boolean {
  // For each open group: whether a quantifier appeared inside it.
  const groups: boolean[] = [];
  let quantifiedInside = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A character class: skip to its end (quantifier characters inside mean themselves).
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      continue;
    }
    if (c === '(') {
      groups.push(quantifiedInside);
      quantifiedInside = false;
      if (pattern[i + 1] === '?') i++;
      continue;
    }
    const isQuantifier = c === '*' || c === '+' || c === '{' || (c === '?' && pattern[i - 1] !== '(');
    if (c === ')') {
      const inner: boolean = quantifiedInside;
      quantifiedInside = groups.pop() ?? false;
      const next = pattern[i + 1];
      if (inner && (next === '*' || next === '+' || next === '{')) return true;
      quantifiedInside ||= inner;
      continue;
    }
    if (isQuantifier) quantifiedInside = true;
  }
  return false;
}

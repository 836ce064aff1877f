/** Glue between commander and the pure handlers: option parsers and the action wrapper. */
import { InvalidArgumentError, type Command } from 'commander';
import { parseDurationMs } from '../core/request-log.js';
import type { CliContext } from './context.js';

/** A whole-number option, checked while parsing so a bad value is a usage error (exit 2). */
export function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${flag} must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}; got '${value}'.`);
    }
    return parsed;
  };
}

/** A duration option (`30s`, `15m`, `30d`), checked while parsing. */
export function duration(flag: string) {
  return (value: string): number => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`${flag} must be a duration like 30s, 15m, 12h or 30d; got '${value}'.`);
    return ms;
  };
}

/** For repeatable options: `-f a -f b` → ['a', 'b']. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Wraps a handler `(options, ctx, ...args)` for commander: merges global options, builds the
 * context, and always releases it (embedded gateway, sockets), whatever the handler did.
 */
export function action<O, A extends unknown[]>(
  makeContext: (cmd: Command) => CliContext,
  handler: (options: O, ctx: CliContext, ...args: A) => Promise<void>,
) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const args = params.slice(0, -2) as A;
    const ctx = makeContext(cmd);
    try {
      await handler(cmd.optsWithGlobals() as O, ctx, ...args);
    } finally {
      await ctx.close();
    }
  };
}

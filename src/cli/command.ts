/** Glue between commander and the pure handlers: option parsers and the action wrapper. */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { CliError, ExitCode, usageError, type ExitCodeValue } from '../core/errors.js';
import { parseDurationMs } from '../core/request-log.js';
import type { CliContext } from './context.js';

/** A whole-number option, checked while parsing so a bad value is a usage error (exit 2). */
export function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(
        `${flag} must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}; got ` +
          `'${value}'.`,
      );
    }
    return parsed;
  };
}

/** A duration option (`30s`, `15m`, `30d`), checked while parsing. */
export function duration(flag: string) {
  return (value: string): number => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms <= 0)
      throw new InvalidArgumentError(`${flag} must be a duration like 30s, 15m, 12h or 30d; got '${value}'.`);
    return ms;
  };
}

/** For repeatable options: `-f a -f b` → ['a', 'b']. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * A command that ends with a non-zero code that is not a failure (`models diff` found differences,
 * `doctor` found problems): thrown by `handle`, mapped to the exit code by `run`, the one place
 * that knows about exit codes.
 */
export class CommandOutcome extends Error {
  constructor(readonly exitCode: ExitCodeValue) {
    super(`exit ${exitCode}`);
    this.name = 'CommandOutcome';
  }
}

// biome-ignore lint/suspicious/noExplicitAny: commander's own bound for a command of any arguments and options.
export type AnyCommand = Command<any[], any, any>;
export type MakeContext = (cmd: AnyCommand) => Promise<CliContext>;
type ArgumentsOf<C> = C extends Command<infer A, infer _O, infer _G> ? A : never;

/**
 * Attaches a handler `(options, ctx, ...args)` to a command: its options (the command's and the
 * global ones) typed from the declaration by @commander-js/extra-typings, never cast. Builds the
 * context and always releases it (embedded gateway, sockets), whatever the handler did.
 */
export function handle<C extends AnyCommand>(
  command: C,
  makeContext: MakeContext,
  handler: (options: ReturnType<C['optsWithGlobals']>, ctx: CliContext, ...args: ArgumentsOf<C>) => Promise<unknown>,
): C {
  command.action(async (...params: unknown[]) => {
    const cmd = params[params.length - 1] as C;
    const args = params.slice(0, -2) as ArgumentsOf<C>;
    const ctx = await makeContext(cmd);
    try {
      const code = await handler(cmd.optsWithGlobals() as ReturnType<C['optsWithGlobals']>, ctx, ...args);
      if (typeof code === 'number' && code !== ExitCode.ok) throw new CommandOutcome(code as ExitCodeValue);
    } finally {
      await ctx.close();
    }
  });
  return command;
}

/**
 * Destructive verbs: `--yes` proceeds; on a terminal, ask; otherwise refuse, so a script never
 * deletes by accident and never hangs on a prompt.
 */
export async function confirmDestructive(ctx: CliContext, what: string): Promise<void> {
  if (ctx.yes) return;
  if (!ctx.interactive)
    throw usageError(
      `refusing to ${what} without confirmation`,
      'pass --yes (prompts only run on a terminal, outside CI)',
    );
  if (!(await ctx.prompt.confirm({ message: `${what[0]!.toUpperCase()}${what.slice(1)}?`, default: false }))) {
    throw new CliError('cancelled', ExitCode.failure);
  }
}

/** A secret piped on stdin (`--api-key-stdin`), so it never enters shell history or `ps`. */
export async function readStdinSecret(
  stdin: NodeJS.ReadableStream & { isTTY?: boolean },
  flag: string,
): Promise<string> {
  if (stdin.isTTY)
    throw usageError(
      `${flag} reads the secret from piped stdin, and stdin is a terminal`,
      `e.g. printenv MY_KEY | embctl … ${flag}`,
    );
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  const secret = Buffer.concat(chunks).toString('utf8').trim();
  if (!secret) throw usageError(`${flag} read nothing from stdin`);
  return secret;
}

/** A secret kept in a file (`--api-key-file`), so it never enters shell history or `ps`. */
export async function readSecretFile(path: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw usageError(
      `${flag} '${path}' cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)})`,
      'check the path; the file holds the secret alone, on one line',
    );
  }
  const secret = text.trim();
  if (!secret) throw usageError(`${flag} '${path}' is empty`, 'write the secret into it, on one line');
  return secret;
}

/** `key=value` pairs; values that parse as JSON (numbers, booleans, arrays) are taken as such. */
export function keyValues(pairs: string[], flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`${flag} takes key=value; got '${pair}'`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[pair.slice(0, eq)] = value;
  }
  return out;
}

/** Runs one command line to an exit code: parse, handle, report failures. Everything but process.exit. */
import { CommanderError } from '@commander-js/extra-typings';
import { CliError, ExitCode, type ExitCodeValue } from '../core/errors.js';
import { CommandOutcome } from './command.js';
import { Output } from './output.js';
import { installCompletion, completionData } from './completion.js';
import { createContext, type ContextDeps } from './context.js';
import { buildProgram } from './program.js';

function report(error: unknown, out: Output): ExitCodeValue {
  // Not a failure: the command said how it ended (`models diff` found differences).
  if (error instanceof CommandOutcome) return error.exitCode;
  // Ctrl-C at a prompt (@inquirer/prompts): a cancel, not a failure.
  if ((error as Error | undefined)?.name === 'ExitPromptError') {
    out.error('cancelled');
    return ExitCode.interrupted;
  }
  if (error instanceof CommanderError) {
    // commander already printed its message; help and --version end here too.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof CliError) {
    out.error(error.message, error.hint);
    if (error.details) out.debug(JSON.stringify(error.details));
    return error.exitCode;
  }
  out.error(
    `unexpected failure: ${(error as Error).message ?? String(error)}`,
    'run again with --verbose, and report it if it persists',
  );
  out.debug((error as Error).stack ?? '');
  return ExitCode.failure;
}

export async function run(argv: string[], deps: ContextDeps = {}): Promise<ExitCodeValue> {
  const program = buildProgram(deps);
  try {
    // `complete` is what the shell scripts call on TAB: dynamic values are fetched first.
    const completing = argv[2] === 'complete';
    await installCompletion(
      program,
      completing
        ? await completionData(await createContext({ color: false, quiet: true, verbose: false, yes: false }, deps))
        : undefined,
    );
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    const verbose = argv.includes('-v') || argv.includes('--verbose');
    const out = new Output({
      color: !argv.includes('--no-color') && !(deps.env ?? process.env).NO_COLOR,
      quiet: false,
      verbose,
      format: 'json',
      stdout: deps.stdout,
      stderr: deps.stderr,
    });
    return report(error, out);
  }
}

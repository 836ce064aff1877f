/** The entry point: runs the program and is the only place that calls process.exit. */
import { CommanderError } from 'commander';
import { CliError, ExitCode, type ExitCodeValue } from '../core/errors.js';
import { Output } from './output.js';
import { takeRequestedExitCode } from './command.js';
import { buildProgram } from './program.js';

function report(error: unknown, verbose: boolean): ExitCodeValue {
  const out = new Output({ color: !process.argv.includes('--no-color'), quiet: false, verbose, format: 'json' });
  if (error instanceof CommanderError) {
    // commander already printed its message; help and --version end here too.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof CliError) {
    out.error(error.message, error.hint);
    if (verbose && error.details) out.debug(JSON.stringify(error.details));
    return error.exitCode;
  }
  out.error(`unexpected failure: ${(error as Error).message ?? String(error)}`, 'run again with --verbose, and report it if it persists');
  if (verbose) out.debug((error as Error).stack ?? '');
  return ExitCode.failure;
}

async function main(): Promise<void> {
  // `embctl … | head` closes the pipe early: that is the reader's choice, not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(ExitCode.ok);
    throw error;
  });
  let code: ExitCodeValue = ExitCode.ok;
  try {
    await buildProgram().parseAsync(process.argv);
    code = (takeRequestedExitCode() ?? ExitCode.ok) as ExitCodeValue;
  } catch (error) {
    code = report(error, process.argv.includes('-v') || process.argv.includes('--verbose'));
  }
  // Let piped stdout drain before exiting.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

await main();

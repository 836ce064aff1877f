/** The entry point: runs the command line and is the only place that calls process.exit. */
import { ExitCode } from '../core/errors.js';
import { run } from './run.js';

// `embctl … | head` closes the pipe early: that is the reader's choice, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(ExitCode.ok);
  throw error;
});

// LanceDB's native logger prints warnings meant for its developers (an empty IVF partition, a
// deprecated default) on stderr, where they would read as problems with the command; its own
// variable still turns them back on.
process.env.LANCEDB_LOG ??= 'error';

const code = await run(process.argv);
// Let piped stdout drain before exiting.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);

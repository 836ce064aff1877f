/** The commander program: global options and the command groups. */
import { Command, Option } from '@commander-js/extra-typings';
import { VERSION } from '../version.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerEmbedCommand } from './commands/embed.js';
import { registerGatewayCommands } from './commands/gateway.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerModelCommands } from './commands/models.js';
import { registerLogCommands } from './commands/logs.js';
import { registerProfileCommands } from './commands/profile.js';
import { registerUsageCommand } from './commands/usage.js';
import { registerCacheCommands } from './commands/cache.js';
import { registerSearchCommand } from './commands/search.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerIndexCommands } from './commands/indexes.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { createContext, type ContextDeps, type GlobalOptions } from './context.js';
import { handle, integer, type MakeContext } from './command.js';
import { OUTPUT_FORMATS } from './output.js';

/** The root command with its global options: every command group hangs below it and inherits their types. */
function rootCommand(deps: ContextDeps) {
  return (
    new Command('embctl')
      .description('Operate an OpenAI-compatible embeddings gateway, and run one.')
      .version(VERSION, '-V, --version')
      .option('--profile <name>', 'profile to use (env EMBCTL_PROFILE)')
      .option('--url <url>', 'gateway URL (env EMBCTL_URL)')
      .option('--api-key <key>', 'API key for /v1/embeddings (env EMBCTL_API_KEY)')
      .addOption(new Option('--api-key-stdin', 'read the API key from piped stdin').conflicts(['apiKey']))
      .addOption(
        new Option('--api-key-file <path>', 'read the API key from a file').conflicts(['apiKey', 'apiKeyStdin']),
      )
      .option('--admin-token <token>', 'admin token for admin commands (env EMBCTL_ADMIN_TOKEN)')
      .addOption(
        new Option('--admin-token-stdin', 'read the admin token from piped stdin').conflicts([
          'adminToken',
          'apiKeyStdin',
        ]),
      )
      .addOption(
        new Option('--admin-token-file <path>', 'read the admin token from a file').conflicts([
          'adminToken',
          'adminTokenStdin',
        ]),
      )
      .addOption(
        new Option('-o, --output <format>', 'output format (default: table on a terminal, json when piped)').choices(
          OUTPUT_FORMATS,
        ),
      )
      .option('--no-color', 'no colours (NO_COLOR is honoured too)')
      .option('-q, --quiet', 'print only data and errors', false)
      .option('-v, --verbose', 'print request ids and HTTP details', false)
      .option(
        '-y, --yes',
        'assume yes for confirmations (needed by destructive commands when not on a terminal)',
        false,
      )
      .option('--timeout <ms>', 'HTTP timeout in milliseconds', integer('--timeout', 1))
      .option('--embedded', 'run the gateway inside this process over --data-dir instead of calling a URL')
      .option('--data-dir <dir>', 'data dir of the embedded or started gateway (env EMBCTL_DATA_DIR)')
      .showSuggestionAfterError(true)
      // Every subcommand's --help lists the global options it accepts too.
      .configureHelp({ showGlobalOptions: true })
      // Set before the subcommands are added: they inherit both.
      .configureOutput({
        writeOut: (text) => void (deps.stdout ?? process.stdout).write(text),
        writeErr: (text) => void (deps.stderr ?? process.stderr).write(text),
      })
      .exitOverride()
  );
}

export type Root = ReturnType<typeof rootCommand>;

/** `deps` replace the process's env, streams, profile store, prompts or transport (tests run argv in-process). */
export function buildProgram(deps: ContextDeps = {}): Root {
  const program = rootCommand(deps);
  const makeContext: MakeContext = async (cmd) => createContext(cmd.optsWithGlobals() as GlobalOptions, deps);
  registerProfileCommands(program, makeContext);
  registerModelCommands(program, makeContext);
  registerKeyCommands(program, makeContext);
  registerEmbedCommand(program, makeContext);
  registerSearchCommand(program, makeContext);
  registerJobCommands(program, makeContext);
  registerIndexCommands(program, makeContext);
  registerMigrateCommand(program, makeContext);
  registerLogCommands(program, makeContext);
  registerUsageCommand(program, makeContext);
  registerCacheCommands(program, makeContext);
  registerGatewayCommands(program, makeContext);
  registerDoctorCommand(program, makeContext);
  handle(
    program.command('version').description('the version of embctl and of the Node.js running it'),
    makeContext,
    async (_o, ctx) => {
      ctx.out.item({ embctl: VERSION, node: ctx.host.nodeVersion, platform: `${ctx.host.platform} ${ctx.host.arch}` });
    },
  );
  return program;
}

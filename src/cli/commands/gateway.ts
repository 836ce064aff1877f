/** `embctl gateway start`: the gateway in the foreground, stopped cleanly by SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { usageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { LOCAL_PROFILE } from '../profiles.js';
import { action, duration, integer } from '../command.js';

export interface GatewayStartOptions {
  host: string;
  port: number;
  dataDir: string;
  adminToken?: string;
  bodyLimit?: number;
  logRetentionMs?: number;
  logMaxRows?: number;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

export async function gatewayStart(options: GatewayStartOptions, ctx: CliContext, stopped: Promise<string>): Promise<void> {
  const { out, profiles } = ctx;
  const { startGateway } = await import('../../gateway/start.js');
  const gateway = await startGateway(options);
  const profileUrl = WILDCARD_HOSTS.has(options.host) ? gateway.url.replace(/\/\/[^/]+:/, '//127.0.0.1:') : gateway.url;
  const local = profiles.get(LOCAL_PROFILE);
  if (gateway.bootstrap) {
    const { apiKey, adminToken, model } = gateway.bootstrap;
    profiles.set(LOCAL_PROFILE, { url: profileUrl, dataDir: options.dataDir, apiKey, adminToken, model });
    profiles.current ??= LOCAL_PROFILE;
    out.info(
      [
        '',
        'First start: created the embedding model, an API key and the admin token. They are shown once,',
        `and saved in profile '${LOCAL_PROFILE}' (${profiles.path}, mode 0600) for the CLI:`,
        `  model        ${model}`,
        `  API key      ${apiKey}`,
        `  admin token  ${adminToken}`,
        '',
        `Try: embctl embed "hello world"    or    curl ${gateway.url}/v1/embeddings -H "Authorization: Bearer $KEY" ...`,
        '',
      ].join('\n'),
    );
  } else if (local && local.dataDir === options.dataDir && local.url !== profileUrl) {
    // The local profile belongs to this data dir: point it at where the gateway now listens.
    profiles.set(LOCAL_PROFILE, { ...local, url: profileUrl, embedded: false });
    out.info(`profile '${LOCAL_PROFILE}' now points at ${profileUrl}`);
  }

  // Announced last: whoever waits for this line finds the profile already written.
  out.info(`store: ${gateway.store.kind} at ${gateway.store.location}`);
  out.text(`embctl gateway listening on ${gateway.url}`);

  const signal = await stopped;
  out.info(`${signal}: finishing in-flight requests…`);
  await gateway.close();
  out.info('gateway stopped');
}

export function registerGatewayCommands(program: Command, makeContext: (cmd: Command) => CliContext): void {
  const gateway = program.command('gateway').description('run the embeddings gateway');
  gateway
    .command('start')
    .description('start the gateway in the foreground (Ctrl-C stops it after in-flight requests finish)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', integer('--port', 0, 65535), 8080)
    .option('--body-limit <bytes>', 'largest request body accepted', integer('--body-limit', 1024))
    .option('--log-retention <duration>', 'delete request logs older than this (default 30d)', duration('--log-retention'))
    .option('--log-max-rows <n>', 'keep at most this many request-log rows (default 1000000)', integer('--log-max-rows', 1))
    .action(
      action(makeContext, async (opts: { host: string; port: number; bodyLimit?: number; adminToken?: string; logRetention?: number; logMaxRows?: number }, ctx) => {
        if (!opts.host) throw usageError('--host is empty');
        const stopped = new Promise<string>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
        });
        const settings: GatewayStartOptions = {
          host: opts.host,
          port: opts.port,
          dataDir: ctx.settings.dataDir,
          adminToken: opts.adminToken ?? ctx.env.EMBCTL_ADMIN_TOKEN,
          bodyLimit: opts.bodyLimit,
          logRetentionMs: opts.logRetention,
          logMaxRows: opts.logMaxRows,
        };
        await gatewayStart(settings, ctx, stopped);
      }),
    );
}

/** `embctl gateway start`: the gateway in the foreground, stopped cleanly by SIGINT/SIGTERM. */
import { Option } from '@commander-js/extra-typings';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { redactSecret } from '../../core/secrets.js';
import { sleep } from '../../core/retry.js';
import { isAlive, type CliContext, type HostProcess } from '../context.js';
import { collect, duration, handle, integer, type MakeContext } from '../command.js';
import { listenerOf } from '../port-holder.js';
import type { Root } from '../program.js';
import { bindRefusal } from '../../gateway/bind-policy.js';
import type { OutagePolicy } from '../../gateway/limits.js';
import { redactedUrl } from '../../store/postgres/url.js';
import { runWorkers, workerChannel, type WorkerMessage } from '../gateway-workers.js';

export interface GatewayStartOptions {
  host: string;
  port: number;
  dataDir: string;
  storeUrl?: string;
  secretKeyFile?: string;
  instance?: string;
  logBufferRows?: number;
  limitsOnStoreOutage?: OutagePolicy;
  cache?: { memoryBytes?: number; maxEntries?: number; maxBytes?: number };
  upstreamBodyBudgetBytes?: number;
  maxFileBytes?: number;
  fileTtlS?: number;
  batchLeaseMs?: number;
  batchConcurrency?: number;
  batchRatePercent?: number;
  adminToken?: string;
  bodyLimit?: number;
  logRetentionMs?: number;
  logMaxRows?: number;
  requestTimeoutMs?: number;
  tls?: { key: Buffer; cert: Buffer };
  /** The first-start secrets go to the profile only, never to stdout/stderr (a --detach child's are a log file). */
  quietSecrets?: boolean;
  /** Young generation cap in MB, with the rest of the gateway's heap sizing (gateway/heap-tuning.ts); 0 leaves V8's. */
  youngGenerationMb?: number;
  allowEnv?: string[];
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  keepAliveTimeoutMs?: number;
  /** Set in a `--workers` process: tells the primary where it listens instead of printing it. */
  notifyPrimary?: (message: WorkerMessage) => void;
}

/** A store that cannot be opened, as the user can act on it (the URL never shown with its password). */
function storeError(error: unknown, storeUrl: string | undefined): CliError | undefined {
  const name = (error as Error).name;
  if (name === 'MissingSecretKey' || name === 'InvalidStoreUrl')
    return new CliError((error as Error).message, ExitCode.usage);
  if (!storeUrl || error instanceof CliError) return undefined;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return new CliError(
    `cannot open the PostgreSQL store at ${redactedUrl(storeUrl)}: ${(error as Error).message}`,
    /^E(CONNREFUSED|NOTFOUND|HOSTUNREACH|TIMEDOUT)|EAI_AGAIN/.test(code) ? ExitCode.unreachable : ExitCode.failure,
    'check that the server is up and the URL, user, password and database in --store / EMBCTL_STORE_URL are right',
  );
}

/** Measured with bench/gateway.mjs: as fast as V8's 32 MB under the bench's loads, 30–50 MB less peak RSS. */
export const DEFAULT_YOUNG_GENERATION_MB = 8;
const MIB = 1024 * 1024;

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

export async function gatewayStart(
  options: GatewayStartOptions,
  ctx: CliContext,
  stopped: Promise<string>,
): Promise<void> {
  const { out, profiles } = ctx;
  if (options.youngGenerationMb) (await import('../../gateway/heap-tuning.js')).tuneHeap(options.youngGenerationMb);
  const { PortInUse, startGateway } = await import('../../gateway/start.js');
  const gateway = await startGateway({
    ...options,
    clusterWorker: options.notifyPrimary !== undefined,
    env: ctx.env,
    logError: (message) => ctx.out.warn(`gateway: ${message}`),
  })
    .catch((error: unknown) => {
      throw storeError(error, options.storeUrl) ?? error;
    })
    .catch((error: unknown) => {
      throw error instanceof PortInUse ? portInUse(error) : error;
    });
  const profileUrl = WILDCARD_HOSTS.has(options.host) ? gateway.url.replace(/\/\/[^/]+:/, '//127.0.0.1:') : gateway.url;
  // Each data dir has its own profile: `local` for the first, `local-2`, … for others.
  const name = profiles.localProfileFor(options.dataDir);
  const local = profiles.get(name);
  if (gateway.bootstrap) {
    const { apiKey, adminToken, model } = gateway.bootstrap;
    profiles.set(name, { url: profileUrl, dataDir: options.dataDir, apiKey, adminToken, model });
    profiles.current ??= name;
    if (options.quietSecrets) out.info(firstStartMark(name));
    else out.info(firstStartBanner({ apiKey, adminToken, model }, name, profiles.path, gateway.url));
  } else if (local && local.url !== profileUrl) {
    // The profile belongs to this data dir: point it at where the gateway now listens.
    profiles.set(name, { ...local, url: profileUrl, embedded: false });
    out.info(`profile '${name}' now points at ${profileUrl}`);
  }

  const pidFile = join(options.dataDir, PID_FILE);
  if (options.notifyPrimary) {
    options.notifyPrimary({ listening: gateway.url, store: `${gateway.store.kind} at ${gateway.store.location}` });
  } else {
    // Over PostgreSQL nothing else created the data dir.
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(pidFile, `${ctx.host.pid}\n`);
    // Announced last: whoever waits for this line finds the profile already written.
    out.info(`store: ${gateway.store.kind} at ${gateway.store.location}`);
    out.text(`embctl gateway listening on ${gateway.url}`);
  }

  const signal = await stopped;
  out.info(`${signal}: finishing in-flight requests…`);
  await gateway.close();
  if (!options.notifyPrimary && readPid(options.dataDir) === ctx.host.pid) rmSync(pidFile, { force: true });
  out.info('gateway stopped');
}

export function portInUse(error: { host: string; port: number }): CliError {
  const holder = listenerOf(error.port);
  return new CliError(
    `port ${error.port} on ${error.host} is in use${holder ? ` by ${holder}` : ''}; nothing was started or created`,
    ExitCode.conflict,
    `stop what holds it, or pick another port: --port ${error.port + 1} (0 picks a free one)`,
  );
}

/** What a detached first start logs instead of its secrets: the parent reads them from the profile. */
const firstStartMark = (profile: string) =>
  `first start: the API key and admin token are saved in profile '${profile}'`;
const FIRST_START_MARK = /first start: the API key and admin token are saved in profile '([^']+)'/;

function firstStartBanner(
  secrets: { apiKey: string; adminToken: string; model: string },
  profile: string,
  profilePath: string,
  url: string,
): string {
  return [
    '',
    'First start: created the embedding model, an API key and the admin token. They are shown once,',
    `and saved in profile '${profile}' (${profilePath}, mode 0600) for the CLI:`,
    `  model        ${secrets.model}`,
    `  API key      ${secrets.apiKey}`,
    `  admin token  ${secrets.adminToken}`,
    '',
    `Try: embctl embed "hello world"    or    curl ${url}/v1/embeddings -H "Authorization: Bearer ` +
      `${secrets.apiKey}" ...`,
    '',
  ].join('\n');
}

export const PID_FILE = 'gateway.pid';
export const LOG_FILE = 'gateway.log';

function readPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid file's process is still the gateway, not one that died and left its pid to another program. */
function gatewayRunning(host: HostProcess, pid: number): boolean {
  if (!isAlive(host, pid)) return false;
  const commandLine = host.commandLine(pid);
  return commandLine === undefined || /\bgateway start\b/.test(commandLine);
}

/** Starts `gateway start` (without --detach) in the background, logging to the data dir; returns once it listens. */
export async function gatewayDetach(argv: string[], dataDir: string, ctx: CliContext): Promise<void> {
  const running = readPid(dataDir);
  if (running && isAlive(ctx.host, running))
    throw new CliError(
      `a gateway is already running over ${dataDir} (pid ${running})`,
      ExitCode.conflict,
      'stop it with `embctl gateway stop`',
    );
  const logPath = join(dataDir, LOG_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const log = openSync(logPath, 'a', 0o600);
  // The child logs to a file: it keeps the first-start secrets out of it, and they are shown here.
  const child = spawn(
    ctx.host.execPath,
    [ctx.host.argv[1]!, ...argv.filter((a) => a !== '--detach'), '--data-dir', dataDir, '--quiet-secrets'],
    { detached: true, stdio: ['ignore', log, log], env: ctx.env },
  );
  child.unref();
  closeSync(log);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const text = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
    const match = /listening on (http:\/\/\S+)/g;
    let url: string | undefined;
    for (const m of text.matchAll(match)) url = m[1];
    if (url && readPid(dataDir) === child.pid) {
      const first = FIRST_START_MARK.exec(text)?.[1];
      const saved = first ? ctx.profiles.get(first) : undefined;
      if (first && saved?.apiKey && saved.adminToken) {
        ctx.out.info(
          firstStartBanner(
            { apiKey: saved.apiKey, adminToken: saved.adminToken, model: saved.model ?? '' },
            first,
            ctx.profiles.path,
            url,
          ),
        );
      }
      ctx.out.text(url);
      ctx.out.success(
        `gateway running in the background (pid ${child.pid}); log: ${logPath}; stop it with \`embctl gateway stop\``,
      );
      return;
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new CliError(`the gateway did not start; see ${logPath}`, ExitCode.failure);
}

export async function gatewayStop(dataDir: string, ctx: CliContext): Promise<void> {
  const pid = readPid(dataDir);
  const pidFile = join(dataDir, PID_FILE);
  if (!pid) {
    throw new CliError(
      `no gateway is running over ${dataDir} (no ${PID_FILE} there)`,
      ExitCode.notFound,
      'a gateway started in the foreground stops with Ctrl-C; --data-dir picks another data dir',
    );
  }
  if (!gatewayRunning(ctx.host, pid)) {
    rmSync(pidFile, { force: true });
    throw new CliError(
      `the gateway over ${dataDir} (pid ${pid}) was not running: it ended without stopping (killed or crashed), ` +
        `and its stale ${PID_FILE} is now removed`,
      ExitCode.notFound,
      `its last lines are in ${join(dataDir, LOG_FILE)}; start it again with \`embctl gateway start --detach\``,
    );
  }
  ctx.host.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(ctx.host, pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(ctx.host, pid))
    throw new CliError(
      `the gateway (pid ${pid}) is still finishing requests after 30 s`,
      ExitCode.failure,
      `wait, or kill ${pid}`,
    );
  ctx.out.success(`gateway stopped (pid ${pid})`);
}

export async function gatewayStatus(ctx: CliContext): Promise<void> {
  if (ctx.settings.embedded) {
    // Asking an embedded gateway would start one just to report on it.
    throw new CliError(
      'no gateway is configured: no --url, EMBCTL_URL or profile URL',
      ExitCode.unreachable,
      'start one with `embctl gateway start` (it saves its URL in a profile), or pass --url',
    );
  }
  const client = await ctx.client();
  const status = await client.status();
  const pid = readPid(ctx.settings.dataDir);
  const pidFile = pid ? { pid_file: join(ctx.settings.dataDir, PID_FILE) } : {};
  if (ctx.out.format !== 'table') {
    ctx.out.item({
      url: client.url,
      version: status.version,
      uptime_s: status.uptime_s,
      started_at: status.started_at,
      pid: status.pid,
      store: status.store,
      entities: status.entities,
      keys: status.keys,
      instance: status.instance,
      instances: status.instances,
      ...pidFile,
    });
    return;
  }
  ctx.out.item({
    url: client.url,
    version: status.version,
    uptime: `${status.uptime_s} s`,
    started: status.started_at,
    pid: status.pid,
    store: `${status.store.kind} ${status.store.location} (schema ${status.store.schema_version}${
      status.store.reachable ? '' : ', UNREACHABLE'
    })`,
    models: `${status.entities.enabled} enabled of ${status.entities.total}`,
    keys: `${status.keys.active} active of ${status.keys.total}`,
    instance: status.instance,
    gateways: status.instances
      .map((i) => `${i.instance}${i.instance === status.instance ? ' (this one)' : ''}, seen ${i.seen_s_ago} s ago`)
      .join('; '),
    ...(pid ? { 'pid file': `${join(ctx.settings.dataDir, PID_FILE)} (${pid})` } : {}),
  });
}

/** A new admin token, shown once and saved in the profile the old one came from. */
export async function rotateAdminToken(ctx: CliContext): Promise<void> {
  const { admin_token: token, note } = await (await ctx.client()).rotateAdminToken();
  const profile = /^profile '(.+)'$/.exec(ctx.settings.sources.adminToken ?? '')?.[1];
  const saved = profile ? ctx.profiles.get(profile) : undefined;
  if (profile && saved) {
    ctx.profiles.set(profile, { ...saved, adminToken: token });
    ctx.out.success(`new admin token saved in profile '${profile}'; ${note}`);
  } else {
    ctx.out.warn(`the new admin token is shown once, below: store it now; ${note}`);
  }
  ctx.out.item({ admin_token: profile && saved ? redactSecret(token) : token });
}

export function registerGatewayCommands(program: Root, makeContext: MakeContext): void {
  const gateway = program.command('gateway').description('run the embeddings gateway');
  handle(
    gateway.command('status').description('version, uptime, store, models and keys of the gateway, and its replicas'),
    makeContext,
    (_o, ctx) => gatewayStatus(ctx),
  );
  handle(
    gateway
      .command('rotate-admin-token')
      .description('replace the admin token on every gateway of the store (saved in the profile it came from)'),
    makeContext,
    (_o, ctx) => rotateAdminToken(ctx),
  );
  handle(
    gateway.command('stop').description('stop a gateway started with --detach over the data dir'),
    makeContext,
    (_o, ctx) => gatewayStop(ctx.settings.dataDir, ctx),
  );
  handle(
    gateway
      .command('start')
      .description('start the gateway in the foreground (Ctrl-C stops it after in-flight requests finish)')
      .option('--host <host>', 'address to bind', '127.0.0.1')
      .option('--port <port>', 'port to listen on (0 picks a free one)', integer('--port', 0, 65535), 8080)
      .option('--body-limit <bytes>', 'largest request body accepted', integer('--body-limit', 1024))
      .option(
        '--log-retention <duration>',
        'delete request logs older than this (default 30d)',
        duration('--log-retention'),
      )
      .option(
        '--log-max-rows <n>',
        'keep at most this many request-log rows (default 1000000)',
        integer('--log-max-rows', 1),
      )
      .option('--detach', `run in the background, with ${PID_FILE} and ${LOG_FILE} in the data dir`)
      .option(
        '--store <url>',
        'a PostgreSQL URL (postgres://user:pass@host/db) shared by several gateways (env EMBCTL_STORE_URL; default: ' +
          'SQLite in the data dir)',
      )
      .option(
        '--secret-key-file <path>',
        'the base64 key sealing upstream credentials, the same for every replica (or EMBCTL_SECRET_KEY)',
      )
      .option(
        '--workers <n>',
        'processes serving the port together, sharing limits and logs through the store (default 1)',
        integer('--workers', 1, 64),
        1,
      )
      .option(
        '--instance <name>',
        'this gateway among those sharing a store: /metrics instance label (default host:pid)',
      )
      .option(
        '--log-buffer-rows <n>',
        'Request Log rows kept in memory while the store refuses writes (default 100000); beyond, the oldest are ' +
          'dropped and counted',
        integer('--log-buffer-rows', 1),
      )
      .option(
        '--upstream-body-budget-mb <mb>',
        'MB of upstream answers held at once; calls expected to bring back more wait their turn (default 24)',
        integer('--upstream-body-budget-mb', 1),
      )
      .option(
        '--batch-concurrency <n>',
        'upstream calls in flight at once for batch jobs, per gateway (default 4; live traffic is not limited by it)',
        integer('--batch-concurrency', 1),
      )
      .option(
        '--batch-rate-share <percent>',
        "the share of a key's rpm and tpm its batch jobs may use (default 80): the rest of each minute stays open " +
          'to its live calls',
        integer('--batch-rate-share', 1, 100),
      )
      .option(
        '--batch-lease <duration>',
        "how long a gateway holds a slice of a batch's lines without renewing (default 30s): a crashed gateway's lines " +
          'are taken over after it',
        duration('--batch-lease'),
      )
      .option(
        '--max-file-mb <mb>',
        'largest upload to POST /v1/files, in MiB (default 512)',
        integer('--max-file-mb', 1),
      )
      .option(
        '--file-ttl <duration>',
        'how long uploaded and batch output files are kept, e.g. 30d (default), 12h',
        duration('--file-ttl'),
      )
      .option(
        '--cache-memory-mb <mb>',
        'embedding cache entries each gateway keeps in memory, in MB of vectors (default 64)',
        integer('--cache-memory-mb', 1),
      )
      .option(
        '--cache-max-entries <n>',
        'embedding cache entries kept in the store; beyond, the least recently used go (default 1000000)',
        integer('--cache-max-entries', 1),
      )
      .option(
        '--cache-max-mb <mb>',
        'MB of cached vectors kept in the store; beyond, the least recently used go (default 8192)',
        integer('--cache-max-mb', 1),
      )
      .addOption(
        new Option(
          '--limits-on-store-outage <policy>',
          'keys with limits while the store is unreachable: closed refuses them (503), open admits them uncounted',
        )
          .choices(['closed', 'open'] as const)
          .default('closed' as const),
      )
      .option(
        '--request-timeout <duration>',
        'a client must send its whole request within this (default 30s)',
        duration('--request-timeout'),
      )
      .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
      .option('--tls-key <file>', 'the PEM private key for --tls-cert')
      .option('--insecure', 'allow a non-loopback --host without TLS (e.g. behind a TLS proxy)')
      .option(
        '--allow-env <name>',
        'an environment variable entities may read as ${env:NAME} (repeatable, * is a wildcard; default *_API_KEY ' +
          '*_TOKEN *_KEY *_SECRET *_PASSWORD, never EMBCTL_*)',
        collect,
      )
      .option('--max-connections <n>', 'open connections at most (default 2048)', integer('--max-connections', 1))
      .option(
        '--max-connections-per-ip <n>',
        'open connections at most from one address (default 256)',
        integer('--max-connections-per-ip', 1),
      )
      .option(
        '--keep-alive-timeout <duration>',
        'close idle keep-alive connections after this (default 5s)',
        duration('--keep-alive-timeout'),
      )
      .addOption(
        new Option('--quiet-secrets', 'keep first-start secrets out of the output (used by --detach)').hideHelp(),
      )
      .option(
        '--young-generation-mb <mb>',
        `cap V8's young generation and tighten old-generation growth (lower peak memory); 0 keeps V8's own sizing`,
        integer('--young-generation-mb', 0, 1024),
        DEFAULT_YOUNG_GENERATION_MB,
      ),
    makeContext,
    async (opts, ctx) => {
      if (!opts.host) throw usageError('--host is empty');
      if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw usageError('--tls-cert and --tls-key go together');
      const refusal = bindRefusal(opts.host, Boolean(opts.tlsCert), Boolean(opts.insecure));
      if (refusal)
        throw usageError(
          refusal,
          'pass --tls-cert and --tls-key, keep the default --host 127.0.0.1, or (behind a TLS proxy) --insecure',
        );
      const tls =
        opts.tlsCert && opts.tlsKey ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) } : undefined;
      if (opts.detach) return gatewayDetach(ctx.host.argv.slice(2), ctx.settings.dataDir, ctx);
      const signal = ctx.interrupted();
      const channel = workerChannel();
      if (opts.workers > 1 && !channel)
        return runWorkers(
          {
            count: opts.workers,
            host: opts.host,
            port: opts.port,
            pidFile: join(ctx.settings.dataDir, PID_FILE),
            portInUse,
          },
          ctx,
          signal,
        );
      const stopped = new Promise<string>((resolve) =>
        signal.addEventListener('abort', () => resolve(String(signal.reason)), { once: true }),
      );
      const settings: GatewayStartOptions = {
        host: opts.host,
        port: opts.port,
        dataDir: ctx.settings.dataDir,
        storeUrl: opts.store ?? (ctx.env.EMBCTL_STORE_URL || undefined),
        secretKeyFile: opts.secretKeyFile,
        instance: opts.instance,
        logBufferRows: opts.logBufferRows,
        limitsOnStoreOutage: opts.limitsOnStoreOutage,
        cache: {
          memoryBytes: opts.cacheMemoryMb === undefined ? undefined : opts.cacheMemoryMb * MIB,
          maxEntries: opts.cacheMaxEntries,
          maxBytes: opts.cacheMaxMb === undefined ? undefined : opts.cacheMaxMb * MIB,
        },
        // Seeds the admin token of an empty store: --admin-token, --admin-token-file/-stdin or EMBCTL_ADMIN_TOKEN.
        adminToken: ctx.given.adminToken ?? (ctx.env.EMBCTL_ADMIN_TOKEN || undefined),
        bodyLimit: opts.bodyLimit,
        logRetentionMs: opts.logRetention,
        logMaxRows: opts.logMaxRows,
        requestTimeoutMs: opts.requestTimeout,
        youngGenerationMb: opts.youngGenerationMb,
        quietSecrets: opts.quietSecrets,
        allowEnv: opts.allowEnv,
        maxConnections: opts.maxConnections,
        maxConnectionsPerIp: opts.maxConnectionsPerIp,
        keepAliveTimeoutMs: opts.keepAliveTimeout,
        upstreamBodyBudgetBytes: opts.upstreamBodyBudgetMb === undefined ? undefined : opts.upstreamBodyBudgetMb * MIB,
        maxFileBytes: opts.maxFileMb === undefined ? undefined : opts.maxFileMb * MIB,
        batchLeaseMs: opts.batchLease,
        batchConcurrency: opts.batchConcurrency,
        batchRatePercent: opts.batchRateShare,
        fileTtlS: opts.fileTtl === undefined ? undefined : Math.ceil(opts.fileTtl / 1000),
        ...(tls ? { tls } : {}),
        ...(channel ? { notifyPrimary: channel } : {}),
      };
      await gatewayStart(settings, ctx, stopped);
    },
  );
}

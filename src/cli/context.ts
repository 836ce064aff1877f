/**
 * Resolves settings (flag → environment → --profile → current profile) into what every handler
 * gets: a client, the output, and whether it may prompt. Handlers never read process.env or argv.
 */
import { readFileSync } from 'node:fs';
import { CliError, ExitCode } from '../core/errors.js';
import { GatewayClient, type ClientOptions } from '../client/gateway-client.js';
import type { RunningGateway } from '../gateway/start.js';
import { Output, type Writable } from './output.js';
import { refusingPrompter, terminalPrompter, type Prompter } from './prompt.js';
import { defaultConfigDir, defaultDataDir } from './paths.js';
import { LOCAL_PROFILE, ProfileStore, type Profile } from './profiles.js';
import { readSecretFile, readStdinSecret } from './command.js';

export interface GlobalOptions {
  profile?: string;
  url?: string;
  apiKey?: string;
  apiKeyStdin?: boolean;
  apiKeyFile?: string;
  adminToken?: string;
  adminTokenStdin?: boolean;
  adminTokenFile?: string;
  output?: string;
  color: boolean;
  quiet: boolean;
  verbose: boolean;
  yes: boolean;
  timeout?: number;
  embedded?: boolean;
  dataDir?: string;
}

export type SettingSources = Partial<Record<'url' | 'apiKey' | 'adminToken' | 'model', string>>;

/** The first candidate with a value (an empty one counts as unset) and the label of where it came from. */
function firstOf(...candidates: [string | undefined, string][]): { value?: string; source?: string } {
  for (const [value, source] of candidates) if (value !== undefined && value !== '') return { value, source };
  return {};
}

export interface Settings {
  profileName: string | undefined;
  profile: Profile | undefined;
  url: string | undefined;
  apiKey: string | undefined;
  adminToken: string | undefined;
  model: string | undefined;
  /** Where each of url, apiKey, adminToken and model came from ("--url", "EMBCTL_URL", "profile 'prod'"), for errors. */
  sources: SettingSources;
  /** No URL anywhere and the profile (or the lack of one) says: run the gateway in-process. */
  embedded: boolean;
  dataDir: string;
  timeoutMs: number;
}

/**
 * What handlers may use of the process they run in, passed in so that none reads `process`
 * itself (tests hand in their own): its command line, its pid, signals to others, its own signals.
 */
export interface HostProcess {
  /** The full command line, as `process.argv`. */
  argv: readonly string[];
  execPath: string;
  pid: number;
  nodeVersion: string;
  platform: string;
  arch: string;
  /** Sends `signal` (0: only checks that it exists; throws ESRCH when it does not). */
  kill(pid: number, signal: NodeJS.Signals | 0): void;
  /** Another process's command line, space-separated; undefined when it is gone or the OS does not tell. */
  commandLine(pid: number): string | undefined;
  /** Calls `handler` on the first SIGINT or SIGTERM; a second one ends the process at once (exit 130). */
  onStopSignal(handler: (signal: NodeJS.Signals) => void): void;
}

/** Whether process `pid` exists (one of another user's counts: signalling it is refused, not absent). */
export function isAlive(host: HostProcess, pid: number): boolean {
  try {
    host.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A second signal sooner than this after the first is an echo of it, not a second Ctrl-C. */
const REPEAT_MS = 300;

export const realProcess: HostProcess = {
  argv: process.argv,
  execPath: process.execPath,
  pid: process.pid,
  nodeVersion: process.version,
  platform: process.platform,
  arch: process.arch,
  kill: (pid, signal) => void process.kill(pid, signal),
  commandLine(pid) {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      return undefined;
    }
  },
  onStopSignal(handler) {
    // Listeners stay registered (not `once`), and a repeat within REPEAT_MS is the same Ctrl-C:
    // when-exit (loaded by conf) and signal-exit (by ora) re-raise the signal they saw, expecting the
    // process to die of it, which would cut the handler's clean stop short.
    let first: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (first === undefined) {
        first = Date.now();
        handler(signal);
      } else if (Date.now() - first > REPEAT_MS) {
        process.exit(130);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  },
};

/** Secrets given to this one command by flag, piped stdin or file: never the environment's or a profile's. */
export interface GivenSecrets {
  apiKey?: string;
  adminToken?: string;
}

export interface CliContext {
  out: Output;
  given: GivenSecrets;
  host: HostProcess;
  profiles: ProfileStore;
  settings: Settings;
  /** Prompts are allowed only on a terminal, outside CI. */
  interactive: boolean;
  prompt: Prompter;
  yes: boolean;
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The gateway client, started lazily (an embedded gateway is only booted when a command needs it). */
  client(): Promise<GatewayClient>;
  /** Aborted by Ctrl-C or SIGTERM: long-running commands (tail, gateway start) stop cleanly on it. */
  interrupted(): AbortSignal;
  close(): Promise<void>;
}

/** A gateway URL as people write it, or a usage error saying how to write it (`localhost:8080` has no scheme). */
function checkedUrl(url: string | undefined, source: string): string | undefined {
  // An empty value (`EMBCTL_URL=`) means unset, as it always did.
  if (url === undefined || url === '') return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new CliError(
      `the gateway URL '${url}' (from ${source}) is not an http(s) URL`,
      ExitCode.usage,
      `write it with its scheme, e.g. http://${url.replace(/^[a-z]+:\/\//i, '')}`,
    );
  }
  return url;
}

export function resolveSettings(options: GlobalOptions, env: NodeJS.ProcessEnv, profiles: ProfileStore): Settings {
  const profileName =
    options.profile ??
    env.EMBCTL_PROFILE ??
    profiles.current ??
    (profiles.get(LOCAL_PROFILE) ? LOCAL_PROFILE : undefined);
  const profile = profileName ? profiles.get(profileName) : undefined;
  if (profileName && !profile && (options.profile || env.EMBCTL_PROFILE)) {
    throw new CliError(
      `no profile named '${profileName}'`,
      ExitCode.usage,
      'list them with `embctl profile list`, or add one with `embctl profile add`',
    );
  }
  const fromProfile = (name: string | undefined) => `profile '${name}'`;
  const urlSetting = firstOf(
    [options.url, '--url'],
    [env.EMBCTL_URL, 'EMBCTL_URL'],
    [options.embedded ? undefined : profile?.url, fromProfile(profileName)],
  );
  const url = checkedUrl(urlSetting.value, urlSetting.source ?? '');
  const embedded =
    options.embedded === true || (url === undefined && (profile === undefined || profile.embedded === true));
  // flag → environment → profile, as every setting.
  const dataDir = options.dataDir ?? env.EMBCTL_DATA_DIR ?? profile?.dataDir ?? defaultDataDir(env);
  // An embedded gateway over another data dir than the profile's has credentials of its own.
  const credentials =
    embedded && profile?.dataDir !== undefined && profile.dataDir !== dataDir
      ? profiles.get(profiles.localProfileFor(dataDir))
      : profile;
  const credentialsName = credentials === profile ? profileName : profiles.localProfileFor(dataDir);
  const apiKey = firstOf(
    [options.apiKey, 'the --api-key option'],
    [env.EMBCTL_API_KEY, 'EMBCTL_API_KEY'],
    [credentials?.apiKey, fromProfile(credentialsName)],
  );
  const adminToken = firstOf(
    [options.adminToken, 'the --admin-token option'],
    [env.EMBCTL_ADMIN_TOKEN, 'EMBCTL_ADMIN_TOKEN'],
    [credentials?.adminToken, fromProfile(credentialsName)],
  );
  const model = firstOf([env.EMBCTL_MODEL, 'EMBCTL_MODEL'], [credentials?.model, fromProfile(credentialsName)]);
  return {
    profileName,
    profile,
    url,
    apiKey: apiKey.value,
    adminToken: adminToken.value,
    model: model.value,
    sources: { url: urlSetting.source, apiKey: apiKey.source, adminToken: adminToken.source, model: model.source },
    embedded,
    dataDir,
    timeoutMs: options.timeout ?? 60_000,
  };
}

/**
 * Boots the gateway inside this process. On a first start it saves the secrets to the `local`
 * profile and fills them into `settings` where flags and environment left gaps.
 */
async function startEmbedded(settings: Settings, profiles: ProfileStore, out: Output): Promise<RunningGateway> {
  // Loaded on demand: most commands never need the gateway's server, store and tokenizer.
  const { startGateway } = await import('../gateway/start.js');
  const gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    dataDir: settings.dataDir,
    preloadTokenizer: false,
  });
  if (gateway.bootstrap) {
    const profile: Profile = {
      embedded: true,
      dataDir: settings.dataDir,
      apiKey: gateway.bootstrap.apiKey,
      adminToken: gateway.bootstrap.adminToken,
      model: gateway.bootstrap.model,
    };
    const name = profiles.localProfileFor(settings.dataDir);
    profiles.set(name, profile);
    profiles.current ??= name;
    out.info(
      `Initialised an embedded gateway in ${settings.dataDir}; its API key and admin token are saved in profile ` +
        `'${name}' (${profiles.path}).`,
    );
    for (const field of ['apiKey', 'adminToken', 'model'] as const) {
      if (settings[field] !== undefined) continue;
      settings[field] = profile[field];
      settings.sources[field] = `profile '${name}'`;
    }
  }
  return gateway;
}

/** What a context is built from; tests replace any of it. */
export interface ContextDeps {
  env?: NodeJS.ProcessEnv;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout?: Writable;
  stderr?: Writable;
  profiles?: ProfileStore;
  prompt?: Prompter;
  /** Builds the client for a resolved URL and credentials; tests inject a mocked transport here. */
  client?: (options: ClientOptions) => GatewayClient;
  host?: HostProcess;
}

async function givenSecrets(options: GlobalOptions, stdin: CliContext['stdin']): Promise<GivenSecrets> {
  const read = (value: string | undefined, fromStdin: boolean | undefined, file: string | undefined, flag: string) =>
    value !== undefined
      ? value
      : fromStdin
        ? readStdinSecret(stdin, `--${flag}-stdin`)
        : file !== undefined
          ? readSecretFile(file, `--${flag}-file`)
          : undefined;
  return {
    apiKey: await read(options.apiKey, options.apiKeyStdin, options.apiKeyFile, 'api-key'),
    adminToken: await read(options.adminToken, options.adminTokenStdin, options.adminTokenFile, 'admin-token'),
  };
}

export async function createContext(options: GlobalOptions, deps: ContextDeps = {}): Promise<CliContext> {
  const env = deps.env ?? process.env;
  const stdin = deps.stdin ?? process.stdin;
  const given = await givenSecrets(options, stdin);
  const out = new Output({
    format: options.output,
    color: options.color && !env.NO_COLOR,
    quiet: options.quiet,
    verbose: options.verbose,
    stdout: deps.stdout,
    stderr: deps.stderr,
  });
  const profiles = deps.profiles ?? new ProfileStore(defaultConfigDir(env));
  const settings = resolveSettings({ ...options, ...given }, env, profiles);
  const interactive = Boolean(stdin.isTTY) && Boolean(out.stdout.isTTY) && !env.CI;
  const prompt =
    deps.prompt ?? (interactive ? terminalPrompter : refusingPrompter(() => 'the matching flag (see --help)'));
  const makeClient = deps.client ?? ((clientOptions: ClientOptions) => new GatewayClient(clientOptions));
  let embedded: RunningGateway | undefined;
  let client: Promise<GatewayClient> | undefined;
  let interruption: AbortController | undefined;

  const connect = async (): Promise<GatewayClient> => {
    if (settings.embedded) {
      embedded = await startEmbedded(settings, profiles, out);
      out.debug(`embedded gateway on ${embedded.url} over ${settings.dataDir}`);
    }
    const url = embedded?.url ?? settings.url;
    if (!url) {
      throw new CliError(
        `profile '${settings.profileName}' has no gateway URL`,
        ExitCode.usage,
        'pass --url, set EMBCTL_URL, or `embctl profile set url URL`',
      );
    }
    return makeClient({
      url,
      apiKey: settings.apiKey,
      adminToken: settings.adminToken,
      timeoutMs: settings.timeoutMs,
      sources: embedded ? {} : settings.sources,
    });
  };

  const host = deps.host ?? realProcess;
  return {
    out,
    given,
    host,
    profiles,
    settings,
    interactive,
    prompt,
    yes: options.yes,
    env,
    stdin,
    client: () => (client ??= connect()),
    interrupted() {
      if (!interruption) {
        const controller = new AbortController();
        interruption = controller;
        host.onStopSignal((signal) => controller.abort(signal));
      }
      return interruption.signal;
    },
    async close() {
      if (client) await (await client.catch(() => undefined))?.close();
      await embedded?.close();
    },
  };
}

/**
 * The typed HTTP client the CLI uses for the gateway (or any OpenAI-compatible server). The one
 * place where HTTP failures become typed CLI errors with exit codes and next steps.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ApiKeyView } from '../core/api-key.js';
import type { EmbeddingModelEntity } from '../core/entity.js';
import type { StoredLogRow, UsageRow } from '../core/request-log.js';
import { CliError, ExitCode, exitCodeForStatus, type OpenAIErrorBody } from '../core/errors.js';
import { retryAfterMs } from '../core/retry.js';

export interface UsageReport {
  object: 'usage';
  since: string | null;
  until: string;
  group_by: string[];
  data: UsageRow[];
  totals: Omit<UsageRow, 'model' | 'key' | 'day' | 'provider' | 'entity'>;
}

export interface CacheReport {
  object: 'cache';
  entities: {
    entity_id: string;
    enabled: boolean;
    scope: 'entity' | 'key' | null;
    ttl_s: number | null;
    entries: number;
    bytes: number;
  }[];
  totals: { entries: number; bytes: number };
  bounds: { max_entries: number; max_bytes: number; memory_bytes: number };
  last_24h: { inputs: number; cached_inputs: number; hit_rate: number; tokens_saved: number; cost_saved_usd: number };
  this_gateway: { instance: string; memory_entries: number; memory_bytes: number } & Record<string, number | string>;
}

export interface GatewayStatus {
  version: string;
  uptime_s: number;
  started_at: string;
  store: { kind: string; location: string; schema_version: number; reachable: boolean };
  entities: { total: number; enabled: number };
  keys: { total: number; active: number };
  pid: number;
  /** The gateway that answered, and every gateway on its store seen in the last 30 s. */
  instance: string;
  instances: { instance: string; version: string; pid: number; started_at: string; seen_s_ago: number }[];
}

/** An entity as the admin API returns it: redacted, with its timestamps. */
export type StoredEntityView = EmbeddingModelEntity & { created_at: string; updated_at: string; unreadable?: string };

export interface EmbeddingsBody {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface ModelInfo {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  dimensions?: number | null;
  entity?: string;
  model?: string;
  /** USD per million input tokens, as the gateway charges it (null: unknown). */
  price_per_million_tokens?: number | null;
}

export interface ClientOptions {
  url: string;
  apiKey?: string | undefined;
  adminToken?: string | undefined;
  timeoutMs?: number;
  /** The transport; tests pass undici's MockAgent. */
  dispatcher?: Dispatcher;
  /** Where the URL and credentials came from ("profile 'prod'", "EMBCTL_URL"): errors they cause name it. */
  sources?: Partial<Record<'url' | 'apiKey' | 'adminToken', string>>;
}

export interface Sent<T> {
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

type Query = Record<string, string | number | boolean | undefined>;

function queryString(query: Query | undefined): string {
  const pairs = Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== '');
  return pairs.length
    ? `?${new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
    : '';
}

type Auth = 'api-key' | 'admin' | 'none';

interface RequestOptions {
  body?: unknown;
  /** A body sent as it comes (an upload), instead of `body` as JSON. */
  stream?: { body: Readable; contentType: string };
  auth?: Auth;
  headers?: Record<string, string>;
}

/** A stored file as `/v1/files` describes it. */
export interface FileView {
  id: string;
  bytes: number;
  filename: string;
  purpose: string;
  status: string;
  created_at: number;
  expires_at: number | null;
}

/** A batch job as `/v1/batches` describes it (OpenAI's shape, and the gateway's `note`). */
export interface BatchView {
  id: string;
  status: string;
  input_file_id: string;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  completed_at: number | null;
  expires_at: number;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  errors: { data: { code: string; message: string; line: number | null }[] } | null;
  note: string | null;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

const HINTS: Record<number, string> = {
  401:
    'check the key: --api-key / --admin-token, EMBCTL_API_KEY / EMBCTL_ADMIN_TOKEN, or the profile (`embctl ' +
    'profile show`)',
  403: 'the credential is valid but not allowed here; see the message for the rule that refused it',
  412: 'someone changed it since you read it: read it again and retry',
  429: 'slow down or wait for the limit to reset (see retry-after)',
  502: 'the gateway reached its upstream but the upstream failed; `embctl logs list --status 5xx` shows the details',
  503: 'the gateway or its upstream is unavailable; retry shortly',
};

/** Hints by the gateway's error code, where the status alone would mislead ("retry shortly" for a typo). */
const CODE_HINTS: Record<string, string> = {
  provider_misconfigured:
    "an operator must fix the embedding model's connection (`embctl models get ID`): set the variable in the " +
    "gateway's environment or the token (`embctl models update ID --token …`); retrying will not help",
  upstream_not_found:
    "the upstream has no such model or path: check the entity's base_url and model (`embctl models get ID`)",
  upstream_auth_failed:
    "the upstream refused the gateway's token: an operator must update it (`embctl models update ID --token …`)",
  entity_unreadable: 'restate its credentials (`embctl models update ID --token …`) or delete it',
  model_disabled: 'an operator can enable it: `embctl models enable ID`; `embctl models list` shows what is enabled',
  insufficient_quota:
    "the key's budget is spent until it resets (see the message); raise it with `embctl keys update KEY --budget-day …`",
  tokens_exceed_rate_limit:
    "send fewer or shorter inputs per request (--batch-size, --max-batch-tokens), or raise the key's --tpm",
  model_not_found: 'list the models you may use with `embctl models list` (or GET /v1/models)',
  model_not_allowed:
    "the message names the pattern that refused the model; `embctl keys get KEY` shows a key's patterns and " +
    '`embctl keys constrain KEY --include …` changes them (or use a model it allows: GET /v1/models lists them)',
  ambiguous_model: 'name the entity too: ENTITY/MODEL (the message lists them)',
  duplicate_id: 'change it with `embctl models update ID` (or `embctl models apply -f FILE`), or choose another --id',
};

/** What to list when something is not found: the thing that was asked for, not always models. */
function notFoundHint(target: string): string {
  if (target.includes('/v1/request-logs'))
    return "list recent calls with `embctl logs list` (ids are the calls' x-request-id)";
  if (target.includes('/v1/api-keys')) return 'list the keys with `embctl keys list`';
  return 'list what exists with `embctl models list`';
}

// Loaded on the first request: `--help`, `profile` and completion never pay for it.
const undici = () => import('undici');

export class GatewayClient {
  readonly url: string;
  private dispatcher: Dispatcher | undefined;

  constructor(private readonly options: ClientOptions) {
    // `https://api.openai.com/v1` and `http://localhost:11434/v1` are how people write such URLs.
    this.url = options.url.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.dispatcher = options.dispatcher;
  }

  private async transport(): Promise<Dispatcher> {
    if (!this.dispatcher) {
      const { Agent } = await undici();
      const timeout = this.options.timeoutMs ?? 60_000;
      this.dispatcher = new Agent({
        keepAliveTimeout: 10_000,
        connectTimeout: Math.min(timeout, 10_000),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    }
    return this.dispatcher;
  }

  async call<T>(method: Dispatcher.HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.send<T>(method, path, options)).body;
  }

  /** Sends a request and returns the parsed JSON body and headers, or throws a CliError with the right exit code. */
  async send<T>(method: Dispatcher.HttpMethod, path: string, options: RequestOptions = {}): Promise<Sent<T>> {
    const target = `${this.url}${path}`;
    const response = await this.open(method, path, options);
    const text = await response.body.text();
    try {
      return { body: (text ? JSON.parse(text) : undefined) as T, headers: response.headers };
    } catch {
      throw new CliError(
        `${target} answered ${response.statusCode} with a body that is not JSON`,
        ExitCode.failure,
        'is --url pointing at an embeddings gateway?',
      );
    }
  }

  /** Sends a request; the response once its status is a success (its body unread), or the typed error. */
  private async open(
    method: Dispatcher.HttpMethod,
    path: string,
    options: RequestOptions,
  ): Promise<Dispatcher.ResponseData> {
    const target = `${this.url}${path}`;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const token =
      options.auth === 'admin' ? this.options.adminToken : options.auth === 'none' ? undefined : this.options.apiKey;
    if (options.auth === 'admin' && !token) {
      throw new CliError(
        'this command needs the admin token, and none is set',
        ExitCode.auth,
        'pass --admin-token, set EMBCTL_ADMIN_TOKEN, or store it with `embctl profile set adminToken`',
      );
    }
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.stream) headers['content-type'] = options.stream.contentType;
    let response: Dispatcher.ResponseData;
    try {
      const { request } = await undici();
      response = await request(target, {
        method,
        headers,
        body: options.stream?.body ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
        dispatcher: await this.transport(),
      });
    } catch (error) {
      throw this.transportError(error, target);
    }
    if (response.statusCode >= 400)
      throw this.httpError(
        response.statusCode,
        await response.body.text(),
        target,
        method,
        String(response.headers['x-request-id'] ?? ''),
        retryAfterMs(response.headers),
        response.headers['x-should-retry'] !== 'false',
        options.auth ?? 'api-key',
      );
    return response;
  }

  /** Uploads a file for the Batch API (`purpose=batch`), streamed from disk as multipart. */
  uploadFile(path: string, filename: string): Promise<FileView> {
    const boundary = `embctl-${randomBytes(12).toString('hex')}`;
    const safeName = filename.replace(/["\r\n\\]/g, '_');
    async function* multipart() {
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\n` +
          `Content-Disposition: form-data; name="file"; filename="${safeName}"\r\nContent-Type: application/jsonl\r\n\r\n`,
      );
      yield* createReadStream(path) as AsyncIterable<Buffer>;
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    return this.call('POST', '/v1/files', {
      stream: { body: Readable.from(multipart()), contentType: `multipart/form-data; boundary=${boundary}` },
    });
  }

  /** A stored file's lines, streamed (a batch's output can be far larger than memory). */
  async *fileLines(id: string): AsyncGenerator<string> {
    const response = await this.open('GET', `/v1/files/${encodeURIComponent(id)}/content`, {
      headers: { accept: 'application/jsonl' },
    });
    for await (const line of createInterface({ input: response.body, crlfDelay: Number.POSITIVE_INFINITY }))
      if (line) yield line;
  }

  createBatch(body: { input_file_id: string; metadata?: Record<string, string> }): Promise<BatchView> {
    return this.call('POST', '/v1/batches', {
      body: { ...body, endpoint: '/v1/embeddings', completion_window: '24h' },
    });
  }

  getBatch(id: string): Promise<BatchView> {
    return this.call('GET', `/v1/batches/${encodeURIComponent(id)}`);
  }

  listBatches(query: { after?: string; limit?: number }): Promise<{ data: BatchView[]; has_more: boolean }> {
    return this.call('GET', `/v1/batches${queryString(query)}`);
  }

  cancelBatch(id: string): Promise<BatchView> {
    return this.call('POST', `/v1/batches/${encodeURIComponent(id)}/cancel`);
  }

  embeddings(body: EmbeddingsBody): Promise<EmbeddingsResponse> {
    return this.call('POST', '/v1/embeddings', { body });
  }

  /** One model as routed for this key: what a request naming it would reach, without spending a token. */
  model(name: string): Promise<ModelInfo> {
    return this.call('GET', `/v1/models/${encodeURIComponent(name)}`);
  }

  async models(): Promise<ModelInfo[]> {
    return (await this.call<{ data: ModelInfo[] }>('GET', '/v1/models')).data;
  }

  health(): Promise<{ status: string; version: string; uptime_s: number }> {
    return this.call('GET', '/healthz', { auth: 'none' });
  }

  // The admin API: embedding models, API keys, request logs, usage.

  /** Mints or signs with the entity's credentials, spending no tokens. */
  checkCredentials(id: string): Promise<{ id: string; credential: string; ok: boolean; detail: string }> {
    return this.call('POST', `/v1/embedding-models/${encodeURIComponent(id)}/check`, { auth: 'admin' });
  }

  listEntities(query?: Query): Promise<StoredEntityView[]> {
    return this.call('GET', `/v1/embedding-models${queryString({ limit: 1000, ...query })}`, { auth: 'admin' });
  }

  async getEntity(id: string): Promise<{ entity: StoredEntityView; etag: string | undefined }> {
    const sent = await this.send<StoredEntityView>('GET', `/v1/embedding-models/${encodeURIComponent(id)}`, {
      auth: 'admin',
    });
    return { entity: sent.body, etag: typeof sent.headers.etag === 'string' ? sent.headers.etag : undefined };
  }

  createEntity(entity: unknown): Promise<StoredEntityView> {
    return this.call('POST', '/v1/embedding-models', { auth: 'admin', body: entity });
  }

  /** `keepCredentials`: the write may send the stored credentials to a new base URL or provider. */
  replaceEntity(id: string, entity: unknown, etag?: string, keepCredentials = false): Promise<StoredEntityView> {
    return this.call('PUT', entityPath(id, keepCredentials), {
      auth: 'admin',
      body: entity,
      headers: etag ? { 'if-match': etag } : {},
    });
  }

  patchEntity(id: string, patch: unknown, etag?: string, keepCredentials = false): Promise<StoredEntityView> {
    return this.call('PATCH', entityPath(id, keepCredentials), {
      auth: 'admin',
      body: patch,
      headers: etag ? { 'if-match': etag } : {},
    });
  }

  deleteEntity(id: string): Promise<{ deleted: boolean; id: string }> {
    return this.call('DELETE', `/v1/embedding-models/${encodeURIComponent(id)}`, { auth: 'admin' });
  }

  listKeys(): Promise<ApiKeyView[]> {
    return this.call('GET', '/v1/api-keys?limit=1000', { auth: 'admin' });
  }

  getKey(id: string): Promise<ApiKeyView> {
    return this.call('GET', `/v1/api-keys/${encodeURIComponent(id)}`, { auth: 'admin' });
  }

  createKey(body: unknown): Promise<ApiKeyView & { secret: string }> {
    return this.call('POST', '/v1/api-keys', { auth: 'admin', body });
  }

  patchKey(id: string, patch: unknown): Promise<ApiKeyView> {
    return this.call('PATCH', `/v1/api-keys/${encodeURIComponent(id)}`, { auth: 'admin', body: patch });
  }

  revokeKey(id: string): Promise<ApiKeyView> {
    return this.call('POST', `/v1/api-keys/${encodeURIComponent(id)}/revoke`, { auth: 'admin' });
  }

  deleteKey(id: string): Promise<{ deleted: boolean; id: string }> {
    return this.call('DELETE', `/v1/api-keys/${encodeURIComponent(id)}`, { auth: 'admin' });
  }

  logs(query: Query): Promise<{ object: 'list'; data: StoredLogRow[]; next_cursor: string | null; has_more: boolean }> {
    return this.call('GET', `/v1/request-logs${queryString(query)}`, { auth: 'admin' });
  }

  log(id: string): Promise<StoredLogRow> {
    return this.call('GET', `/v1/request-logs/${encodeURIComponent(id)}`, { auth: 'admin' });
  }

  usage(query: Query): Promise<UsageReport> {
    return this.call('GET', `/v1/usage${queryString(query)}`, { auth: 'admin' });
  }

  cacheStats(entity?: string): Promise<CacheReport> {
    return this.call('GET', `/v1/cache${queryString({ entity })}`, { auth: 'admin' });
  }

  clearCache(entity?: string): Promise<{ object: 'cache.cleared'; entity_id: string | null; deleted: number }> {
    return this.call('DELETE', `/v1/cache${queryString({ entity })}`, { auth: 'admin' });
  }

  status(): Promise<GatewayStatus> {
    return this.call('GET', '/v1/status', { auth: 'admin' });
  }

  rotateAdminToken(): Promise<{ admin_token: string; note: string }> {
    return this.call('POST', '/v1/admin-token', { auth: 'admin' });
  }

  /**
   * The live log stream (Server-Sent Events), resuming after `lastEventId`. Yields rows until the
   * stream ends or `signal` aborts; transport failures throw the usual typed errors.
   */
  async *streamLogs(
    query: Query,
    lastEventId: string | undefined,
    signal: AbortSignal,
    /** Called once the gateway has answered: from then on no new row is missed. */
    onOpen?: () => void,
  ): AsyncGenerator<StoredLogRow & { eventId: string }> {
    const { request } = await undici();
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.url}/v1/request-logs/stream${queryString(query)}`, {
        method: 'GET',
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${this.options.adminToken ?? ''}`,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        dispatcher: await this.transport(),
        signal,
        bodyTimeout: 0,
      });
    } catch (error) {
      if (signal.aborted) return;
      throw this.transportError(error, `${this.url}/v1/request-logs/stream`);
    }
    if (response.statusCode >= 400)
      throw this.httpError(
        response.statusCode,
        await response.body.text(),
        `${this.url}/v1/request-logs/stream`,
        'GET',
        String(response.headers['x-request-id'] ?? ''),
        undefined,
        true,
        'admin',
      );
    onOpen?.();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | undefined;
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data && id) yield { ...(JSON.parse(data) as StoredLogRow), eventId: id };
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw this.transportError(error, `${this.url}/v1/request-logs/stream`);
    }
  }

  async close(): Promise<void> {
    await this.dispatcher?.close();
  }

  /** A refused credential that came from a profile or the environment: say which, and how to replace it there. */
  private refusedCredentialHint(auth: Auth): string | undefined {
    const field = auth === 'admin' ? 'adminToken' : 'apiKey';
    const source = this.options.sources?.[field];
    if (!source) return undefined;
    const what = auth === 'admin' ? 'admin token' : 'API key';
    const profile = /^profile '(.+)'$/.exec(source)?.[1];
    return profile
      ? `the ${what} came from profile '${profile}': replace it with \`embctl --profile ${profile} profile set ` +
          `${field} -\` (reads stdin), or pass another one`
      : `the ${what} came from ${source}: check its value`;
  }

  /** " (from profile 'prod')" after the URL, when it came from somewhere the user may not be looking. */
  private get urlOrigin(): string {
    const source = this.options.sources?.url;
    return source && source !== '--url' ? ` (from ${source})` : '';
  }

  transportError(error: unknown, target: string): CliError {
    const code = (error as { code?: string }).code ?? '';
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? '';
    const reason = code || cause || (error as Error).message;
    if (TIMEOUT_CODES.has(code)) {
      return new CliError(
        `the gateway at ${this.url}${this.urlOrigin} did not answer in time (${reason})`,
        ExitCode.unreachable,
        'raise --timeout, or check the gateway with `embctl doctor`',
      );
    }
    if (UNREACHABLE_CODES.has(code) || UNREACHABLE_CODES.has(cause)) {
      return new CliError(
        `cannot reach the gateway at ${this.url}${this.urlOrigin} (${reason})`,
        ExitCode.unreachable,
        'start it with `embctl gateway start`, or check --url / EMBCTL_URL / the profile (`embctl profile show`)',
      );
    }
    return new CliError(`request to ${target} failed: ${(error as Error).message}`, ExitCode.unreachable);
  }

  httpError(
    status: number,
    text: string,
    target: string,
    method: string,
    requestId: string,
    retryAfter: number | undefined,
    /** False when the gateway said `x-should-retry: false`: the same request can never succeed. */
    mayRetry = true,
    auth: Auth = 'api-key',
  ): CliError {
    let body: Partial<OpenAIErrorBody> | undefined;
    try {
      body = JSON.parse(text) as Partial<OpenAIErrorBody>;
    } catch {
      body = undefined;
    }
    const apiError = body?.error;
    const message =
      apiError?.message ?? `${method} ${target} answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    const exitCode = apiError?.code === 'duplicate_id' ? ExitCode.conflict : exitCodeForStatus(status);
    const hint =
      (status === 401 ? this.refusedCredentialHint(auth) : undefined) ??
      (apiError?.code ? CODE_HINTS[apiError.code] : undefined) ??
      (status === 404 ? notFoundHint(target) : HINTS[status]);
    return new CliError(message, exitCode, hint, {
      status,
      requestId,
      method,
      url: target,
      code: apiError?.code ?? null,
      param: apiError?.param ?? null,
      ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
      ...(mayRetry ? {} : { shouldRetry: false }),
    });
  }
}

const entityPath = (id: string, keepCredentials: boolean) =>
  `/v1/embedding-models/${encodeURIComponent(id)}${keepCredentials ? '?keep_credentials=true' : ''}`;

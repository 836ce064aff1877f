/**
 * Errors shared by the gateway and the CLI.
 *
 * The gateway speaks OpenAI's error shape `{error:{message,type,param,code}}`; the CLI maps every
 * failure to one of the documented exit codes. Both sides use the same kinds so that an HTTP status
 * seen by the client turns into the exit code a script expects.
 */

export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'rate_limited'
  | 'quota_exhausted'
  | 'upstream'
  | 'unavailable'
  | 'timeout'
  | 'internal';

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  rate_limited: 429,
  // Not OpenAI's 429: a spent budget cannot be waited out by a live call, and 402 is a status that
  // every client library treats as final (LangChain, the Vercel AI SDK, the openai SDKs).
  quota_exhausted: 402,
  upstream: 502,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

/** OpenAI's `error.type` values, extended with the gateway's own where OpenAI has none. */
const TYPE_BY_KIND: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'invalid_request_error',
  conflict: 'invalid_request_error',
  precondition_failed: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  quota_exhausted: 'insufficient_quota',
  upstream: 'upstream_error',
  unavailable: 'server_error',
  timeout: 'timeout_error',
  internal: 'server_error',
};

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface ApiErrorOptions {
  param?: string | null;
  code?: string | null;
  /** Extra response headers, e.g. `retry-after` on 429. */
  headers?: Record<string, string>;
}

/** A failure the gateway reports to its caller. `message` is written for a person: what, which value, what next. */
export class ApiError extends Error {
  readonly status: number;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    readonly kind: ErrorKind,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = STATUS_BY_KIND[kind];
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: TYPE_BY_KIND[this.kind], param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError('invalid_request', message, { param, code });

/** Exit codes documented for the CLI (PRODUCT.md, "The CLI"). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  conflict: 5,
  unreachable: 6,
  rateLimited: 7,
  /** Ctrl-C (SIGINT) or SIGTERM: the shell's convention, 128 + SIGINT. */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Maps an HTTP status from the gateway (or any OpenAI-compatible server) to the CLI's exit code. */
export function exitCodeForStatus(status: number): ExitCodeValue {
  if (status === 401 || status === 403) return ExitCode.auth;
  if (status === 404) return ExitCode.notFound;
  if (status === 409 || status === 412) return ExitCode.conflict;
  if (status === 429 || status === 402) return ExitCode.rateLimited;
  if (status === 504) return ExitCode.unreachable;
  return ExitCode.failure;
}

/**
 * A failure the CLI reports to a person: one line of what went wrong (naming the value at fault),
 * an optional hint saying what to do next, and the exit code.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.failure,
    readonly hint?: string,
    /** Shown with --verbose only: request id, HTTP status, URL. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, hint?: string) => new CliError(message, ExitCode.usage, hint);

/** The user stopped the command: one quiet line, exit 130. */
export const interruptedError = (what: string, hint?: string) =>
  new CliError(`interrupted: ${what}`, ExitCode.interrupted, hint);

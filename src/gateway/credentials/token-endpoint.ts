/**
 * OAuth token endpoints (Google's `token_uri`, Entra ID's `/oauth2/v2.0/token`): a form POST that
 * answers `{access_token, expires_in}`. Failures name the endpoint and what it said (its `error`
 * and `error_description`), never what was sent.
 */
import { request, type Dispatcher } from 'undici';
import type { Minted } from './minted-token.js';
import { CredentialError } from './types.js';

const TOKEN_TIMEOUT_MS = 10_000;
const MAX_TOKEN_BODY = 64 * 1024;

function describe(body: unknown): string {
  if (body === null || typeof body !== 'object') return '';
  const { error, error_description: description } = body as { error?: unknown; error_description?: unknown };
  const parts = [error, description].filter((p): p is string => typeof p === 'string');
  return parts.length ? `: ${parts.join(' — ').slice(0, 300)}` : '';
}

export async function fetchToken(
  url: string,
  form: Record<string, string>,
  pool: Dispatcher,
  now: () => number,
  signal?: AbortSignal,
): Promise<Minted> {
  const where = new URL(url);
  const endpoint = `${where.origin}${where.pathname}`;
  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      dispatcher: pool,
      headersTimeout: TOKEN_TIMEOUT_MS,
      bodyTimeout: TOKEN_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    throw new CredentialError(
      `the token endpoint ${endpoint} could not be reached (${(error as { code?: string }).code ?? (error as Error).message})`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_TOKEN_BODY) {
      response.body.destroy();
      throw new CredentialError(`the token endpoint ${endpoint} sent an answer larger than 64 KiB`);
    }
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    body = undefined;
  }
  if (response.statusCode !== 200)
    throw new CredentialError(
      `the token endpoint ${endpoint} refused the credentials (HTTP ${response.statusCode}${describe(body)})`,
      response.statusCode >= 400 && response.statusCode < 500,
    );
  const { access_token: token, expires_in: expiresIn } = (body ?? {}) as {
    access_token?: unknown;
    expires_in?: unknown;
  };
  const seconds = typeof expiresIn === 'string' ? Number(expiresIn) : expiresIn;
  if (typeof token !== 'string' || token === '' || typeof seconds !== 'number' || !(seconds > 0))
    throw new CredentialError(`the token endpoint ${endpoint} answered without an access_token and expires_in`);
  return { token, expiresAt: now() + seconds * 1000 };
}

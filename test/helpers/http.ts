/** Small HTTP helpers for tests that speak to the gateway directly. */
import { request } from 'undici';
import { injectedApp } from './inject.js';

export interface JsonResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export async function call<T = any>(
  method: string,
  url: string,
  options: { token?: string; authorization?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.authorization) headers.authorization = options.authorization;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const app = injectedApp(url);
  if (app) {
    const { pathname, search } = new URL(url);
    const injected = await app.inject({
      method: method as 'GET',
      url: pathname + search,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    return {
      status: injected.statusCode,
      headers: injected.headers,
      body: injected.body ? (JSON.parse(injected.body) as T) : (undefined as T),
    };
  }
  const response = await request(url, {
    method: method as 'GET',
    headers,
    body: payload,
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    body: text ? (JSON.parse(text) as T) : (undefined as T),
  };
}

export function embeddingsCall(url: string, token: string, body: unknown) {
  return call('POST', `${url}/v1/embeddings`, { token, body });
}

/** An `openai` entity `id` in front of a fake upstream, created through the admin API. */
export async function createOpenAiEntity(gatewayUrl: string, adminToken: string, id: string, fakeUrl: string) {
  const created = await call('POST', `${gatewayUrl}/v1/embedding-models`, {
    token: adminToken,
    body: {
      id,
      provider: 'openai',
      config: {
        connection: { base_url: `${fakeUrl}/v1`, token: 'sk-upstream-secret-0123456789' },
        options: { model: 'text-embedding-3-small' },
      },
    },
  });
  if (created.status !== 201) throw new Error(`creating '${id}' failed: ${JSON.stringify(created.body)}`);
}

/**
 * Bad input never crashes the gateway and never leaks internals: each malformed request gets the
 * documented status and OpenAI error fields, and the next valid request is still served.
 */
import http from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';

let gateway: SpawnedGateway;
beforeAll(async () => {
  gateway = await spawnGateway();
});
afterAll(async () => {
  await gateway.stop();
});

interface Case {
  name: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  auth?: 'key' | 'none' | 'admin' | string;
  status: number;
  type: string;
  param?: string | null;
  code: string | null;
}

const json = (value: unknown) => JSON.stringify(value);
const ok = { model: 'local/hash-384-v1', input: 'hello' };
const with_ = (extra: Record<string, unknown>) => json({ ...ok, ...extra });
const bad = (
  name: string,
  body: string | Buffer,
  param: string | null,
  code: string,
  extra: Partial<Case> = {},
): Case => ({
  name,
  body,
  status: 400,
  type: 'invalid_request_error',
  param,
  code,
  ...extra,
});

const cases: Case[] = [
  bad('malformed JSON', '{"model": "x", ', null, 'invalid_json'),
  bad('empty body', '', null, 'invalid_json'),
  bad('body is an array', json([ok]), null, 'invalid_body'),
  bad('body is a string', json('hello'), null, 'invalid_body'),
  bad('body is null', 'null', null, 'invalid_body'),
  bad('missing model', json({ input: 'x' }), 'model', 'missing_required_parameter'),
  bad('model is null', with_({ model: null }), 'model', 'missing_required_parameter'),
  bad('model is a number', with_({ model: 42 }), 'model', 'invalid_type'),
  bad('missing input', json({ model: ok.model }), 'input', 'missing_required_parameter'),
  bad('input is null', with_({ input: null }), 'input', 'missing_required_parameter'),
  bad('input is an empty string', with_({ input: '' }), 'input', 'empty_input'),
  bad('input is an empty array', with_({ input: [] }), 'input', 'empty_input'),
  bad('an empty string in a batch', with_({ input: ['a', ''] }), 'input', 'empty_input'),
  bad('a null in a batch', with_({ input: ['a', null] }), 'input', 'invalid_type'),
  bad('an object as input', with_({ input: { text: 'a' } }), 'input', 'invalid_type'),
  bad('nested string arrays', with_({ input: [['a']] }), 'input', 'invalid_token'),
  bad('arrays nested three deep', with_({ input: [[[1]]] }), 'input', 'invalid_token'),
  bad('a huge token id', with_({ input: [1e308] }), 'input', 'invalid_token'),
  bad('a negative token id', with_({ input: [[-1]] }), 'input', 'invalid_token'),
  bad('a fractional token id', with_({ input: [1.5] }), 'input', 'invalid_token'),
  bad('2049 inputs', with_({ input: Array(2049).fill('a') }), 'input', 'too_many_inputs'),
  bad('one input over 8192 tokens', with_({ input: [Array(8193).fill(100)] }), 'input', 'context_length_exceeded'),
  bad(
    'over 300 000 tokens in a request',
    with_({ input: Array(40).fill(Array(8000).fill(100)) }),
    'input',
    'max_tokens_per_request',
  ),
  bad('unknown encoding_format', with_({ encoding_format: 'int8' }), 'encoding_format', 'invalid_value'),
  bad('dimensions zero', with_({ dimensions: 0 }), 'dimensions', 'invalid_value'),
  bad('dimensions fractional', with_({ dimensions: 1.5 }), 'dimensions', 'invalid_value'),
  bad('dimensions as a string', with_({ dimensions: '8' }), 'dimensions', 'invalid_value'),
  bad('dimensions beyond the model', with_({ dimensions: 99_999 }), 'dimensions', 'unsupported_model'),
  bad('user as a number', with_({ user: 7 }), 'user', 'invalid_type'),
  bad('an unknown field', with_({ temperature: 0.2 }), 'temperature', 'unknown_parameter'),
  bad(
    'non-UTF-8 bytes',
    Buffer.concat([Buffer.from('{"model":"local","input":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
    null,
    'invalid_encoding',
  ),
  bad('text/plain content type', json(ok), null, 'unsupported_content_type', {
    headers: { 'content-type': 'text/plain' },
  }),
  bad('form content type', 'model=x&input=y', null, 'unsupported_content_type', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  }),
  bad('a model that is an empty string', with_({ model: '' }), 'model', 'missing_required_parameter'),
  {
    name: 'no API key',
    body: json(ok),
    auth: 'none',
    status: 401,
    type: 'authentication_error',
    code: 'missing_api_key',
  },
  {
    name: 'a wrong API key',
    body: json(ok),
    auth: 'emb_not-a-real-key',
    status: 401,
    type: 'authentication_error',
    code: 'invalid_api_key',
  },
  {
    name: 'the admin token as an API key',
    body: json(ok),
    auth: 'admin',
    status: 401,
    type: 'authentication_error',
    code: 'invalid_api_key',
  },
  {
    name: 'an unknown model',
    body: with_({ model: 'text-embedding-3-small' }),
    status: 404,
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
  },
];

async function post(body: string | Buffer, headers: Record<string, string> = {}, auth: Case['auth'] = 'key') {
  const authorization =
    auth === 'key' ? gateway.apiKey : auth === 'admin' ? gateway.adminToken : auth === 'none' ? undefined : auth;
  const response = await request(`${gateway.url}/v1/embeddings`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization: `Bearer ${authorization}` } : {}),
      ...headers,
    },
    body,
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text };
}

describe('malformed requests', () => {
  it('has at least 25 cases', () => expect(cases.length).toBeGreaterThanOrEqual(25));

  it.each(cases)('$name → $status $code', async (c) => {
    const response = await post(c.body, c.headers, c.auth);
    expect(response.status).toBe(c.status);
    expect(response.headers['x-request-id']).toMatch(/^req_[0-9a-f]{24}$/);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(response.text) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error.type).toBe(c.type);
    expect(body.error.code).toBe(c.code);
    if (c.param !== undefined) expect(body.error.param).toBe(c.param);
    expect(response.text).not.toMatch(/\bat .+\.(js|ts):\d+|node_modules|Error:/);

    const next = await post(json(ok));
    expect(next.status).toBe(200);
  });

  it('refuses a body over the size limit with 413 before reading it, and keeps serving', async () => {
    // Declares 9 MiB and sends 1 KiB: the gateway must answer from the Content-Length alone.
    const url = new URL(`${gateway.url}/v1/embeddings`);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': 9 * 1024 * 1024,
            authorization: `Bearer ${gateway.apiKey}`,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, body: text });
          });
        },
      );
      req.on('error', reject);
      req.write(`{"model":"local","input":"${'x'.repeat(1024)}`);
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { type: 'invalid_request_error', code: 'request_too_large' },
    });
    expect((await post(json(ok))).status).toBe(200);
  });

  it('answers unknown routes in the same shape, with a request id', async () => {
    const response = await request(`${gateway.url}/v1/nothing-here`);
    expect(response.statusCode).toBe(404);
    expect(response.headers['x-request-id']).toMatch(/^req_/);
    expect(((await response.body.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
  });

  it('serves the health check without credentials', async () => {
    const response = await request(`${gateway.url}/healthz`);
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({ status: 'ok' });
  });
});

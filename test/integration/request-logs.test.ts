/** Request Logs: one row per call with the right fields, filters, pagination, SSE, usage, cost, metrics. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';
import { connectSse } from '../helpers/sse.js';

let gateway: SpawnedGateway;
let compatible: FakeUpstream;
let gemini: FakeUpstream;
let restricted: { id: string; secret: string };
const SECRET_INPUT = 'the confidential sentence nobody may log 7d1f';
const PRICE = 0.05;

const admin = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call(method, `${gateway.url}${path}`, { token: gateway.adminToken, body, headers });
const embed = (body: Record<string, unknown>, token = gateway.apiKey) => embeddingsCall(gateway.url, token, body);
const requestId = (response: { headers: Record<string, unknown> }) => String(response.headers['x-request-id']);

/** The calls of the mix, by name, with their x-request-id and status. */
const calls: Record<string, { id: string; status: number }> = {};

beforeAll(async () => {
  gateway = await spawnGateway();
  compatible = await startFake(FORMATS['openai-compatible']);
  gemini = await startFake(FORMATS.gemini);
  await admin('POST', '/v1/embedding-models', {
    id: 'priced',
    provider: 'openai-compatible',
    config: { connection: { base_url: `${compatible.url}/v1`, token: TOKEN }, options: { model: 'bge-small' } },
    pricing: { input_per_million_tokens: PRICE },
  });
  await admin('POST', '/v1/embedding-models', {
    id: 'gem',
    provider: 'gemini-native',
    config: {
      connection: { base_url: `${gemini.url}/v1beta`, token: TOKEN },
      options: { model: 'gemini-embedding-001' },
    },
  });
  restricted = (
    await admin('POST', '/v1/api-keys', { name: 'restricted', metadata: { ai_models_include: 'nothing-.*' } })
  ).body;

  const run = async (name: string, response: Promise<{ status: number; headers: Record<string, unknown> }>) => {
    const r = await response;
    calls[name] = { id: requestId(r), status: r.status };
  };
  await run('single', embed({ model: 'local', input: SECRET_INPUT }));
  await run(
    'batch',
    embed({ model: 'local', input: ['one', 'two', 'three'], encoding_format: 'base64', dimensions: 32 }),
  );
  await run('priced', embed({ model: 'priced', input: ['alpha beta gamma', 'delta'] }));
  await run('estimated', embed({ model: 'gem', input: ['estimate me'] }));
  await run('denied', embed({ model: 'local', input: 'x' }, restricted.secret));
  await run('malformed', embed({ model: 'local', input: '' }));
  await run('unauthenticated', embed({ model: 'local', input: 'x' }, 'emb_wrong'));
  await run('not-found', embed({ model: 'no-such', input: 'x' }));
  compatible.script({ status: 401 });
  // Asked by its full name, the same model as 'priced': usage must still show one row for both.
  await run('upstream-failed', embed({ model: 'priced/bge-small', input: 'x' }));
});
afterAll(async () => {
  await gateway.stop();
  await Promise.all([compatible.close(), gemini.close()]);
});

async function allRows(query = ''): Promise<any[]> {
  const rows: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = (await admin('GET', `/v1/request-logs?limit=3${query}${cursor ? `&cursor=${cursor}` : ''}`)).body;
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

describe('one row per call', () => {
  it('records every call of the mix exactly once, newest first, with its x-request-id', async () => {
    const rows = await allRows();
    expect(rows.map((r) => r.id).sort()).toEqual(
      Object.values(calls)
        .map((c) => c.id)
        .sort(),
    );
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => b - a));
  });

  it('has the right fields for each kind of call', async () => {
    const row = async (name: string) => (await admin('GET', `/v1/request-logs/${calls[name]!.id}`)).body;
    expect(await row('single')).toMatchObject({
      status: 200,
      key_name: 'default',
      requested_model: 'local',
      routed_model: 'local/hash-384-v1',
      resolved_model: 'hash-384-v1',
      entity_id: 'local',
      provider: 'local',
      input_count: 1,
      dimensions: 384,
      encoding: 'float',
      error_code: null,
      cost_usd: 0,
      model_mismatch: false,
      usage_estimated: false,
    });
    expect(await row('batch')).toMatchObject({
      status: 200,
      input_count: 3,
      prompt_tokens: 3,
      dimensions: 32,
      encoding: 'base64',
    });
    const priced = await row('priced');
    expect(priced).toMatchObject({
      status: 200,
      provider: 'openai-compatible',
      entity_id: 'priced',
      resolved_model: 'bge-small-q8',
      prompt_tokens: 4,
      model_mismatch: true,
    });
    expect(priced.cost_usd).toBeCloseTo((4 * PRICE) / 1e6, 12);
    expect(priced.upstream_ms).toBeGreaterThan(0);
    expect(priced.latency_ms).toBeGreaterThanOrEqual(priced.upstream_ms);
    expect(await row('estimated')).toMatchObject({
      status: 200,
      provider: 'gemini-native',
      usage_estimated: true,
      prompt_tokens: 2,
    });
    expect(await row('denied')).toMatchObject({
      status: 403,
      error_code: 'model_not_allowed',
      key_name: 'restricted',
      key_id: restricted.id,
      prompt_tokens: 0,
      cost_usd: 0,
    });
    expect(await row('malformed')).toMatchObject({ status: 400, error_code: 'empty_input', requested_model: 'local' });
    expect(await row('unauthenticated')).toMatchObject({
      status: 401,
      error_code: 'invalid_api_key',
      key_id: null,
      key_name: null,
    });
    expect(await row('not-found')).toMatchObject({
      status: 404,
      error_code: 'model_not_found',
      requested_model: 'no-such',
      routed_model: null,
      resolved_model: null,
    });
    expect(await row('upstream-failed')).toMatchObject({
      status: 502,
      error_code: 'upstream_auth_failed',
      entity_id: 'priced',
      cost_usd: 0,
    });
    expect((await admin('GET', '/v1/request-logs/req_nope')).status).toBe(404);
  });
});

describe('filters and pagination', () => {
  it.each([
    ['&model=local', ['single', 'batch', 'denied', 'malformed', 'unauthenticated']],
    ['&resolved_model=bge-small-q8', ['priced']],
    ['&provider=local', ['single', 'batch']],
    ['&entity=priced', ['priced', 'upstream-failed']],
    ['&key=restricted', ['denied']],
    ['&status=4xx', ['denied', 'malformed', 'unauthenticated', 'not-found']],
    ['&status=401,502', ['unauthenticated', 'upstream-failed']],
    ['&status=2xx&model=priced,gem', ['priced', 'estimated']],
  ])('%s', async (query, expected) => {
    const rows = await allRows(query);
    expect(rows.map((r) => r.id).sort()).toEqual(expected.map((name) => calls[name]!.id).sort());
  });

  it('filters by key id, time and latency', async () => {
    expect((await allRows(`&key=${restricted.id}`)).map((r) => r.id)).toEqual([calls.denied!.id]);
    expect(await allRows('&since=1h')).toHaveLength(Object.keys(calls).length);
    expect(await allRows(`&until=${new Date(Date.now() - 3_600_000).toISOString()}`)).toHaveLength(0);
    const slowest = (await allRows()).reduce((max, r) => Math.max(max, r.latency_ms), 0);
    expect((await allRows(`&min_latency=${slowest}`)).length).toBeGreaterThanOrEqual(1);
  });

  it('refuses a malformed filter naming it', async () => {
    const bad = await admin('GET', '/v1/request-logs?status=6xx');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ param: 'status', code: 'invalid_filter' });
    expect((await admin('GET', '/v1/request-logs?since=yesterday')).body.error.param).toBe('since');
  });

  it('needs the admin token', async () => {
    expect((await call('GET', `${gateway.url}/v1/request-logs`, { token: gateway.apiKey })).status).toBe(403);
  });
});

describe('usage and cost', () => {
  it('sums equal the rows, by model, key and day', async () => {
    const rows = await allRows();
    for (const group of ['model', 'key', 'day']) {
      const usage = (await admin('GET', `/v1/usage?group_by=${group}`)).body;
      const sum = (field: string) => usage.data.reduce((n: number, u: any) => n + u[field], 0);
      expect(sum('requests')).toBe(rows.length);
      expect(sum('errors')).toBe(rows.filter((r) => r.status >= 400).length);
      expect(sum('prompt_tokens')).toBe(rows.reduce((n, r) => n + r.prompt_tokens, 0));
      expect(sum('cost_usd')).toBeCloseTo(
        rows.reduce((n, r) => n + r.cost_usd, 0),
        12,
      );
      expect(usage.totals.requests).toBe(rows.length);
    }
    const byModel = (await admin('GET', '/v1/usage?group_by=model')).body.data;
    // One row per routed model, whether asked as 'priced' or 'priced/bge-small', answered or failed.
    expect(byModel.filter((u: any) => /priced|bge/.test(u.model))).toEqual([
      expect.objectContaining({ model: 'priced/bge-small', requests: 2, errors: 1, prompt_tokens: 4 }),
    ]);
    expect(byModel.find((u: any) => u.model === 'no-such')).toMatchObject({ requests: 1, errors: 1 });
    const byName = await allRows('&model=priced/bge-small');
    expect(byName.map((r) => r.id).sort()).toEqual([calls.priced!.id, calls['upstream-failed']!.id].sort());
    expect((await admin('GET', '/v1/usage?group_by=week')).body.error.param).toBe('group_by');
  });
});

describe('metrics', () => {
  it('exposes requests, errors, tokens, cost, latency and model mismatches in Prometheus text', async () => {
    const response = await fetch(`${gateway.url}/metrics`);
    const labelled = await response.text();
    // Every series carries this gateway's instance label; the assertions below read past it.
    expect(labelled).toMatch(/^embctl_requests_total\{[^}]*instance="[^"]+:\d+"/m);
    const text = labelled
      .replace(/,?instance="[^"]*",?/g, (cut) => (cut.startsWith(',') && cut.endsWith(',') ? ',' : ''))
      .replace(/\{\}/g, '');
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(text).toContain('embctl_requests_total{model="local/hash-384-v1",status_class="2xx"} 2');
    expect(text).toContain('embctl_requests_total{model="unrouted",status_class="4xx"}');
    expect(text).toMatch(/embctl_errors_total\{model="priced\/bge-small",code="upstream_auth_failed"\} 1/);
    expect(text).toContain('embctl_prompt_tokens_total{model="priced/bge-small",estimated="false"} 4');
    expect(text).toContain('embctl_prompt_tokens_total{model="gem/gemini-embedding-001",estimated="true"} 2');
    expect(text).toMatch(/embctl_cost_usd_total\{model="priced\/bge-small"\} 2e-7/);
    expect(text).toContain('embctl_request_duration_seconds_bucket');
    expect(text).toMatch(/^embctl_request_duration_seconds_count\{model="local\/hash-384-v1",status_class="2xx"\} 2$/m);
    expect(text).toMatch(/^embctl_inputs_total\{model="local\/hash-384-v1"\} [1-9]/m);
    expect(text).toMatch(/^embctl_upstream_duration_seconds_count\{model="priced\/bge-small"\} [1-9]/m);
    expect(text).toContain('embctl_model_mismatch_total{model="priced/bge-small",reported="bge-small-q8"} 1');
    expect(text).not.toContain('no-such');
  });
});

describe('live stream (SSE)', () => {
  it('delivers a new row to two clients within a second, filtered, with heartbeats', async () => {
    const headers = { authorization: `Bearer ${gateway.adminToken}` };
    const all = await connectSse(`${gateway.url}/v1/request-logs/stream?heartbeat=1`, headers);
    const failures = await connectSse(`${gateway.url}/v1/request-logs/stream?status=4xx`, headers);
    const ok = await embed({ model: 'local', input: 'streamed' });
    const bad = await embed({ model: 'local', input: '' });
    await all.waitFor((events) => events.some((e) => JSON.parse(e.data).id === requestId(bad)), 1000);
    await failures.waitFor((events) => events.length >= 1, 1000);
    expect(all.events.map((e) => JSON.parse(e.data).id)).toEqual([requestId(ok), requestId(bad)]);
    expect(failures.events.map((e) => JSON.parse(e.data).id)).toEqual([requestId(bad)]);
    expect(all.events[0]!.event).toBe('log');
    await new Promise((r) => setTimeout(r, 1200));
    expect(all.comments).toContain('heartbeat');

    // Resuming from the first event's id replays exactly what came after it.
    const resumed = await connectSse(`${gateway.url}/v1/request-logs/stream`, {
      ...headers,
      'last-event-id': all.events[0]!.id!,
    });
    await resumed.waitFor((events) => events.length >= 1, 1000);
    expect(resumed.events.map((e) => JSON.parse(e.data).id)).toEqual([requestId(bad)]);
    for (const client of [all, failures, resumed]) client.close();
  });
});

describe('never logged', () => {
  it('holds no secret and no input text anywhere in the store files', async () => {
    const files = ['embctl.db', 'embctl.db-wal'].map((f) => join(gateway.env.EMBCTL_DATA_DIR!, f));
    const content = Buffer.concat(
      files.map((f) => {
        try {
          return readFileSync(f);
        } catch {
          return Buffer.alloc(0);
        }
      }),
    );
    for (const secret of [SECRET_INPUT, gateway.apiKey, gateway.adminToken, restricted.secret, TOKEN]) {
      expect(content.includes(Buffer.from(secret)), secret.slice(0, 8)).toBe(false);
    }
  });
});

/**
 * The store contract: every `Store` method, its conflicts, versions, pagination and pruning, run
 * against each engine (SQLite in a data dir, PostgreSQL on a real server) through `openStore`, as
 * the gateway opens them. "Two replicas" are two stores opened on the same data dir or database.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyRecord } from '../../src/core/api-key.js';
import type { EmbeddingModelEntity } from '../../src/core/entity.js';
import type { RequestLogRow } from '../../src/core/request-log.js';
import { openStore } from '../../src/store/open.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { cacheChecksum, isIntact } from '../../src/store/cache-rows.js';
import { CACHE_FILE } from '../../src/store/sqlite/cache-database.js';
import { SQLITE_FILE } from '../../src/store/sqlite/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { StoreConflict, type CacheRow, type Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/cli.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.mjs';

const SECRET_KEY = randomBytes(32).toString('base64');
const TOKEN = 'sk-contract-token-never-stored-in-clear';

interface Engine {
  /** A new empty store location. */
  fresh(): Promise<string>;
  open(location: string): Promise<Store>;
  /** Every byte the engine holds for `location`, to check no secret is stored in clear. */
  dump(location: string): Promise<string>;
  /** Damages every stored cache entry behind the store's back: half torn short, half other bytes. */
  damageCache(location: string): Promise<void>;
  /** Makes entity `id` a `gemini` one, as the release before the gemini split wrote it, and runs that split's migration. */
  rerunGeminiSplit(location: string, id: string): Promise<void>;
}

let postgres: TestPostgres;
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

const onError = () => {};
const ENGINES: Record<string, Engine> = {
  sqlite: {
    fresh: async () => tempDir('store'),
    open: (dataDir) => openStore({ dataDir, env: {}, onError }),
    dump: async (dataDir) =>
      readdirSync(dataDir)
        .map((f) => readFileSync(join(dataDir, f)).toString('latin1'))
        .join('\n'),
    async damageCache(dataDir) {
      const db = new Database(join(dataDir, CACHE_FILE));
      db.prepare('UPDATE embedding_cache SET vector = substr(vector, 1, 4) WHERE rowid % 2 = 0').run();
      db.prepare('UPDATE embedding_cache SET vector = zeroblob(dims * 4) WHERE rowid % 2 = 1').run();
      db.close();
    },
    async rerunGeminiSplit(dataDir, id) {
      const db = new Database(join(dataDir, SQLITE_FILE));
      db.prepare("UPDATE entities SET body = json_set(body, '$.provider', 'gemini') WHERE id = ?").run(id);
      db.exec(MIGRATIONS.find((m) => m.includes("'gemini-native'"))!);
      db.close();
    },
  },
  postgres: {
    fresh: () => postgres.database(),
    open: (url) => openStore({ dataDir: tempDir('unused'), url, env: { EMBCTL_SECRET_KEY: SECRET_KEY }, onError }),
    async dump(url) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const rows: unknown[] = [];
        for (const table of ['entities', 'api_keys', 'settings', 'request_logs'])
          rows.push((await client.query(`SELECT * FROM ${table}`)).rows);
        return JSON.stringify(rows);
      } finally {
        await client.end();
      }
    },
    async damageCache(url) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(
          'UPDATE embedding_cache SET vector = CASE WHEN get_byte(key, 0) % 2 = 0 THEN substring(vector from 1 for 4) ' +
            "ELSE decode(repeat('00', dims * 4), 'hex') END",
        );
      } finally {
        await client.end();
      }
    },
    async rerunGeminiSplit(url, id) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(
          `UPDATE entities SET body = jsonb_set(body::jsonb, '{provider}', '"gemini"')::text WHERE id = $1`,
          [id],
        );
        await client.query(PG_MIGRATIONS.find((m) => m.includes(`'"gemini-native"'`))!);
      } finally {
        await client.end();
      }
    },
  },
};

const entity = (id: string, extra: Partial<EmbeddingModelEntity> = {}): EmbeddingModelEntity =>
  ({
    id,
    name: id,
    provider: 'openai',
    config: { connection: { base_url: 'https://api.openai.com/v1', token: TOKEN }, options: { model: 'm' } },
    ...extra,
  }) as EmbeddingModelEntity;

const key = (id: string, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id,
  name: id,
  hash: `hash-${id}`,
  redacted: 'emb_…abcd',
  enabled: true,
  expires_at: null,
  revoked_at: null,
  metadata: {},
  created_at: '2026-12-01T00:00:00.000Z',
  updated_at: '2026-12-01T00:00:00.000Z',
  ...extra,
});

const logRow = (id: string, at: number, extra: Partial<RequestLogRow> = {}): RequestLogRow => ({
  id,
  created_at: new Date(at).toISOString(),
  key_id: 'key_a',
  key_name: 'a',
  requested_model: 'm',
  routed_model: 'e/m',
  resolved_model: 'm',
  entity_id: 'e',
  provider: 'openai',
  input_count: 2,
  prompt_tokens: 10,
  usage_estimated: false,
  dimensions: 8,
  encoding: 'float',
  status: 200,
  error_code: null,
  latency_ms: 1.5,
  upstream_ms: 1.25,
  cost_usd: 0.000001,
  model_mismatch: false,
  cached_inputs: 0,
  cached_tokens: 0,
  cost_saved_usd: 0,
  batch_id: null,
  ...extra,
});

const NONE_CACHED = { cached_inputs: 0, cached_tokens: 0, cost_saved_usd: 0 };

/** A cache row as the gateway writes it: float32 bytes and their checksum. */
const cacheRow = (id: string, entityId: string, values: number[], expiresAt: number): CacheRow => {
  const vector = Buffer.from(new Float32Array(values).buffer);
  return {
    key: createHash('sha256').update(id).digest(),
    entity_id: entityId,
    model: 'm',
    dims: values.length,
    vector,
    tokens: 3,
    checksum: cacheChecksum('m', vector),
    expires_at: expiresAt,
  };
};

const conflict = async (work: Promise<unknown>) => {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreConflict);
  return error as StoreConflict;
};

/** A batch's output or error file as the runner makes it, and its content read back. */
async function batchFile(store: Store, batchId: string, state: 'done' | 'failed') {
  const file = await store.files.fromBatch({
    id: `file-${batchId}-${state}-${Math.random().toString(36).slice(2)}`,
    owner: 'key-1',
    filename: `${batchId}_${state}.jsonl`,
    created_at: 10,
    expires_at: null,
    batchId,
    state,
  });
  if (!file) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of store.files.chunks(file.id)) parts.push(chunk);
  return { file, text: Buffer.concat(parts).toString('utf8') };
}

describe.each(Object.keys(ENGINES))('the %s store', (name) => {
  const engine = ENGINES[name]!;
  let location: string;
  let store: Store;
  beforeAll(async () => {
    location = await engine.fresh();
    store = await engine.open(location);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('creates, reads, lists, replaces with versions, and deletes entities; credentials sealed at rest', async () => {
    const before = await store.catalogueVersion();
    const created = await store.entities.create(entity('alpha'));
    expect(created).toMatchObject({ id: 'alpha', version: 1 });
    expect(created.config.connection.token).toBe(TOKEN);
    expect((await conflict(store.entities.create(entity('alpha')))).reason).toBe('exists');
    await store.entities.create(entity('beta'));
    expect((await store.entities.list()).map((e) => e.id)).toEqual(['alpha', 'beta']);

    const replaced = await store.entities.replace('alpha', entity('alpha', { name: 'Alpha' }), 1);
    expect(replaced).toMatchObject({ name: 'Alpha', version: 2, created_at: created.created_at });
    const stale = await conflict(store.entities.replace('alpha', entity('alpha'), 1));
    expect(stale).toMatchObject({ reason: 'stale', currentVersion: 2 });
    expect((await conflict(store.entities.replace('nope', entity('nope')))).reason).toBe('missing');
    expect((await conflict(store.entities.delete('alpha', 1))).reason).toBe('stale');
    await store.entities.delete('alpha', 2);
    expect(await store.entities.get('alpha')).toBeUndefined();
    expect((await conflict(store.entities.delete('alpha'))).reason).toBe('missing');
    expect(await store.catalogueVersion()).toBe(before + 4);

    expect(await engine.dump(location)).not.toContain(TOKEN);
    expect((await store.entities.get('beta'))!.config.connection.token).toBe(TOKEN);
  });

  it('files: chunks written as they come, read back in order by any replica, listed per owner with a cursor, pruned', async () => {
    const file = (id: string, owner: string) => ({ id, owner, filename: `${id}.jsonl`, created_at: 1_000 });
    const done = (bytes: number, lines: number, expires_at: number | null = null) => ({
      purpose: 'batch',
      bytes,
      lines,
      expires_at,
    });
    const bytes = randomBytes(3 * 1024 + 7);
    await store.files.begin(file('file-a', 'key-1'));
    expect((await store.files.get('file-a'))!.status).toBe('uploading');
    for (let seq = 0; seq * 1024 < bytes.length; seq++)
      await store.files.append('file-a', seq, bytes.subarray(seq * 1024, (seq + 1) * 1024));
    expect(await store.files.finish('file-a', done(bytes.length, 3))).toMatchObject({
      id: 'file-a',
      owner: 'key-1',
      status: 'processed',
      bytes: bytes.length,
      lines: 3,
      created_at: 1_000,
      expires_at: null,
    });
    const replica = await engine.open(location);
    try {
      const parts: Buffer[] = [];
      for await (const chunk of replica.files.chunks('file-a')) parts.push(Buffer.from(chunk));
      expect(parts).toHaveLength(4);
      expect(Buffer.concat(parts).equals(bytes)).toBe(true);
    } finally {
      await replica.close();
    }
    for (const id of ['file-b', 'file-c', 'file-d']) {
      await store.files.begin(file(id, id === 'file-c' ? 'key-2' : 'key-1'));
      await store.files.finish(id, done(0, 0));
    }
    await store.files.begin(file('file-e', 'key-1'));
    const ids = async (q: Partial<Parameters<Store['files']['list']>[0]>) =>
      (await store.files.list({ owner: 'key-1', limit: 10, order: 'desc', ...q })).map((f) => f.id);
    expect(await ids({})).toEqual(['file-d', 'file-b', 'file-a']);
    expect(await ids({ order: 'asc' })).toEqual(['file-a', 'file-b', 'file-d']);
    expect(await ids({ after: 'file-d', limit: 1 })).toEqual(['file-b']);
    expect(await ids({ owner: 'key-2' })).toEqual(['file-c']);
    expect(await ids({ purpose: 'fine-tune' })).toEqual([]);

    expect(await store.files.delete('file-a')).toBe(true);
    expect(await store.files.delete('file-a')).toBe(false);
    const left: Buffer[] = [];
    for await (const chunk of store.files.chunks('file-a')) left.push(chunk);
    expect(left).toEqual([]);
    await store.files.begin(file('file-old', 'key-1'));
    await store.files.finish('file-old', done(0, 0, 5_000));
    // file-e is still uploading since 1000: abandoned before 2000.
    expect(await store.files.prune(5_000, 2_000)).toBe(2);
    expect(await store.files.get('file-old')).toBeUndefined();
    expect(await store.files.get('file-e')).toBeUndefined();
    expect(await store.files.get('file-b')).toBeDefined();
  });

  it('batches: lines claimed by one worker at a time, leases that pass on, results recorded once, counts exact', async () => {
    const batch = (id: string, owner: string) => ({
      id,
      owner,
      status: 'validating' as const,
      endpoint: '/v1/embeddings',
      input_file_id: 'file-x',
      completion_window: '24h',
      created_at: 1_000,
      expires_at: 87_400,
      times: {},
      output_file_id: null,
      error_file_id: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: { team: 'search' },
      errors: null,
      note: null,
    });
    await store.batches.create(batch('batch-1', 'key-1'));
    await store.batches.create(batch('batch-2', 'key-2'));
    const items = Array.from({ length: 50 }, (_, i) => ({ line: i + 1, custom_id: `c${i}`, body: `{"n":${i}}` }));
    await store.batches.addItems('batch-1', items.slice(0, 30));
    await store.batches.addItems('batch-1', items.slice(30));
    expect((await store.batches.get('batch-1'))!.request_counts).toEqual({ total: 50, completed: 0, failed: 0 });
    // Not running yet: nothing to claim.
    expect(await store.batches.claim('w1', 10, 100, 10)).toBeUndefined();
    expect(await store.batches.update('batch-1', { status: 'in_progress' }, ['cancelling'])).toBeUndefined();
    const running = await store.batches.update('batch-1', { status: 'in_progress', times: { in_progress_at: 5 } }, [
      'validating',
    ]);
    expect(running).toMatchObject({
      status: 'in_progress',
      times: { in_progress_at: 5 },
      metadata: { team: 'search' },
    });

    // Two workers at once (two replicas over PostgreSQL): disjoint lines.
    const replica = await engine.open(location);
    try {
      const [a, b] = await Promise.all([
        store.batches.claim('w1', 10, 1_000, 20),
        replica.batches.claim('w2', 10, 1_000, 20),
      ]);
      const linesA = a!.items.map((i) => i.line);
      const linesB = b!.items.map((i) => i.line);
      expect(linesA).toHaveLength(20);
      expect(linesB).toHaveLength(20);
      expect(linesA.filter((l) => linesB.includes(l))).toEqual([]);
      expect(a!.items[0]).toMatchObject({ custom_id: `c${linesA[0]! - 1}`, body: `{"n":${linesA[0]! - 1}}` });
      expect(await store.batches.remaining('batch-1', 10)).toEqual({ pending: 50, leased: 40 });

      // w1 finishes its lines; a stranger cannot record w2's.
      const result = (line: number, state: 'done' | 'failed' = 'done') => ({ line, state, result: `{"line":${line}}` });
      expect(
        await store.batches.complete('batch-1', 'w1', [
          ...linesA.slice(0, 19).map((l) => result(l)),
          result(linesA[19]!, 'failed'),
        ]),
      ).toBe(20);
      expect(await store.batches.complete('batch-1', 'w1', [result(linesB[0]!)])).toBe(0);
      expect(await store.batches.complete('batch-1', 'w1', [result(linesA[0]!)])).toBe(0);
      // w2's lease passes (it crashed): w3 takes its lines over; w2's late answer is not counted.
      const c = await store.batches.claim('w3', 2_000, 3_000, 100);
      expect(c!.items.map((i) => i.line).sort((x, y) => x - y)).toEqual(
        [...linesB, ...items.map((i) => i.line).filter((l) => !linesA.includes(l) && !linesB.includes(l))].sort(
          (x, y) => x - y,
        ),
      );
      expect(
        await store.batches.complete(
          'batch-1',
          'w2',
          linesB.map((l) => result(l)),
        ),
      ).toBe(0);
      await store.batches.renew('batch-1', 'w3', [linesB[0]!], 9_000);
      await store.batches.release('batch-1', 'w3', [linesB[1]!]);
      expect(await store.batches.remaining('batch-1', 3_500)).toEqual({ pending: 30, leased: 1 });
      const rest = c!.items.map((i) => i.line).filter((l) => l !== linesB[1]);
      expect(
        await store.batches.complete(
          'batch-1',
          'w3',
          rest.map((l) => result(l)),
        ),
      ).toBe(29);
      expect(await store.batches.settled('in_progress', 3_500)).toEqual([]);
      const last = await replica.batches.claim('w2', 3_500, 4_000, 10);
      expect(last!.items.map((i) => i.line)).toEqual([linesB[1]]);
      expect(await replica.batches.complete('batch-1', 'w2', [result(linesB[1]!)])).toBe(1);
    } finally {
      await replica.close();
    }
    expect((await store.batches.get('batch-1'))!.request_counts).toEqual({ total: 50, completed: 49, failed: 1 });
    expect(await store.batches.settled('in_progress', 5_000)).toEqual(['batch-1']);
    // Its output and error files are views of the results, in line order, sized exactly.
    const output = (await batchFile(store, 'batch-1', 'done'))!;
    expect(output.file).toMatchObject({ owner: 'key-1', purpose: 'batch_output', status: 'processed', lines: 49 });
    const lines = output.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).line as number);
    expect(lines).toHaveLength(49);
    expect(lines).toEqual([...lines].sort((x, y) => x - y));
    expect(output.file.bytes).toBe(Buffer.byteLength(output.text));
    const errors = (await batchFile(store, 'batch-1', 'failed'))!;
    expect(errors.file.lines).toBe(1);
    expect(await batchFile(store, 'batch-2', 'done')).toBeUndefined();
    // The lines go with the last file made from them, not before.
    await store.files.delete(output.file.id);
    const kept: Buffer[] = [];
    for await (const chunk of store.files.chunks(errors.file.id)) kept.push(chunk);
    expect(Buffer.concat(kept).toString('utf8')).toBe(errors.text);
    await store.files.delete(errors.file.id);
    expect(await batchFile(store, 'batch-1', 'failed')).toBeUndefined();

    // Cancelling with a line still leased is not settled until the lease is over.
    await store.batches.create(batch('batch-3', 'key-1'));
    await store.batches.addItems('batch-3', items.slice(0, 2));
    await store.batches.update('batch-3', { status: 'in_progress' });
    await store.batches.claim('w1', 10, 6_000, 1);
    await store.batches.update('batch-3', { status: 'cancelling' });
    expect(await store.batches.settled('cancelling', 5_000)).toEqual([]);
    expect(await store.batches.settled('cancelling', 7_000)).toEqual(['batch-3']);
    // One gateway wins a guarded step; a step taken and abandoned is taken over once stale.
    const guard = (staleBefore: number) => ({
      status: ['cancelling' as const],
      unset: { time: 'cancelled_at' as const, staleBefore },
    });
    expect(await store.batches.update('batch-3', { times: { cancelled_at: 100 } }, guard(0))).toBeDefined();
    expect(await store.batches.update('batch-3', { times: { cancelled_at: 101 } }, guard(50))).toBeUndefined();
    expect((await store.batches.update('batch-3', { times: { cancelled_at: 200 } }, guard(150)))!.times).toMatchObject({
      cancelled_at: 200,
    });

    // Past its window: overdue while running; its unrun lines fail with the code, counted.
    await store.batches.create({ ...batch('batch-4', 'key-1'), expires_at: 500 });
    await store.batches.addItems('batch-4', items.slice(0, 3));
    expect(await store.batches.overdue(1_000)).toEqual([]);
    await store.batches.update('batch-4', { status: 'in_progress' });
    expect(await store.batches.overdue(499)).toEqual([]);
    expect(await store.batches.overdue(500)).toEqual(['batch-4']);
    const first = await store.batches.claim('w1', 10, 20, 1);
    await store.batches.complete('batch-4', 'w1', [{ line: first!.items[0]!.line, state: 'done', result: '{}' }]);
    expect(await store.batches.failUnrun('batch-4', 'batch_expired', 'too late')).toBe(2);
    expect((await store.batches.get('batch-4'))!.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    const expiredFile = (await batchFile(store, 'batch-4', 'failed'))!;
    const expired = expiredFile.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(expired).toEqual([
      {
        id: expect.stringMatching(/^batch_req_\w+$/),
        custom_id: 'c1',
        response: null,
        error: { code: 'batch_expired', message: 'too late' },
      },
      {
        id: expect.stringMatching(/^batch_req_\w+$/),
        custom_id: 'c2',
        response: null,
        error: { code: 'batch_expired', message: 'too late' },
      },
    ]);
    expect(await store.batches.remaining('batch-4', 0)).toEqual({ pending: 0, leased: 0 });
    // A batch file that expires takes the lines with it when pruned (it was the last one).
    const expiring = { owner: 'key-1', filename: 'o.jsonl', created_at: 1, expires_at: 100, batchId: 'batch-4' };
    expect(await store.files.fromBatch({ ...expiring, id: 'file-expiring', state: 'done' })).toMatchObject({
      lines: 1,
    });
    await store.files.delete(expiredFile.file.id);
    expect(await store.files.prune(99, 0)).toBe(0);
    expect(await store.files.get('file-expiring')).toMatchObject({ lines: 1 });
    expect(await store.files.prune(200, 0)).toBeGreaterThanOrEqual(1);
    expect(await store.files.get('file-expiring')).toBeUndefined();
    expect(await store.files.fromBatch({ ...expiring, id: 'file-after', state: 'done' })).toBeUndefined();

    expect((await store.batches.list({ owner: 'key-1', limit: 10 })).map((b) => b.id)).toEqual([
      'batch-4',
      'batch-3',
      'batch-1',
    ]);
    expect((await store.batches.list({ owner: 'key-1', after: 'batch-3', limit: 10 })).map((b) => b.id)).toEqual([
      'batch-1',
    ]);
    expect((await store.batches.list({ owner: 'key-2', limit: 10 })).map((b) => b.id)).toEqual(['batch-2']);
    await store.batches.dropItems('batch-3');
    expect(await store.batches.remaining('batch-3', 0)).toEqual({ pending: 0, leased: 0 });
  });

  it('keeps a gemini entity written before the split on the native API it called (gemini-native), version bumped', async () => {
    const own = await engine.fresh();
    const first = await engine.open(own);
    await first.entities.create(entity('old-gemini'));
    await first.entities.create(entity('other'));
    await first.close();
    await engine.rerunGeminiSplit(own, 'old-gemini');
    const upgraded = await engine.open(own);
    try {
      expect(await upgraded.entities.get('old-gemini')).toMatchObject({ provider: 'gemini-native', version: 2 });
      expect((await upgraded.entities.get('old-gemini'))!.config.connection.token).toBe(TOKEN);
      expect(await upgraded.entities.get('other')).toMatchObject({ provider: 'openai', version: 1 });
    } finally {
      await upgraded.close();
    }
  });

  it('marks an entity sealed with another key unreadable instead of failing every read', async () => {
    if (name === 'sqlite') return; // SQLite's key lives in the data dir: covered by the hardening suite.
    const other = await openStore({
      dataDir: tempDir('unused'),
      url: location,
      env: { EMBCTL_SECRET_KEY: randomBytes(32).toString('base64') },
      onError,
    });
    try {
      const listed = await other.entities.list();
      expect(listed.find((e) => e.id === 'beta')?.unreadable).toMatch(/secret key differs/);
    } finally {
      await other.close();
    }
  });

  it('keeps API keys with versions; a revoked key stays revoked whatever is written', async () => {
    const created = await store.apiKeys.create(key('key_1'));
    expect(created.version).toBe(1);
    expect((await conflict(store.apiKeys.create(key('key_1')))).reason).toBe('exists');
    const revoked = await store.apiKeys.replace({ ...created, enabled: false, revoked_at: '2026-12-01T01:00:00Z' }, 1);
    expect(revoked.version).toBe(2);
    expect((await conflict(store.apiKeys.replace(key('key_1'), 1))).reason).toBe('stale');
    // A write that read the key before the revoke, and does not know the version, cannot undo it.
    const raced = await store.apiKeys.replace(key('key_1', { limits: { rpm: 5 } }));
    expect(raced).toMatchObject({ enabled: false, revoked_at: '2026-12-01T01:00:00Z', limits: { rpm: 5 } });
    expect((await store.apiKeys.list()).map((k) => k.id)).toContain('key_1');
    await store.apiKeys.delete('key_1');
    expect(await store.apiKeys.get('key_1')).toBeUndefined();
    expect((await conflict(store.apiKeys.delete('key_1'))).reason).toBe('missing');
  });

  it('keeps settings', async () => {
    expect(await store.settings.get('contract')).toBeUndefined();
    await store.settings.set('contract', 'one');
    await store.settings.set('contract', 'two');
    expect(await store.settings.get('contract')).toBe('two');
  });

  it('appends request logs in order, pages them newest first, resumes after a seq, groups usage, and prunes', async () => {
    const t0 = Date.parse('2026-11-30T23:59:00Z');
    const stored = await store.logs.append(
      Array.from({ length: 7 }, (_, i) =>
        logRow(`req_${i}`, t0 + i * 30_000, i === 3 ? { status: 502, error_code: 'upstream_error', cost_usd: 0 } : {}),
      ),
    );
    const seqs = stored.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(await store.logs.get('req_3')).toMatchObject({
      status: 502,
      created_at: new Date(t0 + 90_000).toISOString(),
    });

    const first = await store.logs.page({}, 3);
    expect(first.rows.map((r) => r.id)).toEqual(['req_6', 'req_5', 'req_4']);
    const second = await store.logs.page({}, 3, first.nextCursor);
    expect(second.rows.map((r) => r.id)).toEqual(['req_3', 'req_2', 'req_1']);
    const last = await store.logs.page({}, 3, second.nextCursor);
    expect(last).toMatchObject({ rows: [expect.objectContaining({ id: 'req_0' })], nextCursor: undefined });
    expect((await store.logs.after({}, seqs[4]!, 10)).map((r) => r.id)).toEqual(['req_5', 'req_6']);
    expect((await store.logs.page({ status: [{ class: 5 }] }, 10)).rows.map((r) => r.id)).toEqual(['req_3']);
    expect((await store.logs.page({ model: ['e/m'], minLatencyMs: 1.5 }, 10)).rows).toHaveLength(7);

    const byDay = await store.logs.usage({}, ['day']);
    expect(byDay).toEqual([
      { day: '2026-11-30', requests: 2, errors: 0, inputs: 4, prompt_tokens: 20, cost_usd: 0.000002, ...NONE_CACHED },
      { day: '2026-12-01', requests: 5, errors: 1, inputs: 10, prompt_tokens: 50, cost_usd: 0.000004, ...NONE_CACHED },
    ]);
    expect(await store.logs.usage({ key: ['a'] }, [])).toEqual([
      { requests: 7, errors: 1, inputs: 14, prompt_tokens: 70, cost_usd: 0.000006, ...NONE_CACHED },
    ]);
    expect(await store.logs.usage({ key: ['nobody'] }, ['model'])).toEqual([]);

    expect(await store.logs.prune(t0 + 60_000, 1_000)).toBe(2);
    expect(await store.logs.prune(0, 3)).toBe(2);
    expect((await store.logs.page({}, 10)).rows.map((r) => r.id)).toEqual(['req_6', 'req_5', 'req_4']);
  });

  it('two replicas: each sees the other’s writes, and the catalogue version moves for both', async () => {
    const replica = await engine.open(location);
    try {
      const version = await replica.catalogueVersion();
      await store.entities.create(entity('from-one'));
      expect((await replica.entities.get('from-one'))?.config.connection.token).toBe(TOKEN);
      expect(await replica.catalogueVersion()).toBe(version + 1);
    } finally {
      await replica.close();
    }
  });

  it('two replicas appending at once: a reader following `after` sees every row exactly once, in order', async () => {
    const replica = await engine.open(location);
    try {
      const start = (await store.logs.page({}, 1)).rows[0]?.seq ?? 0;
      const writers = [store, replica].map(async (writer, w) => {
        for (let batch = 0; batch < 20; batch++) {
          await writer.logs.append(
            Array.from({ length: 5 }, (_, i) => logRow(`race_${w}_${batch}_${i}`, Date.now(), { key_name: 'race' })),
          );
        }
      });
      const seen: string[] = [];
      let cursor = start;
      let done = false;
      const all = Promise.all(writers).then(() => (done = true));
      for (;;) {
        // Only a read that began after every write returned can prove there is nothing left.
        const writersDone = done;
        const rows = await replica.logs.after({ key: ['race'] }, cursor, 50);
        for (const row of rows) seen.push(row.id);
        if (rows.length) cursor = rows[rows.length - 1]!.seq;
        else if (writersDone) break;
      }
      await all;
      expect(seen).toHaveLength(200);
      expect(new Set(seen).size).toBe(200);
    } finally {
      await replica.close();
    }
  });

  it('counts usage per key and window; admission is atomic across replicas; a new day starts from the logs', async () => {
    const replica = await engine.open(location);
    const now = Date.parse('2026-12-01T10:00:30Z');
    const windows = {
      minute: Date.parse('2026-12-01T10:00:00Z'),
      day: Date.parse('2026-12-01'),
      month: Date.parse('2026-12-01'),
    };
    try {
      // Spend already logged today seeds the day window the first time it is used.
      await store.logs.append([logRow('spent_before', now - 1000, { key_id: 'key_u', cost_usd: 0.25 })]);
      const rpm = 10;
      const attempts = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? replica : store).usage.admit(
            'key_u',
            windows,
            { requests: 1, tokens: 5, dayReserved: 0.01, monthReserved: 0.01 },
            { requests: rpm },
          ),
        ),
      );
      expect(attempts.filter((a) => a.admitted)).toHaveLength(rpm);
      const counted = await store.usage.totals('key_u', windows);
      expect(counted).toMatchObject({ requests: rpm, tokens: 50, daySpent: 0.25, monthSpent: 0.25 });
      expect(counted.dayReserved).toBeCloseTo(0.1, 9);

      await replica.usage.adjust('key_u', windows, { tokens: -3, dayReserved: -0.01, daySpent: 0.02 });
      const adjusted = await store.usage.totals('key_u', windows);
      expect(adjusted).toMatchObject({ tokens: 47 });
      expect(adjusted.daySpent).toBeCloseTo(0.27, 9);
      expect(adjusted.dayReserved).toBeCloseTo(0.09, 9);
      // Counters never go below zero, whatever a late settlement subtracts.
      await store.usage.adjust('key_u', windows, { tokens: -1000, dayReserved: -5 });
      expect(await store.usage.totals('key_u', windows)).toMatchObject({ tokens: 0, dayReserved: 0 });

      expect(await store.usage.totals('key_other', windows)).toMatchObject({ requests: 0, daySpent: 0 });

      // Every cap, as both engines apply it: tokens must fit whole, budgets while spent + reserved is under them.
      const admit = (key: string, delta: object, caps: object) =>
        store.usage.admit(key, windows, { requests: 1, ...delta }, caps).then((a) => a.admitted);
      expect(await admit('key_t', { tokens: 6 }, { tokens: 10 })).toBe(true);
      expect(await admit('key_t', { tokens: 5 }, { tokens: 10 })).toBe(false);
      expect(await admit('key_t', { tokens: 4 }, { tokens: 10 })).toBe(true);
      expect(await admit('key_b', { dayReserved: 0.6, monthReserved: 0.6 }, { dayBudget: 1 })).toBe(true);
      expect(await admit('key_b', { dayReserved: 0.6, monthReserved: 0.6 }, { dayBudget: 1 })).toBe(true);
      expect(await admit('key_b', { dayReserved: 0.1 }, { dayBudget: 1 })).toBe(false);
      expect(await admit('key_b', {}, { monthBudget: 1.2 })).toBe(false);
      expect(await admit('key_b', {}, { monthBudget: 1.3 })).toBe(true);
      expect(await store.usage.prune(windows.minute + 1)).toBe(9);
      expect(await store.usage.totals('key_u', windows)).toMatchObject({ requests: 0, daySpent: 0 });
    } finally {
      await replica.close();
    }
  });

  it('lists the gateways that reported themselves recently, newest first', async () => {
    const now = Date.now();
    const beat = (instance: string, seenAt: number) =>
      store.instances.beat({ instance, version: '0.1.0', pid: 1, started_at: now - 60_000, seen_at: seenAt });
    await beat('old', now - 120_000);
    await beat('a', now - 2000);
    await beat('b', now - 1000);
    await beat('a', now);
    expect((await store.instances.recent(now - 30_000)).map((i) => [i.instance, i.seen_at])).toEqual([
      ['a', now],
      ['b', now - 1000],
    ]);
  });

  it('keeps cache entries: exact bytes back, expiry, one replica reads what another wrote, clear bumps the epoch', async () => {
    const now = Date.now();
    const a = cacheRow('a', 'e1', [0.5, -0, 1e-30, -3.25], now + 60_000);
    const b = cacheRow('b', 'e1', [1, 2, 3, 4], now + 60_000);
    const old = cacheRow('old', 'e2', [9, 9], now - 1);
    // The same key twice in one write: the last wins.
    expect(await store.cache.put([a, b, old, { ...b, tokens: 7 }], now, await store.cache.epoch())).toBe(3);
    const other = await engine.open(location);
    try {
      const rows = await other.cache.get([a.key, b.key, old.key, randomBytes(32)], now);
      const byKey = new Map(rows.map((r) => [r.key.toString('hex'), r]));
      expect([...byKey.keys()].sort()).toEqual([a.key.toString('hex'), b.key.toString('hex')].sort());
      const gotA = byKey.get(a.key.toString('hex'))!;
      expect(Buffer.compare(gotA.vector, a.vector)).toBe(0);
      expect(isIntact(gotA)).toBe(true);
      expect(Object.is(new Float32Array(new Uint8Array(gotA.vector).buffer)[1], -0)).toBe(true);
      expect(byKey.get(b.key.toString('hex'))!.tokens).toBe(7);
      expect(await other.cache.stats()).toEqual([
        { entity_id: 'e1', entries: 2, bytes: 32 },
        { entity_id: 'e2', entries: 1, bytes: 8 },
      ]);

      const before = await other.cache.epoch();
      const version = await other.catalogueVersion();
      expect(await store.cache.clear('e2')).toBe(1);
      expect(await other.cache.epoch()).toBe(before + 1);
      expect(await other.catalogueVersion()).toBe(version + 1);
      expect(await other.cache.stats('e2')).toEqual([]);
      // Made before the clear, flushed after it: refused, so a clear cannot be undone by a late write.
      expect(await store.cache.put([old], now, before)).toBe(0);
      expect(await other.cache.stats('e2')).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it("returns damaged entries as they are, and the reader's check refuses every one of them", async () => {
    const now = Date.now();
    const rows = Array.from({ length: 8 }, (_, i) => cacheRow(`d${i}`, 'damaged', [i, -i, 0.5, 2], now + 60_000));
    await store.cache.put(rows, now, await store.cache.epoch());
    expect(
      (
        await store.cache.get(
          rows.map((r) => r.key),
          now,
        )
      ).every(isIntact),
    ).toBe(true);
    await engine.damageCache(location);
    const read = await store.cache.get(
      rows.map((r) => r.key),
      now,
    );
    expect(read).toHaveLength(8);
    expect(read.filter(isIntact)).toEqual([]);
    await store.cache.forget(read.map((r) => r.key));
    expect(await store.cache.stats('damaged')).toEqual([]);
  });

  it('prunes expired entries, those of deleted entities, then the least recently used beyond the bounds', async () => {
    await store.cache.clear();
    const now = Date.now();
    const rows = Array.from({ length: 6 }, (_, i) => cacheRow(`p${i}`, 'live', [i, i], now + 60_000));
    const epoch = await store.cache.epoch();
    for (const [i, row] of rows.entries()) await store.cache.put([row], now - 1000 + i, epoch);
    await store.cache.put(
      [cacheRow('expired', 'live', [1, 1], now - 5), cacheRow('orphan', 'gone', [1, 1], now + 60_000)],
      now,
      epoch,
    );
    // p0 is the oldest written, but used since: p1 and p2 go first.
    await store.cache.touch([rows[0]!.key], now + 10);
    expect(await store.cache.prune(now, { maxEntries: 4, maxBytes: 1 << 30 }, ['live'])).toEqual({
      expired: 2,
      evicted: 2,
      entries: 4,
      bytes: 32,
    });
    const left = await store.cache.get(
      rows.map((r) => r.key),
      now,
    );
    expect(left.map((r) => r.key.toString('hex')).sort()).toEqual(
      [rows[0]!, rows[3]!, rows[4]!, rows[5]!].map((r) => r.key.toString('hex')).sort(),
    );
    // By bytes: 4 entries of 8 bytes within 20 bytes keep 2.
    expect((await store.cache.prune(now, { maxEntries: 100, maxBytes: 20 }, ['live'])).evicted).toBe(2);
    await store.cache.forget([rows[5]!.key]);
    expect((await store.cache.stats())[0]?.entries).toBe(1);
  });

  it('bootstraps once when replicas start together on an empty store', async () => {
    const empty = await engine.fresh();
    const replicas = await Promise.all([0, 1, 2].map(() => engine.open(empty)));
    try {
      const results = await Promise.all(
        replicas.map((replica, i) =>
          replica.bootstrap({ entity: entity('local'), apiKey: key(`key_boot_${i}`), adminTokenHash: `admin-${i}` }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await replicas[0]!.apiKeys.list()).map((k) => k.id)).toEqual([`key_boot_${winner}`]);
      expect(await replicas[1]!.settings.get('admin_token_hash')).toBe(`admin-${winner}`);
      expect((await replicas[2]!.entities.list()).map((e) => e.id)).toEqual(['local']);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});

describe('opening a PostgreSQL store', () => {
  it('refuses to start without the shared secret key, and never shows the password', async () => {
    const url = await postgres.database();
    await expect(openStore({ dataDir: tempDir('unused'), url, env: {}, onError })).rejects.toThrow(
      /needs the key that seals upstream credentials.*EMBCTL_SECRET_KEY or pass --secret-key-file/,
    );
    const store = await openStore({ dataDir: tempDir('unused'), url, env: { EMBCTL_SECRET_KEY: SECRET_KEY }, onError });
    try {
      expect(store.kind).toBe('postgres');
      expect(store.location).not.toContain('test-password');
      expect(store.location).toMatch(/^postgres:\/\/embctl(:\*\*\*)?@127\.0\.0\.1:\d+\/embctl_test_/);
    } finally {
      await store.close();
    }
    await expect(
      openStore({ dataDir: tempDir('unused'), url: 'mysql://x', env: { EMBCTL_SECRET_KEY: SECRET_KEY }, onError }),
    ).rejects.toThrow(/must start with postgres:\/\//);
  });

  it('migrates once when replicas start together', async () => {
    const url = await postgres.database();
    const env = { EMBCTL_SECRET_KEY: SECRET_KEY };
    const stores = await Promise.all([0, 1, 2].map(() => openStore({ dataDir: tempDir('unused'), url, env, onError })));
    await Promise.all(stores.map((s) => s.close()));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect((await client.query('SELECT version FROM embctl_schema')).rows).toEqual([
        { version: PG_MIGRATIONS.length },
      ]);
    } finally {
      await client.end();
    }
  });
});

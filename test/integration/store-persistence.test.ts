/** The store across restarts, two gateways on one data dir, and a client of the reference gateway's admin API. */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, tempDir } from '../helpers/cli.js';
import { spawnGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';

/** The reference gateway's documented entity, byte for byte. */
const REFERENCE_ENTITY = {
  id: 'embedding-model-entity-id',
  name: 'My Embedding Model',
  description: 'An OpenAI embedding model',
  provider: 'openai',
  config: {
    connection: { base_url: 'https://api.openai.com/v1', token: 'sk-xxx', timeout: 180000 },
    options: { model: 'text-embedding-3-small' },
  },
  models: { include: [], exclude: [] },
};

describe('a client of the reference gateway', () => {
  it('manages entities on its admin path with HTTP Basic and its exact JSON', async () => {
    const gateway = await spawnGateway();
    const base = `${gateway.url}/apis/ai-gateway.extensions.cloud-apim.com/v1/embedding-models`;
    const basic = `Basic ${Buffer.from(`client-id:${gateway.adminToken}`).toString('base64')}`;
    const created = await call('POST', base, { authorization: basic, body: REFERENCE_ENTITY });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(
      '/apis/ai-gateway.extensions.cloud-apim.com/v1/embedding-models/embedding-model-entity-id',
    );
    expect(created.body).toMatchObject({
      ...REFERENCE_ENTITY,
      config: { ...REFERENCE_ENTITY.config, connection: { ...REFERENCE_ENTITY.config.connection, token: '…' } },
    });
    const listed = await call('GET', base, { authorization: basic });
    expect(listed.body.map((e: { id: string }) => e.id)).toContain('embedding-model-entity-id');
    const updated = await call('PUT', `${base}/embedding-model-entity-id`, {
      authorization: basic,
      body: { ...REFERENCE_ENTITY, description: 'changed' },
    });
    expect(updated.body.description).toBe('changed');
    // The same entity is visible under the native path.
    expect(
      (await call('GET', `${gateway.url}/v1/embedding-models/embedding-model-entity-id`, { token: gateway.adminToken }))
        .status,
    ).toBe(200);
    expect((await call('DELETE', `${base}/embedding-model-entity-id`, { authorization: basic })).body).toEqual({
      deleted: true,
      id: 'embedding-model-entity-id',
    });
    const wrong = `Basic ${Buffer.from('client-id:nope').toString('base64')}`;
    expect((await call('GET', base, { authorization: wrong })).status).toBe(401);
    await gateway.stop();
  });
});

describe('persistence', () => {
  it('keeps entities and keys across a restart', async () => {
    const env = isolatedEnv();
    const first = await spawnGateway({ env });
    await call('POST', `${first.url}/v1/embedding-models`, {
      token: first.adminToken,
      body: { id: 'kept', provider: 'local', config: { options: { model: 'hash-32-v1' } }, tags: ['x'] },
    });
    const key = (
      await call('POST', `${first.url}/v1/api-keys`, { token: first.adminToken, body: { name: 'kept-key' } })
    ).body;
    expect(await first.stop()).toBe(0);

    const second = await spawnGateway({ env });
    expect(
      (await call('GET', `${second.url}/v1/embedding-models/kept`, { token: second.adminToken })).body.tags,
    ).toEqual(['x']);
    const embedded = await embeddingsCall(second.url, key.secret, { model: 'kept', input: 'still here' });
    expect(embedded.status).toBe(200);
    expect(embedded.body.data[0].embedding).toHaveLength(32);
    await second.stop();
  });

  it("serves two gateways on one data dir without corruption; each sees the other's writes", async () => {
    const env = isolatedEnv();
    const a = await spawnGateway({ env });
    const b = await spawnGateway({ env });
    const writes = Array.from({ length: 20 }, (_, i) =>
      call('POST', `${(i % 2 ? a : b).url}/v1/embedding-models`, {
        token: a.adminToken,
        body: { id: `m${i}`, provider: 'local', config: { options: { model: 'hash-8-v1' } } },
      }),
    );
    expect((await Promise.all(writes)).map((r) => r.status)).toEqual(Array(20).fill(201));
    for (const gateway of [a, b]) {
      const listed = await call('GET', `${gateway.url}/v1/embedding-models?limit=1000`, { token: a.adminToken });
      expect(listed.body).toHaveLength(21);
    }
    // B learns of A's new entity within its catalogue recheck interval (1 s).
    await call('POST', `${a.url}/v1/embedding-models`, {
      token: a.adminToken,
      body: { id: 'late', provider: 'local', config: { options: { model: 'hash-8-v1' } } },
    });
    let status = 0;
    for (let attempt = 0; attempt < 30 && status !== 200; attempt++) {
      status = (await embeddingsCall(b.url, a.apiKey, { model: 'late', input: 'x' })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('lets gateways starting together on a fresh data dir all read the one secret key', async () => {
    // The key file was created empty and then written: a gateway starting beside the first read it
    // empty and refused to start (1 start in 60, six processes at a time, before the fix).
    const module = pathToFileURL(join(process.cwd(), 'dist/store/secret-box.js')).href;
    const opener = `const { openSecretBox } = await import(${JSON.stringify(module)});
      try { openSecretBox({ env: {}, dataDir: process.argv[1] }); console.log('ok'); } catch (error) { console.log(error.message); }`;
    const open = (dataDir: string) =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', opener, dataDir]);
        let out = '';
        child.stdout.on('data', (chunk) => (out += chunk));
        child.on('close', () => resolve(out.trim()));
      });
    for (let round = 0; round < 8; round++) {
      const dataDir = tempDir('key');
      expect(await Promise.all(Array.from({ length: 6 }, () => open(dataDir)))).toEqual(Array(6).fill('ok'));
      expect(readdirSync(dataDir)).toEqual(['secret.key']);
      expect(statSync(join(dataDir, 'secret.key')).size).toBe(32);
    }
  });

  it("lets two writers prune files on one SQLite file without 'database is locked'", async () => {
    // Every gateway prunes at start and on a timer: --workers 2 on SQLite logged this failure. A
    // read-then-write transaction begun deferred cannot wait for the other writer; an immediate one can.
    const dataDir = tempDir('prune');
    const store = pathToFileURL(join(process.cwd(), 'dist/store/sqlite/index.js')).href;
    const writer = (n: number) =>
      new Promise<{ errors: number; first?: string }>((resolve, reject) => {
        const worker = new Worker(
          `const { parentPort, workerData } = require('node:worker_threads');
           import(workerData.store).then(async ({ openSqliteStore }) => {
             const store = openSqliteStore(workerData.dataDir);
             let errors = 0, first;
             for (let i = 0; i < 1500; i++) {
               try {
                 await store.files.begin({ id: 'file-' + workerData.n + '-' + i, owner: 'k', filename: 'x', created_at: 0 });
                 await store.files.prune(Math.floor(Date.now() / 1000), 10);
               } catch (error) { errors++; first ??= error.message; }
             }
             await store.close();
             parentPort.postMessage({ errors, first });
           });`,
          { eval: true, workerData: { store, dataDir, n } },
        );
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    const { openSqliteStore } = await import(store);
    await openSqliteStore(dataDir).close(); // the schema, before the two race
    expect(await Promise.all([writer(0), writer(1)])).toEqual([{ errors: 0 }, { errors: 0 }]);
  });
});

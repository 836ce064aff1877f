/**
 * OpenAI's Files API with the official SDK as the client: uploads streamed into the store and
 * checked line by line, listed with a cursor, read back byte for byte, deleted; one key never sees
 * another's files; bad files, oversized files and wrong purposes refused with nothing kept.
 */
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.js';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';

let gateway: InjectedGateway;
let client: OpenAI;
let other: OpenAI;
const MAX = 256 * 1024;

const line = (i: number) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: 'POST',
    url: '/v1/embeddings',
    body: { model: 'local', input: `text ${i}` },
  });
const jsonl = (n: number) => `${Array.from({ length: n }, (_, i) => line(i)).join('\n')}\n`;

beforeAll(async () => {
  gateway = await injectGateway({ maxFileBytes: MAX });
  const url = await gateway.listen();
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: gateway.apiKey, maxRetries: 0 });
  const created = await call('POST', `${gateway.url}/v1/api-keys`, {
    token: gateway.adminToken,
    body: { name: 'tenant-b' },
  });
  other = new OpenAI({ baseURL: `${url}/v1`, apiKey: created.body.secret, maxRetries: 0 });
});
afterAll(async () => {
  await gateway.close();
});

describe('the Files API through the openai SDK', () => {
  it('uploads, retrieves, lists, reads back byte for byte and deletes', async () => {
    const text = jsonl(1500);
    expect(text.length).toBeGreaterThan(100_000);
    const file = await client.files.create({ file: await toFile(Buffer.from(text), 'input.jsonl'), purpose: 'batch' });
    expect(file).toMatchObject({
      object: 'file',
      bytes: Buffer.byteLength(text),
      filename: 'input.jsonl',
      purpose: 'batch',
      status: 'processed',
    });
    expect(file.id).toMatch(/^file-[0-9a-f]{24}$/);
    expect(file.expires_at! - file.created_at).toBe(30 * 86_400);
    expect(await client.files.retrieve(file.id)).toEqual(file);
    const content = await client.files.content(file.id);
    expect(await content.text()).toBe(text);

    const second = await client.files.create({
      file: await toFile(Buffer.from(jsonl(2)), 'second.jsonl'),
      purpose: 'batch',
      expires_after: { anchor: 'created_at', seconds: 7200 },
    });
    expect(second.expires_at! - second.created_at).toBe(7200);
    const firstPage = await client.files.list({ limit: 1 });
    expect(firstPage.data.map((f) => f.id)).toEqual([second.id]);
    const all: string[] = [];
    for await (const f of client.files.list({ limit: 1 })) all.push(f.id);
    expect(all).toEqual([second.id, file.id]);

    expect(await client.files.delete(second.id)).toMatchObject({ id: second.id, deleted: true });
    await expect(client.files.retrieve(second.id)).rejects.toMatchObject({ status: 404 });
  });

  it('another key sees none of them: the same 404 as for a file that does not exist', async () => {
    const mine = await client.files.create({
      file: await toFile(Buffer.from(jsonl(3)), 'mine.jsonl'),
      purpose: 'batch',
    });
    await expect(other.files.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.files.content(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.files.delete(mine.id)).rejects.toMatchObject({ status: 404 });
    expect((await other.files.list()).data).toEqual([]);
    await expect(client.files.retrieve('file-doesnotexist')).rejects.toMatchObject({ status: 404 });
    expect((await client.files.retrieve(mine.id)).id).toBe(mine.id);
  });
});

describe('files refused, nothing kept', () => {
  const count = async () => (await client.files.list()).data.length;

  it('a line that is not a JSON object names its line', async () => {
    const before = await count();
    const bad = `${line(0)}\n${line(1)}\n{"custom_id": "x", oops\n${line(3)}\n`;
    const refused = await client.files
      .create({ file: await toFile(Buffer.from(bad), 'bad.jsonl'), purpose: 'batch' })
      .catch((e) => e);
    expect(refused.status).toBe(400);
    expect(refused.message).toContain('Line 3 of the file is not a JSON object');
    expect(await count()).toBe(before);
  });

  it('a file over --max-file-mb is 413, naming the limit', async () => {
    const before = await count();
    const refused = await client.files
      .create({ file: await toFile(Buffer.from(jsonl(4000)), 'big.jsonl'), purpose: 'batch' })
      .catch((e) => e);
    expect(refused.status).toBe(413);
    expect(refused.message).toContain('--max-file-mb');
    expect(await count()).toBe(before);
  });

  it('a purpose other than batch, an empty file, a bad expiry', async () => {
    const purpose = await client.files
      .create({ file: await toFile(Buffer.from(jsonl(1)), 'x.jsonl'), purpose: 'fine-tune' })
      .catch((e) => e);
    expect(purpose.status).toBe(400);
    expect(purpose.message).toContain('\'purpose\' must be "batch"');
    const empty = await client.files
      .create({ file: await toFile(Buffer.from('\n\n'), 'e.jsonl'), purpose: 'batch' })
      .catch((e) => e);
    expect(empty.status).toBe(400);
    const expiry = await client.files
      .create({
        file: await toFile(Buffer.from(jsonl(1)), 'x.jsonl'),
        purpose: 'batch',
        expires_after: { anchor: 'created_at', seconds: 60 },
      })
      .catch((e) => e);
    expect(expiry.status).toBe(400);
    expect(expiry.message).toContain('expires_after');
  });

  it('a JSON body instead of multipart, and no key at all', async () => {
    const json = await call('POST', `${gateway.url}/v1/files`, { token: gateway.apiKey, body: { purpose: 'batch' } });
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('invalid_content_type');
    expect((await call('GET', `${gateway.url}/v1/files`)).status).toBe(401);
  });
});

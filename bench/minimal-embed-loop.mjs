#!/usr/bin/env node
// The ceiling for `embctl embed -f`: the least a hand-written client can do for the same job —
// read lines, send batches of the same size with the same concurrency (base64 on the wire), write
// JSONL records in order. No dedup, no checkpoint, no retries, no token counting.
// Usage: node bench/minimal-embed-loop.mjs URL FILE OUT BATCH CONCURRENCY
import { createReadStream, openSync, writeSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';

const [url, file, out, batchArg, concurrencyArg] = process.argv.slice(2);
const batchSize = Number(batchArg);
const concurrency = Number(concurrencyArg);
const dispatcher = new Agent({ connections: concurrency });
const fd = openSync(out, 'w');

async function embed(texts) {
  const response = await request(`${url}/v1/embeddings`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
    body: JSON.stringify({ model: 'bench', input: texts, encoding_format: 'base64' }),
  });
  const body = await response.body.json();
  return body.data.map((d) => {
    const bytes = Buffer.from(d.embedding, 'base64');
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  });
}

const pending = [];
let batch = [];
let line = 0;
const write = async () => {
  const { texts, ids, result } = pending.shift();
  const vectors = await result;
  let chunk = '';
  for (let i = 0; i < texts.length; i++)
    chunk += `{"id":${JSON.stringify(ids[i])},"text":${JSON.stringify(texts[i])},"embedding":[${vectors[i].join(',')}]}\n`;
  writeSync(fd, chunk);
};
const send = () => {
  const texts = batch.map((b) => b.text);
  pending.push({ texts, ids: batch.map((b) => b.id), result: embed(texts) });
  batch = [];
};
for await (const text of createInterface({
  input: createReadStream(file, { encoding: 'utf8' }),
  crlfDelay: Infinity,
})) {
  line++;
  if (text.trim() === '') continue;
  batch.push({ id: `${file}:${line}`, text });
  if (batch.length === batchSize) {
    send();
    if (pending.length >= concurrency) await write();
  }
}
if (batch.length) send();
while (pending.length) await write();
closeSync(fd);
await dispatcher.close();

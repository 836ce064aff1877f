#!/usr/bin/env node
// A fast OpenAI-compatible /v1/embeddings server for benchmarks: canned vectors, no work per input
// beyond copying bytes, so what is measured is the client or gateway in front of it.
// Usage: node bench/fake-upstream.mjs [dims]   → prints "listening on URL" on stdout.
import http from 'node:http';

const dims = Number(process.argv[2] ?? 384);
// 64 canned vectors, all values distinct like real embeddings' (one repeated vector would flatter
// whatever caches number formatting), served in rotation.
const VARIANTS = 64;
const vectors = Array.from({ length: VARIANTS }, (_, v) =>
  new Float32Array(dims).map((_, i) => Math.sin((v + 1) * (i + 1) * 0.618) / Math.sqrt(dims)),
);
const floatTexts = vectors.map((vector) => `[${Array.from(vector).join(',')}]`);
const base64Texts = vectors.map((vector) => `"${Buffer.from(vector.buffer).toString('base64')}"`);
let served = 0;

function count(input) {
  if (typeof input === 'string') return 1;
  return Array.isArray(input) ? (typeof input[0] === 'number' ? 1 : input.length) : 0;
}

const server = http.createServer((req, res) => {
  // How many vectors were served: the cache bench reads what reached the upstream.
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ inputs: served }));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json"}}');
      return;
    }
    const n = count(body.input);
    const texts = body.encoding_format === 'base64' ? base64Texts : floatTexts;
    const parts = new Array(n);
    for (let i = 0; i < n; i++)
      parts[i] = `{"object":"embedding","index":${i},"embedding":${texts[served++ % VARIANTS]}}`;
    const model = JSON.stringify(body.model ?? 'bench');
    const usage = `{"prompt_tokens":${n * 8},"total_tokens":${n * 8}}`;
    const text = `{"object":"list","data":[${parts.join(',')}],"model":${model},"usage":${usage}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

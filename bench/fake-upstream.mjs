#!/usr/bin/env node
// A fast OpenAI-compatible /v1/embeddings server for benchmarks: canned vectors, no work per input
// beyond copying bytes, so what is measured is the client or gateway in front of it.
// Usage: node bench/fake-upstream.mjs [dims]   → prints "listening on URL" on stdout.
import http from 'node:http';

const dims = Number(process.argv[2] ?? 384);
const vector = new Float32Array(dims).map((_, i) => Math.sin(i + 1) / Math.sqrt(dims));
const floatText = `[${Array.from(vector).join(',')}]`;
const base64Text = `"${Buffer.from(vector.buffer).toString('base64')}"`;

function count(input) {
  if (typeof input === 'string') return 1;
  return Array.isArray(input) ? (typeof input[0] === 'number' ? 1 : input.length) : 0;
}

const server = http.createServer((req, res) => {
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
    const embedding = body.encoding_format === 'base64' ? base64Text : floatText;
    const parts = new Array(n);
    for (let i = 0; i < n; i++) parts[i] = `{"object":"embedding","index":${i},"embedding":${embedding}}`;
    const text = `{"object":"list","data":[${parts.join(',')}],"model":${JSON.stringify(body.model ?? 'bench')},"usage":{"prompt_tokens":${n * 8},"total_tokens":${n * 8}}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

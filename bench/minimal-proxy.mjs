#!/usr/bin/env node
// The floor for one extra Node hop: a bare node:http server that parses the request, calls the
// upstream with undici over a keep-alive pool, parses the JSON answer and writes it back. No auth,
// routing, validation, logs or metrics. The gateway bench reports its added latency beside the
// gateway's. Usage: node bench/minimal-proxy.mjs UPSTREAM_URL → prints "listening on URL".
import http from 'node:http';
import { Agent, request } from 'undici';

const upstream = process.argv[2];
const pool = new Agent({ keepAliveTimeout: 30_000, connections: 256 });

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const answer = await request(`${upstream}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, model: 'bench-v1' }),
        dispatcher: pool,
      });
      const text = JSON.stringify(await answer.body.json());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    });
  })
  .listen(0, '127.0.0.1', function () {
    process.stdout.write(`listening on http://127.0.0.1:${this.address().port}\n`);
  });
process.on('SIGTERM', () => process.exit(0));

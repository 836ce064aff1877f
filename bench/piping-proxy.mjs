#!/usr/bin/env node
// The floor of any Node hop: a bare node:http server that pipes the request body to the upstream
// through an undici keep-alive pool and pipes the answer back, parsing nothing (no JSON, no auth,
// no validation, no logs). The gateway bench reports the gateway's req/s as a ratio to it.
// Usage: node bench/piping-proxy.mjs UPSTREAM_URL → prints "listening on URL".
import http from 'node:http';
import { Agent, request } from 'undici';

const upstream = process.argv[2];
const pool = new Agent({ keepAliveTimeout: 30_000, connections: 256 });

http
  .createServer(async (req, res) => {
    try {
      const answer = await request(`${upstream}${req.url}`, {
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: req,
        dispatcher: pool,
      });
      const length = answer.headers['content-length'];
      res.writeHead(answer.statusCode, {
        'content-type': 'application/json',
        ...(length === undefined ? {} : { 'content-length': length }),
      });
      answer.body.pipe(res);
    } catch (error) {
      res.writeHead(502).end(String(error));
    }
  })
  .listen(0, '127.0.0.1', function () {
    process.stdout.write(`listening on http://127.0.0.1:${this.address().port}\n`);
  });
process.on('SIGTERM', () => process.exit(0));

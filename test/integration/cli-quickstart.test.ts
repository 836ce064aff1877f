/** The README's quick start and the gateway's lifecycle, run through the built `bin/embctl`. */
import { statSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { spawnGateway } from '../helpers/gateway.js';

describe('quick start: embctl embed -f examples/docs.txt on a fresh machine', () => {
  it('boots an embedded gateway, embeds every line, and saves a 0600 local profile', async () => {
    const env = isolatedEnv();
    const result = await runCli(['embed', '-f', 'examples/docs.txt'], { env });
    expect(result.stderr).toContain("saved in profile 'local'");
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as {
      model: string;
      dimensions: number;
      data: { id: string; embedding: number[] }[];
    };
    const lines = readFileSync('examples/docs.txt', 'utf8')
      .split('\n')
      .filter((l) => l.trim());
    expect(output.model).toBe('hash-384-v1');
    expect(output.dimensions).toBe(384);
    expect(output.data.map((d) => d.id)).toEqual(lines.map((_, i) => `examples/docs.txt:${i + 1}`));
    expect(output.data.every((d) => d.embedding.length === 384)).toBe(true);

    const configFile = join(env.EMBCTL_CONFIG_DIR!, 'config.json');
    expect(statSync(configFile).mode & 0o777).toBe(0o600);

    // The second run reuses the data dir and profile: same vectors, no new secrets.
    const again = await runCli(['embed', '-f', 'examples/docs.txt', '-o', 'json'], { env });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('Initialised');
    expect(JSON.parse(again.stdout).data).toEqual(output.data);
  });

  it('reads stdin and prints NDJSON', async () => {
    const result = await runCli(['embed', '-o', 'ndjson', '--dimensions', '16'], {
      env: isolatedEnv(),
      input: 'first line\n\nsecond line\n',
    });
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; embedding: number[] });
    expect(rows.map((r) => r.id)).toEqual(['stdin:1', 'stdin:3']);
    expect(rows[0]!.embedding).toHaveLength(16);
  });

  it('fails with exit 2 and a hint when there is nothing to embed', async () => {
    const result = await runCli(['embed', '--dimensions', 'lots'], { env: isolatedEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--dimensions must be a whole number');
  });
});

describe('embctl gateway start', () => {
  it('prints its URL, shows the first-start secrets once, and serves the CLI through the local profile', async () => {
    const gateway = await spawnGateway();
    expect(gateway.output()).toContain(gateway.apiKey);
    expect(gateway.output()).toContain(gateway.adminToken);
    const result = await runCli(['embed', 'hello', 'world', '-o', 'json'], { env: gateway.env });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).data).toHaveLength(2);
    expect(await gateway.stop('SIGINT')).toBe(0);

    // A restart over the same data dir keeps the key and prints no secret.
    const restarted = await spawnGateway({ env: gateway.env });
    expect(restarted.output()).not.toContain(gateway.apiKey);
    const health = await fetch(`${restarted.url}/v1/models`, {
      headers: { authorization: `Bearer ${gateway.apiKey}` },
    });
    expect(health.status).toBe(200);
    expect(await restarted.stop()).toBe(0);
  });

  it('lets an in-flight request finish on SIGTERM, then exits 0', async () => {
    const gateway = await spawnGateway();
    const body = JSON.stringify({ model: 'local', input: Array.from({ length: 500 }, (_, i) => `text ${i}`) });
    const url = new URL(`${gateway.url}/v1/embeddings`);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${gateway.apiKey}`,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      // Half the body now, the signal, then the rest: the request is in flight when SIGTERM lands.
      req.write(body.slice(0, body.length / 2));
      setTimeout(() => {
        gateway.process.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(body.length / 2)), 200);
      }, 100);
    });
    const result = await response;
    expect(result.status).toBe(200);
    expect((JSON.parse(result.body) as { data: unknown[] }).data).toHaveLength(500);
    expect(await gateway.stop()).toBe(0);
    expect(gateway.output()).toContain('gateway stopped');
  });
});

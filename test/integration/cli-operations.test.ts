/** logs, usage, gateway status/stop/--detach, doctor and completion, through the built CLI. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { ROOT, isolatedEnv, runCli, spawnTail } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';

let gateway: SpawnedGateway;
let fake: FakeUpstream;
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env: { ...gateway.env, ...env } });
const json = async (args: string[]) => {
  const result = await cli([...args, '-o', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
};
const ids: Record<string, string> = {};

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  gateway = await spawnGateway();
  fake = await startFake(FORMATS['openai-compatible']);
  await call('POST', `${gateway.url}/v1/embedding-models`, {
    token: gateway.adminToken,
    body: {
      id: 'drifting',
      provider: 'openai-compatible',
      config: { connection: { base_url: `${fake.url}/v1`, token: TOKEN }, options: { model: 'bge-small-v1' } },
      pricing: { input_per_million_tokens: 0.1 },
    },
  });
  const calls: [string, Record<string, unknown>, string?][] = [
    ['ok-local', { model: 'local', input: ['a', 'b'] }],
    ['ok-drift', { model: 'drifting', input: 'one two three' }],
    ['bad-input', { model: 'local', input: '' }],
    ['unknown', { model: 'nope', input: 'x' }],
    ['unauthorized', { model: 'local', input: 'x' }, 'emb_wrong'],
  ];
  for (const [name, body, key] of calls)
    ids[name] = String((await embeddingsCall(gateway.url, key ?? gateway.apiKey, body)).headers['x-request-id']);
});
afterAll(async () => {
  await gateway.stop();
  await fake.close();
});

describe('logs', () => {
  it.each([
    [
      ['--model', 'local'],
      ['ok-local', 'bad-input', 'unauthorized'],
    ],
    [
      ['--status', '4xx'],
      ['bad-input', 'unknown', 'unauthorized'],
    ],
    [['--status', '2xx', '--provider', 'openai-compatible'], ['ok-drift']],
    [
      ['--model', 'local,nope', '--status', '400,404'],
      ['bad-input', 'unknown'],
    ],
    [['--resolved-model', 'bge-small-v1-q8'], ['ok-drift']],
    [
      ['--key', 'default', '--status', '2xx'],
      ['ok-local', 'ok-drift'],
    ],
  ])('list %j', async (flags, expected) => {
    const rows = await json(['logs', 'list', '--since', '1h', ...flags]);
    expect(rows.map((r: { id: string }) => r.id).sort()).toEqual(expected.map((n) => ids[n]).sort());
  });

  it('validates filters before any request', async () => {
    const result = await cli(['logs', 'list', '--status', '6xx', '--url', 'http://127.0.0.1:9']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("'--status' must be 2xx, 4xx, 5xx");
    expect((await cli(['logs', 'list', '--since', 'last tuesday'])).code).toBe(2);
  });

  it('prints a table on a terminal-style request, and shows one call with a mismatch warning', async () => {
    const table = await cli(['logs', 'list', '-o', 'table', '--limit', '3']);
    expect(table.stdout).toMatch(/^TIME\s+STATUS\s+MODEL\s+PROVIDER\s+INPUTS\s+TOKENS\s+LATENCY\s+COST\s+ID$/m);
    const shown = await cli(['logs', 'show', ids['ok-drift']!]);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: ids['ok-drift'],
      resolved_model: 'bge-small-v1-q8',
      model_mismatch: true,
    });
    expect(shown.stderr).toContain("the upstream served 'bge-small-v1-q8'");
    expect((await cli(['logs', 'show', 'req_nope'])).code).toBe(4);
  });
});

describe('usage', () => {
  it('sums match the rows; the table has a bar per day', async () => {
    const rows = await json(['logs', 'list', '--since', '1h']);
    const report = await json(['usage', '--since', '1h', '--by', 'model']);
    expect(report.totals.requests).toBe(rows.length);
    expect(report.totals.prompt_tokens).toBe(
      rows.reduce((n: number, r: { prompt_tokens: number }) => n + r.prompt_tokens, 0),
    );
    expect(report.totals.cost_usd).toBeCloseTo(
      rows.reduce((n: number, r: { cost_usd: number }) => n + r.cost_usd, 0),
      12,
    );
    const table = await cli(['usage', '--by', 'key', '-o', 'table']);
    expect(table.stdout).toMatch(/^KEY\s+REQUESTS\s+ERRORS\s+INPUTS\s+TOKENS\s+COST$/m);
    expect(table.stdout).toMatch(/tokens per day\n\d{4}-\d{2}-\d{2}\s+█+/);
    expect((await cli(['usage', '--by', 'week'])).code).toBe(2);
  });
});

describe('cache', () => {
  it('a second embed of the same corpus costs no upstream tokens; usage and cache stats show the saving; clear empties it', async () => {
    const upstream = await startFake(FORMATS.openai);
    try {
      const created = await cli([
        'models',
        'create',
        '--id',
        'cached',
        '--provider',
        'openai',
        '--base-url',
        `${upstream.url}/v1`,
        '--token',
        TOKEN,
        '--model',
        'text-embedding-3-small',
        '--price',
        '20',
        '--cache',
        'on',
        '--cache-scope',
        'key',
      ]);
      expect(created.code, created.stderr).toBe(0);
      const dir = join(gateway.env.EMBCTL_DATA_DIR!, 'corpus');
      mkdirSync(dir, { recursive: true });
      const corpus = join(dir, 'corpus.txt');
      writeFileSync(corpus, Array.from({ length: 40 }, (_, i) => `chunk number ${i % 30} of the corpus`).join('\n'));
      const first = await cli(['embed', '-f', corpus, '--model', 'cached', '--out', join(dir, 'a.jsonl')]);
      expect(first.code, first.stderr).toBe(0);
      const sent = upstream.requests.length;
      expect(sent).toBeGreaterThan(0);
      const second = await cli(['embed', '-f', corpus, '--model', 'cached', '--out', join(dir, 'b.jsonl')]);
      expect(second.code, second.stderr).toBe(0);
      expect(upstream.requests.length).toBe(sent);
      expect(readFileSync(join(dir, 'b.jsonl'), 'utf8').split('\n').slice(1)).toEqual(
        readFileSync(join(dir, 'a.jsonl'), 'utf8').split('\n').slice(1),
      );

      const usage = await json(['usage', '--model', 'cached']);
      expect(usage.totals.cached_inputs).toBe(30);
      expect(usage.totals.cost_saved_usd).toBeGreaterThan(0);
      const table = await cli(['usage', '--model', 'cached', '-o', 'table']);
      expect(table.stdout).toMatch(
        /cache: 30 of 60 inputs answered without the upstream, \d+ tokens and \$0\.\d+ saved/,
      );

      const stats = await json(['cache', 'stats', '--entity', 'cached']);
      expect(stats.entities).toEqual([
        { entity_id: 'cached', enabled: true, scope: 'key', ttl_s: 604800, entries: 30, bytes: 30 * 8 * 4 },
      ]);
      expect(stats.last_24h.cached_inputs).toBe(30);
      const statsTable = await cli(['cache', 'stats', '-o', 'table']);
      expect(statsTable.stdout).toMatch(/^cached\s+on\s+key\s+604800s\s+30\s/m);

      const refused = await cli(['cache', 'clear']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('--yes');
      const unknown = await cli(['cache', 'stats', '--entity', 'nope']);
      expect(unknown.code).toBe(4);
      const cleared = await cli(['cache', 'clear', '--entity', 'cached', '--yes']);
      expect(cleared.code, cleared.stderr).toBe(0);
      expect(JSON.parse(cleared.stdout)).toEqual({ object: 'cache.cleared', entity_id: 'cached', deleted: 30 });
      const clearedTable = await cli(['cache', 'clear', '--yes', '-o', 'table']);
      expect(clearedTable.stderr).toMatch(/deleted \d+ cached embeddings/);
      expect((await json(['cache', 'stats', '--entity', 'cached'])).entities[0].entries).toBe(0);
    } finally {
      await upstream.close();
    }
  });
});

describe('logs tail -f', () => {
  it('shows a new call within a second, survives a gateway restart, and exits 0 on Ctrl-C', async () => {
    const env = isolatedEnv();
    const port = await freePort();
    let served = await spawnGateway({ env, args: ['--port', String(port)] });
    // spawnGateway passes --port 0 first; the later --port wins.
    const tail = spawnTail(['-n', '0'], env);
    const waitFor = async (id: string, ms: number) => {
      const deadline = Date.now() + ms;
      while (!tail.ids().includes(id)) {
        if (Date.now() > deadline) throw new Error(`tail did not show ${id} within ${ms} ms; got ${tail.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Connected (the CLI says so on stderr) before the call: a row stored earlier is not "new".
    await tail.following();
    const first = await embeddingsCall(served.url, served.apiKey, { model: 'local', input: 'tail me' });
    await waitFor(String(first.headers['x-request-id']), 1000);

    expect(await served.stop()).toBe(0);
    served = await spawnGateway({ env, args: ['--port', String(port)] });
    const second = await embeddingsCall(served.url, served.apiKey, { model: 'local', input: 'after the restart' });
    await waitFor(String(second.headers['x-request-id']), 8000);
    expect(tail.ids()).toEqual([first.headers['x-request-id'], second.headers['x-request-id']]);
    expect(await tail.interrupt()).toBe(0);
    await served.stop();
  });
});

describe('gateway status, --detach and stop', () => {
  it('runs in the background with a pid file, reports its status, and stops', async () => {
    const env = isolatedEnv();
    const port = await freePort();
    const started = await runCli(['gateway', 'start', '--detach', '--port', String(port)], { env });
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout.trim()).toBe(`http://127.0.0.1:${port}`);
    const status = await runCli(['gateway', 'status', '-o', 'json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      entities: { enabled: 1, total: 1 },
      keys: { active: 1, total: 1 },
      store: { kind: 'sqlite' },
      uptime_s: expect.any(Number),
    });
    const table = await runCli(['gateway', 'status', '-o', 'table'], { env });
    expect(table.stdout).toMatch(/models: +1 enabled of 1/);
    expect((await runCli(['gateway', 'start', '--detach', '--port', String(port)], { env })).code).toBe(5);
    const stopped = await runCli(['gateway', 'stop'], { env });
    expect(stopped.code, stopped.stderr).toBe(0);
    expect((await runCli(['gateway', 'status'], { env })).code).toBe(6);
    expect((await runCli(['gateway', 'stop'], { env })).code).toBe(4);
    // Nothing configured at all: status says so, and starts no gateway to report on.
    const none = await runCli(['gateway', 'status'], { env: isolatedEnv() });
    expect(none.code).toBe(6);
    expect(none.stderr).toContain('no gateway is configured');
  });

  it('stop after the gateway was killed says it had ended, removes the stale pid file, and signals nobody', async () => {
    const env = isolatedEnv();
    const started = await runCli(['gateway', 'start', '--detach', '--port', String(await freePort())], { env });
    expect(started.code, started.stderr).toBe(0);
    const pidFile = join(env.EMBCTL_DATA_DIR!, 'gateway.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGKILL');
    // Gone, or a zombie nobody reaped yet (its command line is empty then).
    const gone = () => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === '';
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 100 && !gone(); i++) await new Promise((r) => setTimeout(r, 50));
    const stopped = await runCli(['gateway', 'stop'], { env });
    expect(stopped.code).toBe(4);
    expect(stopped.stderr).toContain(`(pid ${pid}) was not running: it ended without stopping`);
    expect(existsSync(pidFile)).toBe(false);
    // A pid file naming a live process that is no gateway (this test's own) is stale too: nothing is signalled.
    writeFileSync(pidFile, `${process.pid}\n`);
    expect((await runCli(['gateway', 'stop'], { env })).code).toBe(4);
    expect(existsSync(pidFile)).toBe(false);
  });
});

describe('doctor', () => {
  it('passes on a healthy setup, and fails with the fix when the key is revoked or the gateway is down', async () => {
    const healthy = await cli(['doctor', '-o', 'table']);
    expect(healthy.code, healthy.stdout).toBe(0);
    expect(healthy.stdout).toMatch(/✔ gateway: .* answers/);
    expect(healthy.stdout).toMatch(/✔ pinned model: 'local\/hash-384-v1' resolves/);

    const key = (
      await call('POST', `${gateway.url}/v1/api-keys`, { token: gateway.adminToken, body: { name: 'doomed' } })
    ).body;
    await call('POST', `${gateway.url}/v1/api-keys/${key.id}/revoke`, { token: gateway.adminToken });
    const revoked = await cli(['doctor', '-o', 'table'], { EMBCTL_API_KEY: key.secret });
    expect(revoked.code).toBe(1);
    expect(revoked.stdout).toMatch(/✖ API key: .*was revoked/);
    expect(revoked.stdout).toMatch(/fix: the API key came from EMBCTL_API_KEY: check its value/);

    const down = await cli(['doctor', '-o', 'json'], { EMBCTL_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    const checks = JSON.parse(down.stdout);
    expect(checks.find((c: { check: string }) => c.check === 'gateway')).toMatchObject({
      ok: false,
      hint: expect.stringContaining('embctl gateway start'),
    });
    // What depends on the gateway is skipped, never reported as passing.
    for (const name of ['clock', 'API key', 'models']) {
      expect(checks.find((c: { check: string }) => c.check === name)).toMatchObject({ skipped: true });
    }
    expect(revoked.stdout).toMatch(/- models: skipped: the API key check failed/);
  });
});

describe('completion', () => {
  /** Loads the bash script (twice, as a second `source ~/.bashrc` does) into a real bash and completes `words`. */
  async function bashComplete(words: string[], onStderr?: (text: string) => void): Promise<string[]> {
    const script = [
      'source completions/embctl.bash',
      'source completions/embctl.bash',
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      `COMP_LINE='${words.join(' ')}'`,
      'COMP_POINT=${#COMP_LINE}',
      'func=$(complete -p embctl | sed -E "s/.*-F ([^ ]+).*/\\1/")',
      '$func embctl',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', script], {
        cwd: ROOT,
        env: { ...gateway.env, PATH: `${join(ROOT, 'bin')}:${process.env.PATH}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('exit', () => onStderr?.(err));
      child.on('exit', () =>
        resolve(
          out
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        ),
      );
    });
  }

  it('the committed scripts are what `completion SHELL` prints', async () => {
    const { readFileSync } = await import('node:fs');
    for (const [shell, file] of [
      ['bash', 'embctl.bash'],
      ['zsh', '_embctl'],
      ['fish', 'embctl.fish'],
    ]) {
      const printed = await cli(['completion', shell!]);
      expect(printed.stdout).toBe(readFileSync(join(ROOT, 'completions', file!), 'utf8'));
    }
  });

  it('bash completes commands, fixed choices, and model ids from the running gateway', async () => {
    expect(await bashComplete(['embctl', 'mo'])).toEqual(['models']);
    expect(await bashComplete(['embctl', 'models', 'get', ''])).toEqual(expect.arrayContaining(['local', 'drifting']));
    expect(await bashComplete(['embctl', 'models', 'list', '-o', ''])).toEqual([
      'table',
      'wide',
      'json',
      'yaml',
      'ndjson',
    ]);
    expect(await bashComplete(['embctl', 'profile', 'use', ''])).toEqual(['local']);
  });

  it('bash completes paths for file options, values of list options and key ids; sourcing twice is silent', async () => {
    const dir = join(gateway.env.HOME!, 'completion');
    mkdirSync(join(dir, 'docs-dir'), { recursive: true });
    writeFileSync(join(dir, 'docs.txt'), 'a\n');
    let stderr = 'not run';
    expect((await bashComplete(['embctl', 'embed', '-f', `${dir}/do`], (e) => (stderr = e))).sort()).toEqual([
      `${dir}/docs-dir`,
      `${dir}/docs.txt`,
    ]);
    expect(stderr).toBe('');
    expect(await bashComplete(['embctl', 'search', 'q', '--index', `${dir}/docs.`])).toEqual([`${dir}/docs.txt`]);
    expect(await bashComplete(['embctl', 'models', 'apply', '--file', `${dir}/d`])).toHaveLength(2);
    expect(await bashComplete(['embctl', 'gateway', 'start', '--data-dir', `${dir}/d`])).toEqual([`${dir}/docs-dir`]);
    expect(await bashComplete(['embctl', 'usage', '--by', ''])).toEqual(['model', 'key', 'day', 'provider', 'entity']);
    expect(await bashComplete(['embctl', 'logs', 'list', '--status', '4'])).toEqual(
      expect.arrayContaining(['4xx', '429']),
    );
    expect(await bashComplete(['embctl', 'usage', '--chart', ''])).toEqual(['tokens', 'cost']);
    expect(await bashComplete(['embctl', 'embed', '--split', ''])).toEqual(['line', 'paragraph']);
    expect(await bashComplete(['embctl', 'keys', 'revoke', 'def'])).toEqual(['default']);
    // A word that is no path and no value leaves nothing to complete, rather than the working directory.
    expect(await bashComplete(['embctl', 'logs', 'show', 'zz'])).toEqual([]);
  });
});

describe('starting a second gateway', () => {
  it('on a port in use fails at once naming the port and its holder, and creates nothing', async () => {
    const port = Number(new URL(gateway.url).port);
    const dataDir = join(gateway.env.HOME!, 'never-created');
    const result = await runCli(['gateway', 'start', '--port', String(port), '--data-dir', dataDir], {
      env: gateway.env,
    });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
    expect(result.stderr).toMatch(/by pid \d+/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('over another data dir saves its own profile and leaves the first one as it was', async () => {
    const before = JSON.parse((await cli(['profile', 'show', 'local', '-o', 'json'])).stdout);
    const other = await spawnGateway({
      env: { ...gateway.env, EMBCTL_DATA_DIR: join(gateway.env.HOME!, 'second-data') },
    });
    const after = JSON.parse((await cli(['profile', 'show', 'local', '-o', 'json'])).stdout);
    expect(after, JSON.stringify([before, after])).toEqual(before);
    const second = JSON.parse((await cli(['profile', 'show', 'local-2', '-o', 'json'])).stdout);
    expect(second.dataDir).toBe(join(gateway.env.HOME!, 'second-data'));
    expect(second.url).toBe(other.url);
    await other.stop();
  });
});

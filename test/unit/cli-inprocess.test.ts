/** argv → options → handler, in-process, against a mocked transport (undici MockAgent). */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { mockGateway, runInProcess, scriptedPrompter } from '../helpers/inprocess.js';

const entity = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  description: '',
  provider: 'local',
  config: { connection: { timeout: 180000 }, options: { model: 'hash-64-v1' } },
  models: { include: [], exclude: [] },
  enabled: true,
  dimensions: 64,
  pricing: { input_per_million_tokens: 0, currency: 'USD' },
  metadata: {},
  tags: [],
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  ...extra,
});

const error = (_status: number, message: string, code: string | null = null, param: string | null = null) => ({
  error: { message, type: 'x', param, code },
});

describe('argv → request', () => {
  it('models create turns every flag into the entity body, validated before sending', async () => {
    const { agent, pool } = mockGateway();
    let sent: any;
    pool
      .intercept({ path: '/v1/embedding-models', method: 'POST', headers: { authorization: 'Bearer embadm_test' } })
      .reply(201, (opts) => {
        sent = JSON.parse(String(opts.body));
        return entity(sent.id);
      });
    const result = await runInProcess(
      [
        'models',
        'create',
        '--provider',
        'openai',
        '--id',
        'oa',
        '--model',
        'text-embedding-3-large',
        '--option',
        'dimensions=256',
        '--option',
        'input_type=doc',
        '--tag',
        'a',
        '--tag',
        'b',
        '--include',
        'text-.*',
        '--price',
        '0.13',
        '--upstream-timeout',
        '5000',
        '--header',
        'x-team=search',
        '--token',
        '${env:OPENAI_API_KEY}',
        '--disabled',
        '-o',
        'json',
      ],
      { agent },
    );
    expect(result.stderr).toContain('created oa');
    expect(result.code).toBe(0);
    expect(sent).toMatchObject({
      id: 'oa',
      provider: 'openai',
      enabled: false,
      config: {
        connection: { timeout: 5000, token: '${env:OPENAI_API_KEY}', headers: { 'x-team': 'search' } },
        options: { model: 'text-embedding-3-large', dimensions: 256, input_type: 'doc' },
      },
      models: { include: ['text-.*'], exclude: [] },
      pricing: { input_per_million_tokens: 0.13 },
      tags: ['a', 'b'],
    });
  });

  it('refuses an invalid entity locally, naming the field, without a request', async () => {
    const result = await runInProcess(['models', 'create', '--provider', 'openia', '--id', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("'provider' must be one of");
  });

  it.each([
    [['embed', '--dimensions', 'lots'], '--dimensions must be a whole number'],
    [['models', 'list', '--nope'], "unknown option '--nope'"],
    [['models', 'constrain', 'x', '--include', '(['], 'is not a valid regular expression'],
    [['-o', 'xml', 'models', 'list'], "argument 'xml' is invalid"],
    [['keys', 'create', 'n', '--expires', 'someday'], '--expires takes a duration'],
    [['gateway', 'start', '--log-retention', 'forever'], '--log-retention must be a duration'],
    [['models', 'create', '--provider', 'local', '--id', 'x', '--option', 'novalue'], '--option takes key=value'],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const result = await runInProcess(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('output', () => {
  it('models list: JSON when piped, a table on a terminal, more columns with -o wide', async () => {
    const serve = () => {
      const { agent, pool } = mockGateway();
      pool
        .intercept({ path: (p) => p.startsWith('/v1/embedding-models'), method: 'GET' })
        .reply(200, [entity('a'), entity('b', { enabled: false })]);
      return agent;
    };
    const piped = await runInProcess(['models', 'list'], { agent: serve() });
    expect(JSON.parse(piped.stdout).map((e: { id: string }) => e.id)).toEqual(['a', 'b']);
    const table = await runInProcess(['models', 'list'], { agent: serve(), tty: true, env: { CI: 'true' } });
    expect(table.stdout).toMatch(/^ID\s+NAME\s+PROVIDER/m);
    expect(table.stdout).toContain('disabled');
    const wide = await runInProcess(['models', 'list', '-o', 'wide'], { agent: serve() });
    expect(wide.stdout).toContain('BASE URL');
    const ndjson = await runInProcess(['models', 'list', '-o', 'ndjson'], { agent: serve() });
    expect(ndjson.stdout.trim().split('\n')).toHaveLength(2);
    const yaml = await runInProcess(['models', 'list', '-o', 'yaml'], { agent: serve() });
    expect(yaml.stdout).toContain('- id: a');
  });

  it('keys create -q prints only the secret', async () => {
    const { agent, pool } = mockGateway();
    pool.intercept({ path: '/v1/api-keys', method: 'POST' }).reply(201, {
      id: 'key_1',
      name: 'ci',
      secret: 'emb_SECRET',
      redacted: 'emb_…CRET',
      enabled: true,
      expires_at: null,
      revoked_at: null,
      metadata: {},
      created_at: '',
      updated_at: '',
    });
    const result = await runInProcess(['keys', 'create', 'ci', '-q'], { agent });
    expect(result.stdout).toBe('emb_SECRET\n');
    expect(result.stderr).toBe('');
  });
});

describe('HTTP failures → exit codes', () => {
  it.each([
    [401, error(401, 'Incorrect admin token.', 'invalid_admin_token'), 3],
    [403, error(403, 'An API key cannot call admin routes', 'admin_token_required'), 3],
    [404, error(404, "Embedding model 'x' does not exist.", 'not_found'), 4],
    [412, error(412, 'was changed by someone else', 'etag_mismatch'), 5],
    [400, error(400, "Embedding model 'x' already exists", 'duplicate_id', 'id'), 5],
    [429, error(429, 'slow down', 'rate_limit_exceeded'), 7],
    [400, error(400, "Invalid embedding model: 'dimensions' too big", 'invalid_entity', 'dimensions'), 1],
    [502, error(502, 'upstream failed', 'upstream_error'), 1],
    [504, error(504, 'upstream timeout', 'upstream_timeout'), 6],
  ])('HTTP %i (%j) → its exit code, the message and the request id', async (status, body, exit) => {
    const { agent, pool } = mockGateway();
    pool
      .intercept({ path: '/v1/embedding-models/x', method: 'GET' })
      .reply(status, body, { headers: { 'x-request-id': 'req_abc' } });
    const result = await runInProcess(['models', 'get', 'x', '-v'], { agent });
    expect(result.code).toBe(exit);
    expect(result.stderr).toContain(`error: ${body.error.message}`);
    expect(result.stderr).toContain('req_abc');
  });

  it('a missing admin token is an auth error naming where to set it', async () => {
    const result = await runInProcess(['models', 'list'], { env: { EMBCTL_ADMIN_TOKEN: '' } });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('EMBCTL_ADMIN_TOKEN');
  });
});

describe('non-interactive rules', () => {
  it('a destructive verb needs --yes when not on a terminal, and asks on one', async () => {
    const { agent, pool } = mockGateway();
    pool.intercept({ path: '/v1/embedding-models/x', method: 'GET' }).reply(200, entity('x'));
    const refused = await runInProcess(['models', 'delete', 'x'], { agent });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');

    const confirmed = mockGateway();
    confirmed.pool.intercept({ path: '/v1/embedding-models/x', method: 'GET' }).reply(200, entity('x'));
    confirmed.pool
      .intercept({ path: '/v1/embedding-models/x', method: 'DELETE' })
      .reply(200, { deleted: true, id: 'x' });
    const prompter = scriptedPrompter([true]);
    const asked = await runInProcess(['models', 'delete', 'x'], { agent: confirmed.agent, tty: true, prompter });
    expect(asked.code).toBe(0);
    expect(prompter.asked[0]).toMatch(/Delete embedding model 'x'/);
  });

  it('never prompts under CI even on a terminal: a missing value names its flag', async () => {
    const result = await runInProcess(['models', 'create'], { tty: true, env: { CI: 'true' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--provider');
  });
});

describe('wizards (scripted answers)', () => {
  it('models create on a terminal walks provider → connection → model → options', async () => {
    const { agent, pool } = mockGateway();
    let sent: any;
    pool.intercept({ path: '/v1/embedding-models', method: 'POST' }).reply(201, (opts) => {
      sent = JSON.parse(String(opts.body));
      return entity(sent.id);
    });
    const prompter = scriptedPrompter([
      'openai',
      'https://api.openai.com/v1',
      'env',
      'OPENAI_API_KEY',
      'text-embedding-3-small',
      '1536',
      'user=me',
      'oa-small',
    ]);
    const result = await runInProcess(['models', 'create'], { agent, tty: true, prompter });
    expect(result.code).toBe(0);
    expect(sent).toMatchObject({
      id: 'oa-small',
      provider: 'openai',
      dimensions: 1536,
      config: {
        connection: { token: '${env:OPENAI_API_KEY}' },
        options: { model: 'text-embedding-3-small', user: 'me' },
      },
    });
    expect(prompter.asked).toEqual([
      'Provider:',
      'Base URL:',
      'Token:',
      'Variable name:',
      'Model:',
      'Dimensions (empty if unknown):',
      'Extra options as key=value, comma-separated (empty for none):',
      'Id:',
    ]);
  });

  it('profile add without flags asks, and with --no-check saves a 0600 file', async () => {
    const prompter = scriptedPrompter(['staging', 'http://staging:8080', 'emb_staging_key_123456', '']);
    const result = await runInProcess(['profile', 'add', '--no-check'], {
      tty: true,
      prompter,
      env: { EMBCTL_URL: '', EMBCTL_API_KEY: '', EMBCTL_ADMIN_TOKEN: '' },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('emb_…3456');
    expect(result.stdout).not.toContain('emb_staging_key_123456');
    expect(statSync(join(result.profilesDir, 'config.json')).mode & 0o777).toBe(0o600);
  });

  it('profile add reads the key from stdin with --api-key-stdin', async () => {
    const result = await runInProcess(
      ['profile', 'add', 'ci', '--url', 'http://ci:1', '--api-key-stdin', '--no-check', '-o', 'json'],
      { stdin: 'emb_from_stdin_abcdef\n' },
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: 'ci', url: 'http://ci:1', apiKey: 'emb_…cdef' });
  });

  it('every command takes its secrets from a file or stdin (global options), never needing them in argv', async () => {
    const file = join(tempDir('secrets'), 'admin-token');
    writeFileSync(file, 'embadm_from_file_987654\n', { mode: 0o600 });
    const { agent, pool } = mockGateway();
    pool
      .intercept({
        path: (path) => path.startsWith('/v1/embedding-models'),
        method: 'GET',
        headers: { authorization: 'Bearer embadm_from_file_987654' },
      })
      .reply(200, [entity('from-file')]);
    const listed = await runInProcess(['models', 'list', '--admin-token-file', file, '-o', 'json'], { agent });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)[0]).toMatchObject({ id: 'from-file' });

    const added = await runInProcess(
      ['profile', 'add', 'ci', '--url', 'http://ci:1', '--api-key-stdin', '--admin-token-file', file, '--no-check'],
      { stdin: 'emb_piped_abcdef\n' },
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('emb_…cdef');
    expect(added.stdout).toContain('embadm_…7654');
  });

  it('a secret file that cannot be read, or two sources for one secret, is a usage error naming them', async () => {
    const missing = await runInProcess(['models', 'list', '--admin-token-file', '/nonexistent/token']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--admin-token-file '/nonexistent/token' cannot be read (no such file)");
    const both = await runInProcess(['models', 'list', '--api-key', 'emb_x', '--api-key-file', '/tmp/x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--api-key-file.*cannot be used with.*--api-key/);
  });
});

describe('models diff', () => {
  it('exits 1 and names the field when the gateway differs from the file', async () => {
    const { agent, pool } = mockGateway();
    pool
      .intercept({ path: (p) => p.startsWith('/v1/embedding-models'), method: 'GET' })
      .reply(200, [entity('local-small', { dimensions: 32 })]);
    const result = await runInProcess(['models', 'diff', '-f', '-', '-o', 'table'], {
      agent,
      stdin: 'id: local-small\nprovider: local\nconfig: { options: { model: hash-64-v1 } }\ndimensions: 64\n',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('~ local-small (update)');
    expect(result.stdout).toContain('dimensions: 32 → 64');
  });
});

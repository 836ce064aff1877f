/** Every profile, models and keys command through the built `bin/embctl`, against the started gateway. */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';

let gateway: SpawnedGateway;
const cli = (args: string[], input?: string, env: Record<string, string> = {}) =>
  runCli(args, { env: { ...gateway.env, ...env }, ...(input === undefined ? {} : { input }) });
const json = async (args: string[], input?: string) => {
  const result = await cli([...args, '-o', 'json'], input);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
};

beforeAll(async () => {
  gateway = await spawnGateway();
});
afterAll(async () => {
  await gateway.stop();
});

describe('profile', () => {
  it('add (flags, key on stdin, gateway checked) / list / use / show / set / remove', async () => {
    const added = await cli(
      [
        'profile',
        'add',
        'ops',
        '--url',
        gateway.url,
        '--api-key-stdin',
        '--admin-token',
        gateway.adminToken,
        '-o',
        'json',
      ],
      `${gateway.apiKey}\n`,
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain('API key accepted');
    expect(added.stderr).toContain('admin token accepted');
    expect(added.stdout).not.toContain(gateway.apiKey);

    const listed = await json(['profile', 'list']);
    expect(listed.map((p: { name: string }) => p.name).sort()).toEqual(['local', 'ops']);
    expect(JSON.stringify(listed)).not.toContain(gateway.adminToken);
    const table = await cli(['profile', 'list', '-o', 'table']);
    expect(table.stdout).toMatch(/^\*\s+local\s/m);

    expect((await cli(['profile', 'use', 'ops'])).code).toBe(0);
    expect(await json(['profile', 'show'])).toMatchObject({ name: 'ops', current: true, url: gateway.url });
    expect((await cli(['profile', 'set', 'model', 'local/hash-384-v1'])).code).toBe(0);
    expect(await json(['profile', 'show', 'ops'])).toMatchObject({ model: 'local/hash-384-v1' });
    expect((await cli(['profile', 'set', 'apiKey', '-'], 'emb_replaced_key_9999')).stdout).toContain('emb_…9999');

    expect((await cli(['profile', 'remove', 'ops'])).code).toBe(2);
    expect((await cli(['profile', 'remove', 'ops', '--yes'])).code).toBe(0);
    expect((await cli(['profile', 'use', 'local'])).code).toBe(0);
    expect((await cli(['profile', 'show', 'ops'])).code).toBe(4);
  });

  it('checks a pinned model with the gateway, and errors caused by a profile value name the profile', async () => {
    const add = ['profile', 'add', 'pinned', '--url', gateway.url, '--api-key', gateway.apiKey, '--no-check'];
    expect((await cli(add)).code).toBe(0);
    const unknown = await cli(['--profile', 'pinned', 'profile', 'set', 'model', 'nosuch']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain("profile 'pinned' not changed: The model 'nosuch' does not exist");
    expect(unknown.stderr).toContain('--no-check');
    expect((await json(['profile', 'show', 'pinned'])).model).toBeUndefined();

    expect((await cli(['--profile', 'pinned', 'profile', 'set', 'model', 'nosuch', '--no-check'])).code).toBe(0);
    const embedded = await cli(['--profile', 'pinned', 'embed', 'hello']);
    expect(embedded.code).toBe(4);
    expect(embedded.stderr).toContain("(the model 'nosuch' came from profile 'pinned')");
    expect(embedded.stderr).toContain('embctl profile set model NAME');

    expect((await cli(['--profile', 'pinned', 'profile', 'set', 'apiKey', 'emb_revoked_or_wrong_0000'])).code).toBe(0);
    const refused = await cli(['--profile', 'pinned', 'embed', 'hello', '--model', 'local']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(
      "hint: the API key came from profile 'pinned': replace it with `embctl --profile pinned profile set apiKey -`",
    );
    expect((await cli(['--profile', 'pinned', 'profile', 'set', 'url', 'http://127.0.0.1:9'])).code).toBe(0);
    const unreachable = await cli(['--profile', 'pinned', 'models', 'list', '--admin-token', gateway.adminToken]);
    expect(unreachable.code).toBe(6);
    expect(unreachable.stderr).toContain("cannot reach the gateway at http://127.0.0.1:9 (from profile 'pinned')");
    expect((await cli(['profile', 'remove', 'pinned', '-y'])).code).toBe(0);
  });

  it('refuses to save a profile the gateway rejects, unless --no-check', async () => {
    const bad = await cli(['profile', 'add', 'bad', '--url', gateway.url, '--api-key', 'emb_wrong_key_000000']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('not saved');
    expect(bad.stderr).toContain('--no-check');
    expect((await cli(['profile', 'add', 'bad', '--url', 'http://127.0.0.1:9', '--no-check'])).code).toBe(0);
    expect((await cli(['profile', 'remove', 'bad', '-y'])).code).toBe(0);
  });
});

describe('models', () => {
  it('create (flags) / get / list / update / enable / disable / constrain / delete, in JSON and tables', async () => {
    const created = await json([
      'models',
      'create',
      '--provider',
      'local',
      '--id',
      'cli-small',
      '--name',
      'CLI small',
      '--model',
      'hash-32-v1',
      '--dimensions',
      '32',
      '--tag',
      'cli',
    ]);
    expect(created).toMatchObject({ id: 'cli-small', name: 'CLI small', dimensions: 32, tags: ['cli'] });
    expect((await json(['models', 'get', 'cli-small'])).config.options.model).toBe('hash-32-v1');
    const getTable = await cli(['models', 'get', 'cli-small', '-o', 'table']);
    expect(getTable.stdout).toMatch(/^model:\s+hash-32-v1$/m);

    const listed = await json(['models', 'list', '--tag', 'cli']);
    expect(listed.map((e: { id: string }) => e.id)).toEqual(['cli-small']);
    const table = await cli(['models', 'list', '-o', 'table']);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+PROVIDER\s+MODEL\s+DIMS\s+STATUS\s+PRICE$/m);
    expect(table.stdout).toMatch(/^cli-small\s+CLI small\s+local\s+hash-32-v1\s+32\s+enabled\s+\$0\/1M$/m);
    expect((await cli(['models', 'list', '-o', 'wide'])).stdout).toContain('UPDATED');

    expect((await json(['models', 'update', 'cli-small', '--description', 'updated by the CLI'])).description).toBe(
      'updated by the CLI',
    );
    expect((await json(['models', 'disable', 'cli-small'])).enabled).toBe(false);
    expect((await json(['models', 'list', '--disabled'])).map((e: { id: string }) => e.id)).toEqual(['cli-small']);
    const refused = await cli(['embed', 'x', '--model', 'cli-small']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("The embedding model 'cli-small' is disabled");
    expect(refused.stderr).toContain('hint: an operator can enable it: `embctl models enable ID`');
    expect(refused.stderr).not.toContain('the credential is valid');
    expect((await json(['models', 'enable', 'cli-small'])).enabled).toBe(true);

    const constrained = await json([
      'models',
      'constrain',
      'cli-small',
      '--include',
      'hash-(32|64)-v1',
      '--exclude',
      'hash-64-v1',
    ]);
    expect(constrained.models).toEqual({ include: ['hash-(32|64)-v1'], exclude: ['hash-64-v1'] });
    expect((await cli(['embed', 'x', '--model', 'cli-small/hash-64-v1'])).code).toBe(3);
    expect((await json(['models', 'constrain', 'cli-small', '--clear'])).models).toEqual({ include: [], exclude: [] });

    expect((await cli(['models', 'delete', 'cli-small'])).code).toBe(2);
    expect((await cli(['models', 'get', 'cli-small'])).code).toBe(0);
    expect((await cli(['models', 'delete', 'cli-small', '--yes'])).code).toBe(0);
    expect((await cli(['models', 'get', 'cli-small'])).code).toBe(4);
  });

  it('create and update from files, with local validation', async () => {
    const dir = tempDir('entities');
    writeFileSync(
      join(dir, 'one.json'),
      JSON.stringify({ id: 'from-json', provider: 'local', config: { options: { model: 'hash-16-v1' } } }),
    );
    writeFileSync(join(dir, 'bad.yaml'), 'id: bad one\nprovider: local\n');
    expect((await json(['models', 'create', '-f', join(dir, 'one.json')])).id).toBe('from-json');
    const invalid = await cli(['models', 'create', '-f', join(dir, 'bad.yaml')]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("'id' must start with a letter or digit");
    const duplicate = await cli(['models', 'create', '-f', join(dir, 'one.json')]);
    expect(duplicate.code).toBe(5);
    writeFileSync(
      join(dir, 'one.json'),
      JSON.stringify({
        id: 'from-json',
        provider: 'local',
        config: { options: { model: 'hash-16-v1' } },
        description: 'replaced',
      }),
    );
    expect((await json(['models', 'update', 'from-json', '-f', join(dir, 'one.json')])).description).toBe('replaced');
    expect((await cli(['models', 'delete', 'from-json', '-y'])).code).toBe(0);
  });

  it('apply examples/models.yaml, then diff reports nothing; an edit makes diff exit 1 and show it', async () => {
    const applied = await cli(['models', 'apply', '-f', 'examples/models.yaml', '-o', 'table']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('+ openai-small (create)');
    expect(applied.stderr).toContain('27 created');

    const clean = await cli(['models', 'diff', '-f', 'examples/models.yaml']);
    expect(clean.code).toBe(0);
    expect(clean.stderr).toContain('no differences');
    expect((await cli(['models', 'apply', '-f', 'examples/models.yaml'])).stderr).toContain('nothing to change');

    const dir = tempDir('apply');
    const edited = join(dir, 'models.yaml');
    copyFileSync('examples/models.yaml', edited);
    writeFileSync(
      edited,
      readFileSync(edited, 'utf8')
        .replace('  dimensions: 64\n', '  dimensions: 48\n')
        .replace('mistral-embed', 'mistral-embed-2312'),
    );
    const changed = await cli(['models', 'diff', '-f', edited, '-o', 'table']);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain('~ local-small (update)');
    expect(changed.stdout).toContain('dimensions: 64 → 48');
    expect(changed.stdout).toContain('config.options.model: "mistral-embed" → "mistral-embed-2312"');
    const asJson = await cli(['models', 'diff', '-f', edited]);
    expect(
      JSON.parse(asJson.stdout)
        .map((p: { id: string; action: string }) => `${p.action} ${p.id}`)
        .sort(),
    ).toEqual(['update local-small', 'update mistral']);

    expect((await cli(['models', 'apply', '-f', edited, '--dry-run'])).stderr).toContain(
      'dry run: 2 change(s) not applied',
    );
    expect((await cli(['models', 'diff', '-f', edited])).code).toBe(1);
    expect((await cli(['models', 'apply', '-f', edited])).code).toBe(0);
    expect((await cli(['models', 'diff', '-f', edited])).code).toBe(0);

    // --prune deletes what the files do not hold, only with --yes when not on a terminal.
    writeFileSync(edited, readFileSync('examples/models.yaml', 'utf8').split('\n- id: openai-small')[0]!);
    expect((await cli(['models', 'apply', '-f', edited, '--prune'])).code).toBe(2);
    const pruned = await cli(['models', 'apply', '-f', edited, '--prune', '--yes']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect((await json(['models', 'list'])).map((e: { id: string }) => e.id)).toEqual(['local-small']);
  });
});

describe('keys', () => {
  // The prune above left only local-small: the key is exercised against it.
  it('create (-q) / list / get / constrain / revoke, and the revoked key is refused at once', async () => {
    const created = await cli(['keys', 'create', 'pipeline', '--expires', '30d', '-q']);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^emb_/);
    expect(created.stderr).toBe('');
    expect(
      (await cli(['embed', 'with the new key', '--model', 'local-small'], undefined, { EMBCTL_API_KEY: secret })).code,
    ).toBe(0);

    const listed = await json(['keys', 'list']);
    const key = listed.find((k: { name: string }) => k.name === 'pipeline');
    expect(key).toMatchObject({ redacted: `emb_…${secret.slice(-4)}` });
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect((await cli(['keys', 'list', '-o', 'table'])).stdout).toMatch(/^key_\w+\s+pipeline\s+emb_…/m);
    expect(await json(['keys', 'get', 'pipeline'])).toMatchObject({ id: key.id });

    const constrained = await json(['keys', 'constrain', 'pipeline', '--include', 'hash-.*']);
    expect(constrained.metadata.ai_models_include).toBe('hash-.*');
    expect((await cli(['embed', 'x', '--model', 'local-small'], undefined, { EMBCTL_API_KEY: secret })).code).toBe(0);
    await json(['keys', 'constrain', 'pipeline', '--clear', '--exclude', 'hash-64-v1']);
    expect((await cli(['embed', 'x', '--model', 'local-small'], undefined, { EMBCTL_API_KEY: secret })).code).toBe(3);

    expect((await cli(['keys', 'revoke', 'pipeline'])).code).toBe(2);
    expect((await cli(['keys', 'revoke', key.id, '--yes'])).code).toBe(0);
    const refused = await cli(['embed', 'x', '--model', 'local-small'], undefined, { EMBCTL_API_KEY: secret });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('was revoked');
    expect((await json(['keys', 'get', key.id])).revoked_at).toBeTruthy();
  });

  it('create prints the secret once in a table, with a warning', async () => {
    const created = await cli(['keys', 'create', 'shown-once', '-o', 'table']);
    expect(created.stdout).toMatch(/^secret:\s+emb_/m);
    expect(created.stderr).toContain('only time the secret is shown');
  });
});

describe('exit codes', () => {
  it.each([
    ['3: wrong admin token', ['models', 'list', '--admin-token', 'embadm_wrong'], 3, 'Incorrect admin token'],
    ['3: an API key on an admin command', ['models', 'list', '--admin-token', 'emb_notadmin_0000000000'], 3, 'admin'],
    ['4: not found', ['models', 'get', 'no-such-model'], 4, "'no-such-model' does not exist"],
    ['4: unknown model on embed', ['embed', 'x', '--model', 'nope'], 4, "'nope' does not exist"],
    ['6: unreachable gateway', ['models', 'list', '--url', 'http://127.0.0.1:9'], 6, 'cannot reach the gateway'],
    ['2: usage', ['models', 'frobnicate'], 2, 'unknown command'],
  ])('%s', async (_name, args, code, message) => {
    const result = await cli(args);
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(message);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')),
    ).toHaveLength(1);
  });

  it('--verbose adds the request id and HTTP details', async () => {
    const result = await cli(['models', 'get', 'no-such-model', '--verbose']);
    expect(result.stderr).toMatch(/"requestId":"req_[0-9a-f]+"/);
    expect(result.stderr).toContain('"status":404');
  });
});

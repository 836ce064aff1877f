/** The interactive wizards, answered through a real pseudo-terminal: real prompts, real keystrokes. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_IDS } from '../../src/core/providers.js';
import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { runInPty } from '../helpers/pty.js';

let gateway: SpawnedGateway;
/** A terminal session: no CI variable, or prompts would be refused. */
let ttyEnv: Record<string, string>;
const ENTER = '\r';
const DOWN = '\u001b[B';

beforeAll(async () => {
  gateway = await spawnGateway();
  const { CI, ...rest } = gateway.env;
  void CI;
  ttyEnv = rest;
});
afterAll(async () => {
  await gateway.stop();
});

describe('wizards under a pseudo-terminal', () => {
  it('profile add asks for name, URL and secrets (masked), checks the gateway and saves', async () => {
    const pty = runInPty(`${process.execPath} ${BIN} profile add`, ttyEnv, ROOT);
    await pty.waitFor('Profile name');
    pty.send(`pty-profile${ENTER}`);
    await pty.waitFor('Gateway URL');
    pty.send(`${'\u0015'}${gateway.url}${ENTER}`);
    await pty.waitFor('API key');
    pty.send(`${gateway.apiKey}${ENTER}`);
    await pty.waitFor('Admin token');
    pty.send(ENTER);
    expect(await pty.exited).toBe(0);
    expect(pty.output()).toContain('API key accepted');
    expect(pty.output()).not.toContain(gateway.apiKey);
    const config = JSON.parse(readFileSync(join(gateway.env.EMBCTL_CONFIG_DIR!, 'config.json'), 'utf8'));
    expect(config.profiles['pty-profile']).toEqual({ url: gateway.url, apiKey: gateway.apiKey });
  });

  it('models create walks provider → connection → model → options and creates the entity', async () => {
    const pty = runInPty(`${process.execPath} ${BIN} models create`, ttyEnv, ROOT);
    await pty.waitFor('Provider');
    // The list starts at local; one step down is openai, then back up: arrow keys work.
    pty.send(DOWN);
    await pty.waitFor('OpenAI');
    pty.send(`\u001b[A${ENTER}`);
    await pty.waitFor('Model');
    pty.send(`${'\u0015'}hash-24-v1${ENTER}`);
    await pty.waitFor('Dimensions');
    pty.send(`24${ENTER}`);
    await pty.waitFor('Extra options');
    pty.send(ENTER);
    await pty.waitFor('Id');
    pty.send(`${'\u0015'}wizard-made${ENTER}`);
    expect(await pty.exited).toBe(0);
    expect(pty.output()).toContain('created wizard-made');
    const got = await runCli(['models', 'get', 'wizard-made', '-o', 'json'], { env: gateway.env });
    expect(JSON.parse(got.stdout)).toMatchObject({
      id: 'wizard-made',
      provider: 'local',
      dimensions: 24,
      config: { options: { model: 'hash-24-v1' } },
    });
  });

  it('models create asks exactly what bedrock needs: region, then whose AWS keys', async () => {
    const pty = runInPty(`${process.execPath} ${BIN} models create`, ttyEnv, ROOT);
    await pty.waitFor('Provider');
    pty.send(DOWN.repeat(PROVIDER_IDS.indexOf('bedrock')));
    await pty.waitFor('SigV4');
    pty.send(ENTER);
    await pty.waitFor('AWS region');
    pty.send(`${'\u0015'}eu-west-3${ENTER}`);
    await pty.waitFor('AWS keys');
    pty.send(ENTER);
    await pty.waitFor('Model');
    pty.send(ENTER);
    await pty.waitFor('Dimensions');
    pty.send(`1024${ENTER}`);
    await pty.waitFor('Extra options');
    pty.send(ENTER);
    await pty.waitFor('Id');
    pty.send(`${'\u0015'}wizard-bedrock${ENTER}`);
    expect(await pty.exited).toBe(0);
    expect(pty.output()).not.toContain('Base URL');
    const got = await runCli(['models', 'get', 'wizard-bedrock', '-o', 'json'], { env: gateway.env });
    const entity = JSON.parse(got.stdout);
    expect(entity).toMatchObject({
      provider: 'bedrock',
      config: { connection: { region: 'eu-west-3' }, options: { model: 'amazon.titan-embed-text-v2:0' } },
    });
    expect(entity.config.connection).not.toHaveProperty('aws_access_key_id');
  });

  it('a destructive verb asks on a terminal; answering no keeps the entity', async () => {
    const pty = runInPty(`${process.execPath} ${BIN} models delete wizard-made`, ttyEnv, ROOT);
    await pty.waitFor('Delete embedding model');
    pty.send(`n${ENTER}`);
    expect(await pty.exited).toBe(1);
    expect(pty.output()).toContain('cancelled');
    expect((await runCli(['models', 'get', 'wizard-made'], { env: gateway.env })).code).toBe(0);
  });
});

describe('Ctrl-C on a terminal', () => {
  const CTRL_C = '\u0003';

  it('stops embed at once while its spinner runs, exit 130, and the rerun resumes', async () => {
    const dir = tempDir('ctrl-c');
    const input = join(dir, 'big.txt');
    writeFileSync(input, Array.from({ length: 40_000 }, (_, i) => `line number ${i} with a few words`).join('\n'));
    const out = join(dir, 'vectors.jsonl');
    const command = `${process.execPath} ${BIN} embed -f ${input} --out ${out} --batch-size 16 --concurrency 1`;
    const pty = runInPty(command, ttyEnv, ROOT);
    await pty.waitFor('records ·', 20_000);
    const sentAt = Date.now();
    pty.send(CTRL_C);
    expect(await pty.exited).toBe(130);
    expect(Date.now() - sentAt).toBeLessThan(5000);
    expect(pty.output(), pty.output().slice(-400)).toMatch(/interrupted: [\d,]+ record\(s\) written/);
    expect(pty.output()).not.toContain('unexpected failure');
    const resumed = await runCli(['embed', '-f', input, '--out', out, '--batch-size', '512'], {
      env: gateway.env,
      timeoutMs: 120_000,
    });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resuming: [\d,]+ record\(s\) already/);
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(40_000);
  }, 150_000);

  it('at a prompt is a cancel: one line, exit 130', async () => {
    const pty = runInPty(`${process.execPath} ${BIN} profile add`, ttyEnv, ROOT);
    await pty.waitFor('Profile name');
    pty.send(CTRL_C);
    expect(await pty.exited).toBe(130);
    expect(pty.output()).toContain('cancelled');
    expect(pty.output()).not.toContain('unexpected failure');
  });
});

/**
 * The cloud providers from the command line, through the built `bin/embctl`: `models create`
 * with each provider's flags (what is missing is named), and `doctor` proving minted and signed
 * credentials without spending tokens.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_KEYS, startTokenEndpoint, type TokenEndpoint } from '../fakes/cloud-auth.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';

let tokens: TokenEndpoint;
let gateway: SpawnedGateway;
let keyFile: string;
const cli = (args: string[]) => runCli(args, { env: gateway.env });

beforeAll(async () => {
  tokens = await startTokenEndpoint();
  keyFile = join(tempDir('sa'), 'vertex-sa.json');
  writeFileSync(keyFile, tokens.serviceAccountKey, { mode: 0o600 });
  gateway = await spawnGateway({
    env: isolatedEnv({ AWS_ACCESS_KEY_ID: AWS_KEYS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEYS.secretAccessKey }),
  });
});
afterAll(async () => {
  await gateway?.stop();
  await tokens?.close();
});

describe('models create for the clouds, from flags', () => {
  it('bedrock without --region is refused, naming the field; with it, created', async () => {
    const missing = await cli(['models', 'create', '--id', 'br', '--provider', 'bedrock']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("'config.connection.region' is required for bedrock");
    const created = await cli(['models', 'create', '--id', 'br', '--provider', 'bedrock', '--region', 'us-east-1']);
    expect(created.code, created.stderr).toBe(0);
  });

  it('vertex-ai with a key file, and azure with Entra ID, from flags', async () => {
    const vertex = await cli([
      'models',
      'create',
      '--id',
      'vx',
      '--provider',
      'vertex-ai',
      '--project-id',
      'proj-1',
      '--credentials-file',
      keyFile,
    ]);
    expect(vertex.code, vertex.stderr).toBe(0);
    const azure = await cli([
      'models',
      'create',
      '--id',
      'az',
      '--provider',
      'azure-openai',
      '--resource-name',
      'acme',
      '--tenant-id',
      'contoso.onmicrosoft.com',
      '--client-id',
      'c1',
    ]);
    expect(azure.code).not.toBe(0);
    expect(azure.stderr).toContain("'config.connection.client_secret' is required for Entra ID");
  });
});

describe('doctor proves credentials without spending tokens', () => {
  it('mints for the service account, signs for bedrock; a bad key file is named', async () => {
    const healthy = await cli(['doctor', '-o', 'json']);
    const checks = JSON.parse(healthy.stdout) as { check: string; ok: boolean; detail: string }[];
    const credentials = checks.find((c) => c.check === 'provider credentials')!;
    expect(credentials, healthy.stdout).toMatchObject({ ok: true });
    expect(credentials.detail).toContain('vx (google-service-account)');
    expect(credentials.detail).toContain('br (aws-sigv4)');
    expect(tokens.mints.map((m) => m.grant)).toContain('google');

    writeFileSync(keyFile, '{"type": "authorized_user"}');
    const broken = await cli(['doctor', '-o', 'json']);
    expect(broken.code).not.toBe(0);
    const failed = (JSON.parse(broken.stdout) as { check: string; ok: boolean; detail: string }[]).find(
      (c) => c.check === 'provider credentials',
    )!;
    expect(failed.ok).toBe(false);
    expect(failed.detail).toContain(`vx: credentials_file ${keyFile} is not a service-account key`);
    writeFileSync(keyFile, tokens.serviceAccountKey);
  });

  it("the gateway's own output holds no key, secret or minted token", () => {
    const output = gateway.output();
    expect(output).toContain('listening on');
    for (const secret of [AWS_KEYS.secretAccessKey, 'PRIVATE KEY', 'ya29.']) expect(output).not.toContain(secret);
  });
});

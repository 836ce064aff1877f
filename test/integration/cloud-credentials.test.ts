/**
 * The credential sources against real counterparts: SigV4 checked by the AWS SDK's own signer at
 * the fake Bedrock, OAuth tokens minted by a real token endpoint (Google JWT-bearer, Entra ID
 * client credentials) and checked at the fake upstreams. Refresh before expiry under load, once
 * per entity; every refusal named, no credential in any answer, log row or admin read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_KEYS, ENTRA, startTokenEndpoint, type TokenEndpoint } from '../fakes/cloud-auth.js';
import { cloudFormats } from '../fakes/formats.js';
import { fakeVector, startFake, type FakeUpstream } from '../fakes/upstream.js';
import { call, embeddingsCall } from '../helpers/http.js';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';

let tokens: TokenEndpoint;
let gateway: InjectedGateway;
const fakes: Record<string, FakeUpstream> = {};
const ENV_SESSION = 'fake-session-token-from-the-environment-0123';

const create = (body: Record<string, unknown>) =>
  call('POST', `${gateway.url}/v1/embedding-models`, { token: gateway.adminToken, body });
const embed = (model: string, input: unknown = 'hello cloud') =>
  embeddingsCall(gateway.url, gateway.apiKey, { model, input, encoding_format: 'float' });

beforeAll(async () => {
  tokens = await startTokenEndpoint();
  const formats = cloudFormats(() => tokens);
  fakes.titan = await startFake(formats['bedrock-titan']);
  fakes.vertex = await startFake(formats.vertex);
  fakes.entra = await startFake(formats['azure-entra']);
  gateway = await injectGateway({
    env: {
      AWS_ACCESS_KEY_ID: AWS_KEYS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS_KEYS.secretAccessKey,
      AWS_SESSION_TOKEN: ENV_SESSION,
    },
  });
  const titan = (id: string, connection: Record<string, unknown> = {}) =>
    create({
      id,
      provider: 'bedrock',
      config: {
        connection: { base_url: fakes.titan!.url, region: 'us-east-1', ...connection },
        options: { model: 'amazon.titan-embed-text-v2:0' },
      },
    });
  expect((await titan('titan-env')).status).toBe(201);
  expect(
    (
      await titan('titan-wrong', {
        aws_access_key_id: AWS_KEYS.accessKeyId,
        aws_secret_access_key: 'not-the-secret-key-at-all-0123456789',
      })
    ).status,
  ).toBe(201);
  const vertex = (id: string, serviceAccount: string) =>
    create({
      id,
      provider: 'vertex-ai',
      config: {
        connection: { base_url: fakes.vertex!.url, project_id: 'proj-1', service_account: serviceAccount },
        options: { model: 'text-embedding-005' },
      },
    });
  expect((await vertex('vertex', tokens.serviceAccountKey)).status).toBe(201);
  const otherKey = await startTokenEndpoint();
  const forged = { ...JSON.parse(tokens.serviceAccountKey), private_key: otherKey.privateKey };
  await otherKey.close();
  expect((await vertex('vertex-forged', JSON.stringify(forged))).status).toBe(201);
  const entra = (id: string, secret: string) =>
    create({
      id,
      provider: 'azure-openai',
      config: {
        connection: {
          base_url: fakes.entra!.url,
          tenant_id: ENTRA.tenant,
          client_id: ENTRA.clientId,
          client_secret: secret,
          authority_host: tokens.url,
        },
        options: { model: 'emb-deploy' },
      },
    });
  expect((await entra('entra', ENTRA.clientSecret)).status).toBe(201);
  expect((await entra('entra-wrong', 'a-wrong-client-secret-0123456789')).status).toBe(201);
});

afterAll(async () => {
  await gateway.close();
  await Promise.all(Object.values(fakes).map((f) => f.close()));
  await tokens.close();
});

describe('AWS SigV4', () => {
  it("signs with the gateway's AWS environment, session token included", async () => {
    fakes.titan!.requests.length = 0;
    const response = await embed('titan-env');
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.data[0].embedding).toEqual(fakeVector('hello cloud'));
    expect(fakes.titan!.requests[0]!.headers['x-amz-security-token']).toBe(ENV_SESSION);
  });

  it('a wrong secret is refused by the signature check: 502, naming the entity, leaking nothing', async () => {
    const response = await embed('titan-wrong');
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('upstream_auth_failed');
    expect(response.body.error.message).toContain("'titan-wrong'");
    expect(JSON.stringify(response.body)).not.toContain('not-the-secret-key');
  });
});

describe('minted tokens', () => {
  it('Google: a JWT assertion signed by the key is exchanged for a token the upstream accepts', async () => {
    const before = tokens.mints.length;
    const response = await embed('vertex', ['one two', 'three']);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.usage.prompt_tokens).toBe(3);
    expect(tokens.mints.slice(before).map((m) => m.grant)).toEqual(['google']);
  });

  it('a key the token endpoint does not know: 503 provider_misconfigured, with what the endpoint said', async () => {
    const response = await embed('vertex-forged');
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('provider_misconfigured');
    expect(response.body.error.message).toMatch(/'vertex-forged'.*token endpoint .*invalid_grant/);
    expect(JSON.stringify(response.body)).not.toContain('PRIVATE KEY');
  });

  it('Entra ID: a wrong client secret is named as such, never shown', async () => {
    const response = await embed('entra-wrong');
    expect(response.status).toBe(503);
    expect(response.body.error.message).toContain('AADSTS7000215');
    expect(JSON.stringify(response.body)).not.toContain('a-wrong-client-secret');
  });

  it('under load, one mint per entity, refreshed before expiry: no call ever carries an expired token', async () => {
    tokens.setLifetime(3);
    const entity = `entra-refresh`;
    expect(
      (
        await create({
          id: entity,
          provider: 'azure-openai',
          config: {
            connection: {
              base_url: fakes.entra!.url,
              tenant_id: ENTRA.tenant,
              client_id: ENTRA.clientId,
              client_secret: ENTRA.clientSecret,
              authority_host: tokens.url,
            },
            options: { model: 'emb-deploy' },
          },
        })
      ).status,
    ).toBe(201);
    const before = tokens.mints.length;
    fakes.entra!.requests.length = 0;
    const first = await Promise.all(Array.from({ length: 32 }, (_, i) => embed(entity, `burst ${i}`)));
    expect(first.every((r) => r.status === 200)).toBe(true);
    expect(tokens.mints.length - before).toBe(1);
    // Keep calling past two lifetimes.
    const until = Date.now() + 7_000;
    let calls = first.length;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (Date.now() < until) {
          const response = await embed(entity, `load ${calls++}`);
          expect(response.status, JSON.stringify(response.body)).toBe(200);
        }
      }),
    );
    const minted = tokens.mints.length - before;
    // Each token refreshed once, ahead: about one mint a 2 s, never one per call.
    expect(minted).toBeGreaterThanOrEqual(3);
    expect(minted).toBeLessThanOrEqual(6);
    expect(calls).toBeGreaterThan(minted * 10);
    // One upstream request per call: none was refused and retried with a fresh token.
    expect(fakes.entra!.requests).toHaveLength(calls);
    tokens.setLifetime(3600);
  });
});

describe('no credential anywhere', () => {
  it('admin reads, Request Logs and errors hold no secret, key file or minted token', async () => {
    const read = await call('GET', `${gateway.url}/v1/embedding-models`, { token: gateway.adminToken });
    const logs = await call('GET', `${gateway.url}/v1/request-logs?limit=500`, { token: gateway.adminToken });
    const everything = JSON.stringify([read.body, logs.body]);
    expect(everything).toContain('entra-wrong');
    for (const secret of [
      ENTRA.clientSecret,
      'a-wrong-client-secret',
      'PRIVATE KEY',
      'not-the-secret-key',
      ...tokens.mints.map((_, i) => `fake-entra-${i}`),
      ...tokens.mints.map((_, i) => `fake-google-${i}`),
    ])
      expect(everything).not.toContain(secret);
  });
});

/**
 * The authentication side of the cloud providers, for real: a token endpoint that mints OAuth
 * tokens (Google's JWT-bearer grant, checked against the service account's public key; Entra ID's
 * client credentials), and a SigV4 check that re-signs what a fake upstream received with the AWS
 * SDK's own signer. Fakes reject a wrong signature, an unknown token and an expired one.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { importSPKI, jwtVerify } from 'jose';
import type { Recorded, Reply } from './upstream.js';

export const AWS_KEYS = {
  accessKeyId: 'AKIAFAKEEXAMPLE12345',
  secretAccessKey: 'fake-aws-secret-key-0123456789abcdefghij',
};
export const ENTRA = {
  tenant: 'contoso.onmicrosoft.com',
  clientId: 'client-1',
  clientSecret: 'entra-secret-0123456789',
};

export interface TokenEndpoint {
  url: string;
  /** A Google service-account key file whose token_uri is this endpoint. */
  serviceAccountKey: string;
  privateKey: string;
  /** Every token minted, by grant. */
  mints: { grant: string; at: number }[];
  /** Tokens live this long (seconds) from now on. */
  setLifetime(seconds: number): void;
  /** Undefined when `authorization` carries a token this endpoint minted and that has not expired; else why not. */
  refusal(authorization: string | string[] | undefined): string | undefined;
  close(): Promise<void>;
}

export async function startTokenEndpoint(): Promise<TokenEndpoint> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const verifyKey = await importSPKI(publicPem, 'RS256');
  const issued = new Map<string, number>();
  const mints: TokenEndpoint['mints'] = [];
  let lifetime = 3600;
  let url = '';
  const mint = (grant: string) => {
    const token = `ya29.fake-${grant}-${mints.length}-${Math.random().toString(36).slice(2)}`;
    issued.set(token, Date.now() + lifetime * 1000);
    mints.push({ grant, at: Date.now() });
    return { access_token: token, expires_in: lifetime, token_type: 'Bearer' };
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', async () => {
      const form = new URLSearchParams(raw);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/token' && form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
        try {
          const { payload } = await jwtVerify(form.get('assertion') ?? '', verifyKey, {
            issuer: 'embctl-test@fake-project.iam.gserviceaccount.com',
            audience: `${url}/token`,
          });
          if (payload.scope !== 'https://www.googleapis.com/auth/cloud-platform')
            return send(400, { error: 'invalid_scope', error_description: 'wrong scope' });
          return send(200, mint('google'));
        } catch (error) {
          return send(400, {
            error: 'invalid_grant',
            error_description: `Invalid JWT Signature (${(error as Error).message})`,
          });
        }
      }
      if (req.url === `/${ENTRA.tenant}/oauth2/v2.0/token` && form.get('grant_type') === 'client_credentials') {
        if (form.get('client_id') !== ENTRA.clientId || form.get('client_secret') !== ENTRA.clientSecret)
          return send(401, {
            error: 'invalid_client',
            error_description: 'AADSTS7000215: Invalid client secret provided.',
          });
        if (form.get('scope') !== 'https://cognitiveservices.azure.com/.default')
          return send(400, { error: 'invalid_scope', error_description: 'AADSTS70011: wrong scope' });
        return send(200, mint('entra'));
      }
      send(400, { error: 'unsupported_grant_type', error_description: `nothing at ${req.url}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    serviceAccountKey: JSON.stringify({
      type: 'service_account',
      project_id: 'fake-project',
      private_key_id: 'key-1',
      private_key: privatePem,
      client_email: 'embctl-test@fake-project.iam.gserviceaccount.com',
      client_id: '1234567890',
      token_uri: `${url}/token`,
    }),
    privateKey: privatePem,
    mints,
    setLifetime: (seconds) => {
      lifetime = seconds;
    },
    refusal(authorization) {
      const value = Array.isArray(authorization) ? authorization[0] : authorization;
      const token = value?.startsWith('Bearer ') ? value.slice(7) : undefined;
      if (!token) return 'no bearer token';
      const expires = issued.get(token);
      if (expires === undefined) return 'a token this endpoint never minted';
      if (Date.now() >= expires) return 'an expired token';
      return undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/;

/** Undefined when the request carries a valid SigV4 signature by AWS_KEYS for `service` in `region`; else why not. */
export async function sigV4Refusal(req: Recorded, region: string, service: string): Promise<string | undefined> {
  const match = AUTH.exec(String(req.headers.authorization ?? ''));
  if (!match) return 'no AWS4-HMAC-SHA256 authorization header';
  const [, keyId, , signedRegion, signedService, signedHeaders, signature] = match;
  if (keyId !== AWS_KEYS.accessKeyId) return `unknown access key ${keyId}`;
  if (signedRegion !== region || signedService !== service) return `signed for ${signedRegion}/${signedService}`;
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const date = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (Number.isNaN(date.getTime()) || Math.abs(Date.now() - date.getTime()) > 5 * 60_000)
    return 'the signature is too old';
  if (createHash('sha256').update(req.raw).digest('hex') !== req.headers['x-amz-content-sha256'])
    return 'the body is not the one signed';
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(';')) headers[name] = String(req.headers[name] ?? '');
  const [path, search = ''] = req.url.split('?');
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  const signer = new SignatureV4({ credentials: AWS_KEYS, region, service, sha256: Hash.bind(null, 'sha256') });
  const expected = await signer.sign(
    { method: req.method, protocol: 'http:', hostname: '127.0.0.1', path: path!, query, headers, body: req.raw },
    { signingDate: date },
  );
  const want = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
  return want === signature ? undefined : 'the signature does not match';
}

export const awsDenied = (why: string): Reply => ({
  status: 403,
  body: { message: `The request signature we calculated does not match the signature you provided (${why}).` },
  headers: { 'x-amzn-errortype': 'InvalidSignatureException' },
});

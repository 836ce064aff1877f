/**
 * AWS Signature Version 4 (`@smithy/signature-v4`, the AWS SDK's own signer): every request is
 * signed over its method, URL, headers and body. Keys from the entity's connection (each may be
 * `${env:…}`), else the gateway's standard AWS environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), read at each call so a rotated session token is seen.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Connection } from '../../core/entity.js';
import { CredentialError, type CredentialSource, type OutgoingRequest } from './types.js';

export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

const sha256 = Hash.bind(null, 'sha256');

/** Signs `request` for `service` in `region`, at `date` (the fake upstream re-signs with the same call to verify). */
export async function signAws(
  request: OutgoingRequest,
  keys: AwsKeys,
  region: string,
  service: string,
  date?: Date,
): Promise<OutgoingRequest> {
  const url = new URL(request.url);
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({ credentials: keys, region, service, sha256 });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...request.headers, host: url.host },
      body: request.body,
    },
    date ? { signingDate: date } : {},
  );
  // The HTTP client writes Host itself, from the same URL.
  const { host: _host, ...headers } = signed.headers as Record<string, string>;
  return { ...request, headers };
}

export function awsSigV4Source(
  connection: Connection,
  resolve: (field: string, value: string) => string,
  env: NodeJS.ProcessEnv,
): CredentialSource {
  const field = (name: keyof Connection & string, envName: string): string | undefined => {
    const configured = connection[name];
    if (typeof configured === 'string') return resolve(name, configured);
    return env[envName] || undefined;
  };
  const keys = (): AwsKeys => {
    const accessKeyId = field('aws_access_key_id', 'AWS_ACCESS_KEY_ID');
    const secretAccessKey = field('aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY');
    if (!accessKeyId || !secretAccessKey)
      throw new CredentialError(
        'it has no AWS keys: set config.connection.aws_access_key_id and aws_secret_access_key (or ${env:…} ' +
          'references), or give the gateway AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment',
        true,
      );
    return { accessKeyId, secretAccessKey, sessionToken: field('aws_session_token', 'AWS_SESSION_TOKEN') };
  };
  const region = connection.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    kind: 'aws-sigv4',
    authorize(request) {
      if (!region) throw new CredentialError('it has no region: set config.connection.region, e.g. us-east-1', true);
      return signAws(request, keys(), region, 'bedrock');
    },
    secrets() {
      try {
        const { accessKeyId, secretAccessKey, sessionToken } = keys();
        return [accessKeyId, secretAccessKey, ...(sessionToken ? [sessionToken] : [])];
      } catch {
        return [];
      }
    },
    async check() {
      if (!region) throw new CredentialError('it has no region: set config.connection.region', true);
      const held = keys();
      await signAws(
        { method: 'POST', url: `https://bedrock-runtime.${region}.amazonaws.com/`, headers: {}, body: '' },
        held,
        region,
        'bedrock',
      );
      return (
        `signed with access key …${held.accessKeyId.slice(-4)}${held.sessionToken ? ' and a session token' : ''} ` +
        `in ${region}; AWS checks the keys themselves at the first call`
      );
    },
  };
}

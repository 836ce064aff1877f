/**
 * Credentials, apart from translation (as Envoy AI Gateway keeps `backendauth` apart from its
 * translators): an adapter says what its request is; the entity's credential source turns it into
 * an authenticated one — a static key in the provider's header, a SigV4 signature, or a minted
 * OAuth token — and knows every secret it holds, so that none reaches a caller.
 */
import type { Dispatcher } from 'undici';
import type { EnvAllowList } from '../../core/secrets.js';

/** A request ready to send but for its authentication: the body already serialized (signatures cover it). */
export interface OutgoingRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface CredentialSource {
  /** What kind it is, for `doctor` and errors (never what it holds). */
  kind: 'none' | 'static' | 'aws-sigv4' | 'google-service-account' | 'entra-id';
  /** The request with its authentication added; a promise only when a token must be minted first. */
  authorize(request: OutgoingRequest, signal?: AbortSignal): OutgoingRequest | Promise<OutgoingRequest>;
  /** Every secret this source holds or minted, resolved: none of them may reach a caller. */
  secrets(): readonly string[];
  /** After the upstream refused a minted token: forget it, so the next attempt mints a fresh one. */
  invalidate?(): void;
  /** Proves the credentials work without spending tokens (mints, or signs), for `doctor`; undefined when it cannot. */
  check?(signal?: AbortSignal): Promise<string>;
}

/** What the sources need from the gateway: its environment (for `${env:…}` and AWS_*), the HTTP pool, a clock. */
export interface CredentialDeps {
  env: NodeJS.ProcessEnv;
  allowEnv?: EnvAllowList | undefined;
  pool: Dispatcher;
  now: () => number;
}

/** A credential that cannot be used as configured: a 503 naming the entity and the field, never the value. */
export class CredentialError extends Error {
  override name = 'CredentialError';
  /** True when only a change of configuration can fix it (not worth a retry). */
  constructor(
    message: string,
    readonly final = false,
  ) {
    super(message);
  }
}

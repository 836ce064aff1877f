/**
 * Which credential source an entity's connection chooses, and the state the sources keep between
 * calls (rotation turns, minted tokens). One instance per gateway process; minted tokens are a
 * per-replica cache (see `MintedToken`), reused across catalogue reloads while the entity's
 * credentials stay the same, replaced when they change.
 */
import { createHash } from 'node:crypto';
import type { Connection, EmbeddingModelEntity } from '../../core/entity.js';
import { configuredSecrets } from '../../core/entity.js';
import { resolveEnvReferences } from '../../core/secrets.js';
import type { HttpAdapter } from '../providers/types.js';
import { awsSigV4Source } from './aws-sigv4.js';
import { entraIdSource, usesEntraId } from './entra-id.js';
import { googleServiceAccountSource, serviceAccountKeySource } from './google-service-account.js';
import type { MintedToken } from './minted-token.js';
import { staticSource } from './static.js';
import { CredentialError, type CredentialDeps, type CredentialSource } from './types.js';

/** The fields whose change means another token: a minted one is kept only while these stay the same. */
function credentialFingerprint(connection: Connection): string {
  const { tenant_id, client_id, client_secret, authority_host, scope, service_account, credentials_file } = connection;
  return createHash('sha256')
    .update(
      JSON.stringify([tenant_id, client_id, client_secret, authority_host, scope, service_account, credentials_file]),
    )
    .digest('hex');
}

export class Credentials {
  private readonly turns = new Map<string, number>();
  private readonly sources = new WeakMap<EmbeddingModelEntity, CredentialSource>();
  private readonly minted = new Map<string, { fingerprint: string; token: MintedToken }>();

  constructor(private readonly deps: CredentialDeps) {}

  /**
   * Proves the entity's credentials without spending tokens: mints a token, or signs a request.
   * Static keys cannot be proven without a call; that is said, not hidden.
   */
  async check(
    entity: EmbeddingModelEntity,
    adapter: HttpAdapter,
  ): Promise<{ kind: string; ok: boolean; detail: string }> {
    const source = this.for(entity, adapter);
    if (!source.check)
      return {
        kind: source.kind,
        ok: true,
        detail:
          source.kind === 'none'
            ? 'no credential configured'
            : 'a static key: only a call can prove it (`embctl embed --model ID "test"`)',
      };
    try {
      return { kind: source.kind, ok: true, detail: await source.check() };
    } catch (error) {
      if (error instanceof CredentialError) return { kind: source.kind, ok: false, detail: error.message };
      throw error;
    }
  }

  /** The entity's source; the same object for every call until the catalogue reloads the entity. */
  for(entity: EmbeddingModelEntity, adapter: HttpAdapter): CredentialSource {
    let source = this.sources.get(entity);
    if (!source) {
      source = this.create(entity, adapter);
      this.sources.set(entity, source);
    }
    return source;
  }

  private resolver() {
    return (field: string, value: string): string => {
      try {
        return resolveEnvReferences(value, this.deps.env, this.deps.allowEnv);
      } catch (error) {
        throw new CredentialError(
          `config.connection.${field}: ${(error as Error).message} in the gateway's environment`,
          true,
        );
      }
    };
  }

  /** Every configured secret, resolved where it can be (unresolvable ones are scrubbed as written). */
  private configured(entity: EmbeddingModelEntity): () => readonly string[] {
    let resolved: readonly string[] | undefined;
    return () =>
      (resolved ??= configuredSecrets(entity.config.connection).map((secret) => {
        try {
          return resolveEnvReferences(secret, this.deps.env, this.deps.allowEnv);
        } catch {
          return secret;
        }
      }));
  }

  private reuse(entity: EmbeddingModelEntity): MintedToken | undefined {
    const held = this.minted.get(entity.id);
    return held?.fingerprint === credentialFingerprint(entity.config.connection) ? held.token : undefined;
  }

  private keep(entity: EmbeddingModelEntity, token: MintedToken): void {
    this.minted.set(entity.id, { fingerprint: credentialFingerprint(entity.config.connection), token });
  }

  private create(entity: EmbeddingModelEntity, adapter: HttpAdapter): CredentialSource {
    const { connection } = entity.config;
    const resolve = this.resolver();
    const configured = this.configured(entity);
    const { env } = this.deps;
    let inner: CredentialSource | undefined;
    if (entity.provider === 'bedrock') inner = awsSigV4Source(connection, resolve, env);
    else if (entity.provider === 'azure-openai' && usesEntraId(connection)) {
      const made = entraIdSource(connection, resolve, this.reuse(entity), this.deps);
      this.keep(entity, made.token);
      inner = made.source;
    } else if (entity.provider === 'vertex-ai' && !connection.token) {
      const readKey = serviceAccountKeySource(connection, resolve, env);
      if (!readKey)
        inner = {
          kind: 'google-service-account',
          authorize: () => {
            throw new CredentialError(
              'it has no credentials: set config.connection.service_account (the key JSON, or ${env:…}), ' +
                'credentials_file, or token, or give the gateway GOOGLE_APPLICATION_CREDENTIALS',
              true,
            );
          },
          secrets: () => [],
        };
      else {
        const made = googleServiceAccountSource(readKey, this.reuse(entity), this.deps);
        this.keep(entity, made.token);
        inner = made.source;
      }
    }
    if (!inner) {
      let turn = this.turns.get(entity.id) ?? 0;
      return staticSource(
        adapter,
        entity,
        resolve,
        () => {
          this.turns.set(entity.id, ++turn);
          return turn - 1;
        },
        configured,
      );
    }
    const source = inner;
    const headers = connection.headers ?? {};
    // Configured headers go in before signing: a signature covers them.
    return {
      ...source,
      authorize: (request, signal) =>
        source.authorize({ ...request, headers: { ...request.headers, ...headers } }, signal),
      secrets: () => [...configured(), ...source.secrets()],
    };
  }
}

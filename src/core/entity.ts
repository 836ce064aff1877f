/**
 * The embedding-model entity: its type and the pure helpers shared by gateway and CLI (slugs,
 * redaction, secrets). The zod schema that validates it lives in `entity-schema.ts`, loaded only
 * where entities are written, so commands that merely read them stay light.
 */
import { isRedactionOf, redactSecret } from './secrets.js';
import type { ProviderId } from './providers.js';

export const DEFAULT_TIMEOUT_MS = 180_000;
export const MAX_DIMENSIONS = 65_536;

export interface Connection {
  base_url?: string | undefined;
  token?: string | undefined;
  timeout: number;
  headers?: Record<string, string> | undefined;
  /** Names of `headers` whose values are not secret (shown in clear); every other header value is a credential. */
  public_headers?: string[] | undefined;
  resource_name?: string | undefined;
  deployment_id?: string | undefined;
  api_version?: string | undefined;
  api_key?: string | undefined;
  /** The reference gateway's alias of `base_url` (used when `base_url` is absent). */
  base_domain?: string | undefined;
  /** openai-compatible: a display name only, as in the reference. */
  provider_name?: string | undefined;
  /** openai-compatible: body fields renamed on the way out (`{from: to}`), as in the reference. */
  param_mappings?: Record<string, string> | undefined;
  /** openai-compatible: fields merged into every body last, as in the reference. */
  additional_body_params?: Record<string, unknown> | undefined;
  /** AWS (bedrock): SigV4 credentials; absent, the gateway's own AWS_* environment. */
  region?: string | undefined;
  aws_access_key_id?: string | undefined;
  aws_secret_access_key?: string | undefined;
  aws_session_token?: string | undefined;
  /** Google (vertex-ai): project, location, and a service-account key (JSON text, or a file path). */
  project_id?: string | undefined;
  location?: string | undefined;
  service_account?: string | undefined;
  credentials_file?: string | undefined;
  /** Microsoft Entra ID client credentials (azure-openai). */
  tenant_id?: string | undefined;
  client_id?: string | undefined;
  client_secret?: string | undefined;
  authority_host?: string | undefined;
  scope?: string | undefined;
}

/**
 * Every connection field that holds a credential. `list` ones may hold several, comma-separated
 * (rotated); `whole` ones are one opaque value (a JSON key file has commas of its own).
 */
export const SECRET_FIELDS = {
  token: 'list',
  api_key: 'list',
  aws_access_key_id: 'whole',
  aws_secret_access_key: 'whole',
  aws_session_token: 'whole',
  service_account: 'whole',
  client_secret: 'whole',
} as const satisfies Partial<Record<keyof Connection, 'list' | 'whole'>>;

type SecretField = keyof typeof SECRET_FIELDS;
const SECRET_FIELD_NAMES = Object.keys(SECRET_FIELDS) as SecretField[];

/**
 * `scope: "entity"` shares entries between every key calling the entity; `"key"` keeps each key's
 * entries to itself (a tenant cannot learn from a hit that another embedded the same text).
 */
export interface EntityCache {
  enabled: boolean;
  ttl_s: number;
  scope: 'entity' | 'key';
}

export const DEFAULT_CACHE_TTL_S = 7 * 86_400;
export const MAX_CACHE_TTL_S = 366 * 86_400;

/** A stored entity: the validated input plus the fields the gateway manages. */
export interface EmbeddingModelEntity {
  id: string;
  name: string;
  description: string;
  provider: ProviderId;
  config: {
    connection: Connection;
    options: { model?: string; [key: string]: unknown };
  };
  models: { include: string[]; exclude: string[] };
  enabled: boolean;
  dimensions?: number;
  pricing?: { input_per_million_tokens: number; currency: 'USD' };
  /** The gateway's per-input embedding cache for this entity; absent: off. */
  cache?: EntityCache;
  metadata: Record<string, unknown>;
  tags: string[];
  /** The reference gateway's `_loc` (tenant, teams) and `kind`: kept and returned, used for nothing. */
  _loc?: Record<string, unknown>;
  kind?: string;
}

export interface StoredEntity extends EmbeddingModelEntity {
  created_at: string;
  updated_at: string;
  /** Bumped on every write; the ETag is derived from it. */
  version: number;
  /**
   * Set when the stored credentials cannot be opened (damaged, or sealed with another secret key):
   * the entity is listed with this reason and can be fixed or deleted, but is never routed to.
   */
  unreadable?: string;
}

export interface ValidationIssue {
  field: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((issue) => (issue.field ? `'${issue.field}' ${issue.message}` : issue.message)).join('; ');
}

/** The slug by which a request may name an entity: `My OpenAI` → `my-openai`. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The name the reference gateway routes an entity by: `metadata.endpoint_name`, else
 * `metadata.provider_name`, else `name`, slugified with `-` turned into `_` (`my_embedding_model`),
 * so that requests and key patterns written for it work here too.
 */
export function referenceSlug(entity: Pick<EmbeddingModelEntity, 'name' | 'metadata'>): string {
  const named = [entity.metadata.endpoint_name, entity.metadata.provider_name].find(
    (value): value is string => typeof value === 'string' && value !== '',
  );
  return slugify(named ?? entity.name).replace(/-+/g, '_');
}

/** A header's value is a credential unless the entity lists the header in `public_headers`. */
export function isSecretHeader(connection: Connection, name: string): boolean {
  const lower = name.toLowerCase();
  return !(connection.public_headers ?? []).some((h) => h.toLowerCase() === lower);
}

/** Applies `transform` to every credential an entity holds: tokens, Azure keys, header values. */
export function mapSecrets<T extends EmbeddingModelEntity>(entity: T, transform: (secret: string) => string): T {
  const { connection } = entity.config;
  const next = { ...connection };
  for (const field of SECRET_FIELD_NAMES) {
    const value = connection[field];
    if (value !== undefined) next[field] = transform(value);
  }
  if (connection.headers !== undefined) {
    next.headers = Object.fromEntries(
      Object.entries(connection.headers).map(([k, v]) => [k, isSecretHeader(connection, k) ? transform(v) : v]),
    );
  }
  return { ...entity, config: { ...entity.config, connection: next } };
}

/** Every credential value as configured (tokens split at commas), for scrubbing what upstreams echo. */
export function configuredSecrets(connection: Connection): string[] {
  const headers = Object.entries(connection.headers ?? {})
    .filter(([k]) => isSecretHeader(connection, k))
    .map(([, v]) => v);
  const fields = SECRET_FIELD_NAMES.flatMap((field) => {
    const value = connection[field];
    if (value === undefined) return [];
    return SECRET_FIELDS[field] === 'list' ? value.split(',').map((t) => t.trim()) : [value];
  });
  return [...fields, ...headers.flatMap((v) => v.split(',').map((t) => t.trim()))].filter((v) => v.length > 0);
}

/** Every read path goes through this: tokens, Azure keys and credential headers are never echoed. */
export function redactEntity<T extends EmbeddingModelEntity>(entity: T): T {
  const { connection } = entity.config;
  const redacted = mapSecrets(entity, redactSecret);
  const next = { ...redacted.config.connection };
  for (const field of SECRET_FIELD_NAMES)
    if (SECRET_FIELDS[field] === 'whole' && connection[field] !== undefined)
      next[field] = redactSecret(connection[field]!, { whole: true });
  return { ...redacted, config: { ...redacted.config, connection: next } };
}

/**
 * A client that read an entity and writes it back sends the redacted secrets: keep the stored ones
 * rather than overwrite a working token with `sk-…3f9a`.
 */
export function keepRedactedSecrets(
  incoming: EmbeddingModelEntity,
  stored: EmbeddingModelEntity,
): EmbeddingModelEntity {
  const next = { ...incoming.config.connection };
  const prev = stored.config.connection;
  for (const field of SECRET_FIELD_NAMES) {
    const value = next[field];
    const old = prev[field];
    if (value !== undefined && old !== undefined && isRedactionOf(value, old, SECRET_FIELDS[field] === 'whole'))
      next[field] = old;
  }
  if (next.headers && prev.headers) {
    next.headers = Object.fromEntries(
      Object.entries(next.headers).map(([k, v]) => {
        const old = prev.headers?.[k];
        return [k, old !== undefined && isRedactionOf(v, old) ? old : v];
      }),
    );
  }
  return { ...incoming, config: { ...incoming.config, connection: next } };
}

/** The model name the entity serves when a request does not name one. */
export function defaultModelOf(entity: EmbeddingModelEntity): string | undefined {
  return entity.config.options.model;
}

/**
 * The embedding-model entity: one schema for the gateway's admin API, its store and the CLI's local
 * validation, in the JSON shape of the reference gateway (`reference/embedding-model-entity.txt`)
 * so that files written for it apply here unchanged.
 */
import { z } from 'zod';
import { invalidRequest } from './errors.js';
import { PROVIDER_IDS } from './providers.js';
import { SENSITIVE_HEADER, isRedactionOf, redactSecret } from './secrets.js';

export const DEFAULT_TIMEOUT_MS = 180_000;
export const MAX_DIMENSIONS = 65_536;

/** No `/` and no `###`: both separate an entity from a model name in a request's `model`. */
const ENTITY_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

const regexList = z
  .array(z.string().refine(compiles, { message: 'is not a valid regular expression' }))
  .default([]);

const httpUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'must be an absolute http(s) URL, e.g. https://api.openai.com/v1' },
);

const connectionSchema = z.strictObject({
  base_url: httpUrl.optional(),
  token: z.string().optional(),
  timeout: z.number().int().positive({ message: 'must be a positive number of milliseconds' }).default(DEFAULT_TIMEOUT_MS),
  headers: z.record(z.string(), z.string()).optional(),
  // Azure OpenAI legacy deployments, as in the reference.
  resource_name: z.string().min(1).optional(),
  deployment_id: z.string().min(1).optional(),
  api_version: z.string().min(1).optional(),
  api_key: z.string().optional(),
});

/** Provider options are forwarded upstream as-is; only `model` is interpreted. */
const optionsSchema = z.looseObject({ model: z.string().min(1).optional() });

const pricingSchema = z.strictObject({
  input_per_million_tokens: z.number().nonnegative(),
  currency: z.literal('USD').default('USD'),
});

/** Fields other gateways' exports carry that mean nothing here: accepted and dropped. */
const IGNORED_FIELDS = ['_loc', 'kind', 'location', 'created_at', 'updated_at'] as const;

export const entityInputSchema = z.strictObject({
  id: z.string().regex(ENTITY_ID, {
    message: 'must start with a letter or digit and hold only letters, digits, _ . : - (at most 128)',
  }),
  name: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).default(''),
  provider: z.enum(PROVIDER_IDS, { message: `must be one of: ${PROVIDER_IDS.join(', ')}` }),
  config: z
    .strictObject({
      connection: connectionSchema.default({ timeout: DEFAULT_TIMEOUT_MS }),
      options: optionsSchema.default({}),
    })
    .default({ connection: { timeout: DEFAULT_TIMEOUT_MS }, options: {} }),
  models: z.strictObject({ include: regexList, exclude: regexList }).default({ include: [], exclude: [] }),
  enabled: z.boolean().default(true),
  dimensions: z.number().int().positive().max(MAX_DIMENSIONS).optional(),
  pricing: pricingSchema.optional(),
  metadata: z.record(z.string(), z.unknown()).default({}),
  tags: z.array(z.string().min(1)).default([]),
  ...Object.fromEntries(IGNORED_FIELDS.map((field) => [field, z.unknown().optional()])),
});

type ParsedEntity = z.output<typeof entityInputSchema>;

/** A stored entity: the validated input plus the fields the gateway manages. */
export interface EmbeddingModelEntity {
  id: string;
  name: string;
  description: string;
  provider: ParsedEntity['provider'];
  config: {
    connection: z.output<typeof connectionSchema>;
    options: { model?: string; [key: string]: unknown };
  };
  models: { include: string[]; exclude: string[] };
  enabled: boolean;
  dimensions?: number;
  pricing?: { input_per_million_tokens: number; currency: 'USD' };
  metadata: Record<string, unknown>;
  tags: string[];
}

export interface StoredEntity extends EmbeddingModelEntity {
  created_at: string;
  updated_at: string;
  /** Bumped on every write; the ETag is derived from it. */
  version: number;
}

function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '');
}

export interface ValidationIssue {
  field: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** Validates without throwing: the CLI reports every issue before sending, the gateway the same list. */
export function validateEntity(input: unknown): ValidationResult<EmbeddingModelEntity> {
  const parsed = entityInputSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.map((issue) => {
        const field = issuePath(issue.path);
        const message =
          issue.code === 'unrecognized_keys'
            ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`
            : issue.message;
        return { field: issue.code === 'unrecognized_keys' && issue.keys.length ? (field ? `${field}.${issue.keys[0]}` : issue.keys[0]!) : field, message };
      }),
    };
  }
  const data: Record<string, unknown> = { ...parsed.data };
  for (const field of IGNORED_FIELDS) delete data[field];
  const entity = { ...data, name: parsed.data.name ?? parsed.data.id } as EmbeddingModelEntity;
  return { ok: true, value: entity };
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((issue) => (issue.field ? `'${issue.field}' ${issue.message}` : issue.message)).join('; ');
}

/** Gateway side: a 400 naming the first field at fault, with every issue in the message. */
export function parseEntityOrThrow(input: unknown): EmbeddingModelEntity {
  const result = validateEntity(input);
  if (!result.ok) {
    throw invalidRequest(`Invalid embedding model: ${formatIssues(result.issues)}.`, result.issues[0]?.field || null, 'invalid_entity');
  }
  return result.value;
}

/** The slug by which a request may name an entity: `My OpenAI` → `my-openai`. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Applies `transform` to every credential an entity holds: tokens, Azure keys, credential headers. */
export function mapSecrets<T extends EmbeddingModelEntity>(entity: T, transform: (secret: string) => string): T {
  const { connection } = entity.config;
  const next = { ...connection };
  if (connection.token !== undefined) next.token = transform(connection.token);
  if (connection.api_key !== undefined) next.api_key = transform(connection.api_key);
  if (connection.headers !== undefined) {
    next.headers = Object.fromEntries(Object.entries(connection.headers).map(([k, v]) => [k, SENSITIVE_HEADER.test(k) ? transform(v) : v]));
  }
  return { ...entity, config: { ...entity.config, connection: next } };
}

/** Every read path goes through this: tokens, Azure keys and credential headers are never echoed. */
export function redactEntity<T extends EmbeddingModelEntity>(entity: T): T {
  return mapSecrets(entity, redactSecret);
}

/**
 * A client that read an entity and writes it back sends the redacted secrets: keep the stored ones
 * rather than overwrite a working token with `sk-…3f9a`.
 */
export function keepRedactedSecrets(incoming: EmbeddingModelEntity, stored: EmbeddingModelEntity): EmbeddingModelEntity {
  const next = { ...incoming.config.connection };
  const prev = stored.config.connection;
  if (next.token !== undefined && prev.token !== undefined && isRedactionOf(next.token, prev.token)) next.token = prev.token;
  if (next.api_key !== undefined && prev.api_key !== undefined && isRedactionOf(next.api_key, prev.api_key)) next.api_key = prev.api_key;
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

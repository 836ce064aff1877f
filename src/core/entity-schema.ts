/**
 * The entity's schema (zod): one validation for the gateway's admin API and the CLI's local checks,
 * in the JSON shape of the reference gateway (`reference/embedding-model-entity.txt`) so that files
 * written for it apply here unchanged.
 */
import { z } from 'zod';
import {
  DEFAULT_CACHE_TTL_S,
  DEFAULT_TIMEOUT_MS,
  MAX_CACHE_TTL_S,
  MAX_DIMENSIONS,
  formatIssues,
  type EmbeddingModelEntity,
  type ValidationResult,
} from './entity.js';
import { hasNestedQuantifier } from './patterns.js';
import { ADMIN_LIMITS } from './limits.js';
import { invalidRequest } from './errors.js';
import { PROVIDER_IDS, UNSUPPORTED_PROVIDERS } from './providers.js';

const {
  maxTimeoutMs: MAX_TIMEOUT_MS,
  maxNameChars: MAX_NAME_CHARS,
  maxSecretChars: MAX_SECRET_CHARS,
  maxHeaderValueChars: MAX_HEADER_VALUE_CHARS,
  maxListItems: MAX_LIST_ITEMS,
  maxPatternChars: MAX_PATTERN_CHARS,
} = ADMIN_LIMITS;

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
  .array(
    z
      .string()
      .max(MAX_PATTERN_CHARS, { message: `is longer than ${MAX_PATTERN_CHARS} characters` })
      .refine(compiles, { message: 'is not a valid regular expression' })
      .refine((p) => !hasNestedQuantifier(p), {
        message:
          'nests a quantifier inside a quantified group (e.g. (a+)+), which can take exponential time; write it ' +
          'without the nesting',
      }),
  )
  .max(MAX_LIST_ITEMS)
  .default([]);

/** One DNS label: what `https://{resource_name}.openai.azure.com` may hold. */
const AZURE_RESOURCE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** RFC 9110 field names; values without CR, LF or NUL (a header injection, and every call a 502). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const headerValue = z
  .string()
  .max(MAX_HEADER_VALUE_CHARS)
  .refine((v) => !/[\r\n\0]/.test(v), {
    message: 'holds a CR, LF or NUL character, which cannot be sent in an HTTP header',
  });
const headerMap = z
  .record(z.string().regex(HEADER_NAME, { message: 'is not a valid HTTP header name' }), headerValue)
  .refine((h) => Object.keys(h).length <= MAX_LIST_ITEMS, { message: `holds more than ${MAX_LIST_ITEMS} headers` });

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

const secret = z.string().max(MAX_SECRET_CHARS);
/** A body field's name, as param_mappings and additional_body_params hold them. */
const fieldName = z.string().min(1).max(128);
/** It becomes part of a host name (`bedrock-runtime.{region}.amazonaws.com`): letters, digits and hyphens only. */
const cloudRegion = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/, {
  message: 'must be a region name alone (lower-case letters, digits and hyphens), e.g. us-east-1 or europe-west4',
});
const shortText = z.string().min(1).max(MAX_NAME_CHARS);

const connectionSchema = z.strictObject({
  base_url: httpUrl.optional(),
  token: secret.optional(),
  timeout: z
    .number()
    .int()
    .positive({ message: 'must be a positive number of milliseconds' })
    .max(MAX_TIMEOUT_MS, { message: `must be at most ${MAX_TIMEOUT_MS} ms (1 hour)` })
    .default(DEFAULT_TIMEOUT_MS),
  headers: headerMap.optional(),
  public_headers: z
    .array(z.string().regex(HEADER_NAME, { message: 'is not a valid HTTP header name' }))
    .max(MAX_LIST_ITEMS)
    .optional(),
  // Azure OpenAI legacy deployments, as in the reference.
  // It becomes the host name `{resource_name}.openai.azure.com`: anything but one DNS label would move the call
  // to another host.
  resource_name: z
    .string()
    .regex(AZURE_RESOURCE_NAME, {
      message:
        "must be the Azure resource's name alone (letters, digits and hyphens, at most 63), as in " +
        'https://NAME.openai.azure.com; put a full URL in base_url instead',
    })
    .optional(),
  deployment_id: shortText.optional(),
  api_version: shortText.optional(),
  api_key: secret.optional(),
  base_domain: httpUrl.optional(),
  provider_name: shortText.optional(),
  // The reference reads `connection.name` as provider_name's fallback: a display name, nothing more.
  name: shortText.optional(),
  param_mappings: z
    .record(fieldName, fieldName)
    .refine((m) => Object.keys(m).length <= MAX_LIST_ITEMS, { message: `holds more than ${MAX_LIST_ITEMS} fields` })
    .optional(),
  additional_body_params: z
    .record(fieldName, z.unknown())
    .refine((m) => Object.keys(m).length <= MAX_LIST_ITEMS, { message: `holds more than ${MAX_LIST_ITEMS} fields` })
    .optional(),
  region: cloudRegion.optional(),
  aws_access_key_id: secret.optional(),
  aws_secret_access_key: secret.optional(),
  aws_session_token: secret.optional(),
  project_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, { message: 'must be a Google Cloud project id, e.g. my-project-123' })
    .optional(),
  location: cloudRegion.optional(),
  service_account: secret.optional(),
  credentials_file: shortText.optional(),
  tenant_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$/, {
      message: 'must be the Entra tenant id (a GUID) or its domain, e.g. contoso.onmicrosoft.com',
    })
    .optional(),
  client_id: shortText.optional(),
  client_secret: secret.optional(),
  authority_host: httpUrl.optional(),
  scope: shortText.optional(),
});

/** Provider options are forwarded upstream as-is; only `model` is interpreted. */
const optionsSchema = z.looseObject({ model: shortText.optional() });

const pricingSchema = z.strictObject({
  input_per_million_tokens: z.number().nonnegative(),
  currency: z.literal('USD').default('USD'),
});

const cacheSchema = z.strictObject({
  enabled: z.boolean().default(true),
  ttl_s: z
    .number()
    .int()
    .min(1)
    .max(MAX_CACHE_TTL_S, { message: `is more than ${MAX_CACHE_TTL_S} seconds (366 days)` })
    .default(DEFAULT_CACHE_TTL_S),
  scope: z
    .enum(['entity', 'key'], { message: 'must be "entity" (shared by every key) or "key" (each key its own)' })
    .default('entity'),
});

/** Fields other gateways' exports carry that mean nothing here: accepted and dropped. */
const IGNORED_FIELDS = ['location', 'created_at', 'updated_at'] as const;

type ConnectionInput = z.infer<typeof connectionSchema>;

/** What a provider cannot work without, named by the field to set. */
function providerNeeds(
  entity: { provider: string; config: { connection: ConnectionInput } },
  ctx: z.RefinementCtx,
): void {
  const connection = entity.config.connection;
  const need = (field: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: ['config', 'connection', field], message });
  if (entity.provider === 'bedrock' && !connection.region)
    need('region', "is required for bedrock: the AWS region the model runs in, e.g. 'us-east-1'");
  if (entity.provider === 'vertex-ai' && !connection.project_id)
    need('project_id', 'is required for vertex-ai: the Google Cloud project that calls the model');
  if (
    entity.provider === 'azure-openai' &&
    connection.api_version !== undefined &&
    connection.api_version !== 'v1' &&
    !connection.deployment_id
  )
    need(
      'deployment_id',
      `is required with api_version '${connection.api_version}' (a deployment URL); or use api_version 'v1'`,
    );
  if (connection.tenant_id || connection.client_id || connection.client_secret) {
    for (const field of ['tenant_id', 'client_id', 'client_secret'] as const)
      if (!connection[field])
        need(field, 'is required for Entra ID: tenant_id, client_id and client_secret go together');
  }
}

export const entityInputSchema = z
  .strictObject({
    id: z.string().regex(ENTITY_ID, {
      message: 'must start with a letter or digit and hold only letters, digits, _ . : - (at most 128)',
    }),
    name: z.string().min(1).max(200).optional(),
    description: z.string().max(2000).default(''),
    provider: z.enum(PROVIDER_IDS, {
      error: (issue) =>
        typeof issue.input === 'string' && UNSUPPORTED_PROVIDERS[issue.input]
          ? `'${issue.input}' ${UNSUPPORTED_PROVIDERS[issue.input]}`
          : `must be one of: ${PROVIDER_IDS.join(', ')}`,
    }),
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
    cache: cacheSchema.optional(),
    metadata: z.record(z.string().max(MAX_NAME_CHARS), z.unknown()).default({}),
    tags: z.array(shortText).max(MAX_LIST_ITEMS).default([]),
    // The reference's tenancy and resource kind: meaningless here, kept and returned as written.
    _loc: z
      .record(z.string().max(MAX_NAME_CHARS), z.unknown())
      .refine((l) => JSON.stringify(l).length <= 4096, { message: 'is larger than 4 KiB' })
      .optional(),
    kind: shortText.optional(),
    ...Object.fromEntries(IGNORED_FIELDS.map((field) => [field, z.unknown().optional()])),
  })
  .superRefine(providerNeeds);

function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    '',
  );
}

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
        return {
          field:
            issue.code === 'unrecognized_keys' && issue.keys.length
              ? field
                ? `${field}.${issue.keys[0]}`
                : issue.keys[0]!
              : field,
          message,
        };
      }),
    };
  }
  const data: Record<string, unknown> = { ...parsed.data };
  for (const field of IGNORED_FIELDS) delete data[field];
  const entity = { ...data, name: parsed.data.name ?? parsed.data.id } as EmbeddingModelEntity;
  return { ok: true, value: entity };
}

/** Gateway side: a 400 naming the first field at fault, with every issue in the message. */
export function parseEntityOrThrow(input: unknown): EmbeddingModelEntity {
  const result = validateEntity(input);
  if (!result.ok) {
    throw invalidRequest(
      `Invalid embedding model: ${formatIssues(result.issues)}.`,
      result.issues[0]?.field || null,
      'invalid_entity',
    );
  }
  return result.value;
}

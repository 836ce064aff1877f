/** The admin API's bodies for API keys, validated with zod. */
import { z } from 'zod';
import { splitPatterns } from './api-key.js';
import { formatIssues, type ValidationIssue } from './entity.js';
import { invalidRequest } from './errors.js';
import { ADMIN_LIMITS } from './limits.js';
import { hasNestedQuantifier } from './patterns.js';

function compilesAll(list: string): boolean {
  return splitPatterns(list).every((pattern) => {
    try {
      new RegExp(pattern, 'u');
      return true;
    } catch {
      return false;
    }
  });
}

const { maxNameChars, maxListItems, maxPatternChars } = ADMIN_LIMITS;

const patternList = z
  .string()
  .max(maxPatternChars * 8)
  .refine(compilesAll, { message: 'holds a pattern that is not a valid regular expression' })
  .refine((list) => !splitPatterns(list).some(hasNestedQuantifier), {
    message: 'nests a quantifier inside a quantified group (e.g. (a+)+), which can take exponential time',
  });

/** Metadata is stored and shown with the key: short strings only. */
const metadataValue = z.string().max(4096, { message: 'is longer than 4096 characters' });

const isoTime = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z' });

const keyFields = {
  name: z.string().min(1).max(200),
  enabled: z.boolean(),
  expires_at: isoTime.nullable(),
  metadata: z
    .looseObject({ ai_models_include: patternList.optional(), ai_models_exclude: patternList.optional() })
    .pipe(z.record(z.string().min(1).max(maxNameChars), metadataValue))
    .refine((m) => Object.keys(m).length <= maxListItems, { message: `holds more than ${maxListItems} entries` }),
  limits: z.strictObject({
    rpm: z.number().int().positive().nullable().optional(),
    tpm: z.number().int().positive().nullable().optional(),
    budget_usd_day: z.number().positive().nullable().optional(),
    budget_usd_month: z.number().positive().nullable().optional(),
  }),
};

export const apiKeyInputSchema = z.strictObject({
  name: keyFields.name,
  enabled: keyFields.enabled.default(true),
  expires_at: keyFields.expires_at.default(null),
  metadata: keyFields.metadata.default({}),
  limits: keyFields.limits.optional(),
});

/** No defaults here: a PATCH changes only what it names. */
export const apiKeyPatchSchema = z.strictObject(keyFields).partial();

export type ApiKeyInput = z.output<typeof apiKeyInputSchema>;

function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ field: issue.path.map(String).join('.'), message: issue.message }));
}

export function parseApiKeyInput<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issues = toIssues(parsed.error);
    throw invalidRequest(`Invalid API key: ${formatIssues(issues)}.`, issues[0]?.field || null, 'invalid_api_key_body');
  }
  return parsed.data;
}

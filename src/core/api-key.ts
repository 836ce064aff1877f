/** The gateway's API keys: the record the store keeps (a hash, never the secret) and what reads show. */
import { z } from 'zod';
import { invalidRequest } from './errors.js';
import { formatIssues, type ValidationIssue } from './entity.js';

export const API_KEY_PREFIX = 'emb_';
export const ADMIN_TOKEN_PREFIX = 'embadm_';

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** SHA-256 of the secret; the secret itself is shown once, at creation. */
  hash: string;
  /** `emb_…x9Fa`, to recognise a key in lists and logs. */
  redacted: string;
  enabled: boolean;
  expires_at: string | null;
  revoked_at: string | null;
  /** `ai_models_include` / `ai_models_exclude`: comma-separated regexes, as in the reference gateway. */
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
}

/** What the admin API returns: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'hash'>;

export function viewOf(record: ApiKeyRecord): ApiKeyView {
  const { hash, ...view } = record;
  void hash;
  return view;
}

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

export function splitPatterns(list: string | undefined): string[] {
  return (list ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

const patternList = z.string().refine(compilesAll, { message: 'holds a pattern that is not a valid regular expression' });

const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z' });

const keyFields = {
  name: z.string().min(1).max(200),
  enabled: z.boolean(),
  expires_at: isoTime.nullable(),
  metadata: z.looseObject({ ai_models_include: patternList.optional(), ai_models_exclude: patternList.optional() }),
};

export const apiKeyInputSchema = z.strictObject({
  name: keyFields.name,
  enabled: keyFields.enabled.default(true),
  expires_at: keyFields.expires_at.default(null),
  metadata: keyFields.metadata.default({}),
});

/** No defaults here: a PATCH changes only what it names. */
export const apiKeyPatchSchema = z.strictObject(keyFields).partial();

export type ApiKeyInput = z.output<typeof apiKeyInputSchema>;
export type ApiKeyPatch = z.output<typeof apiKeyPatchSchema>;

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

/** Why a key cannot be used right now, or undefined when it can. */
export function unusableReason(record: ApiKeyRecord, now = Date.now()): string | undefined {
  if (record.revoked_at) return `was revoked at ${record.revoked_at}`;
  if (!record.enabled) return 'is disabled';
  if (record.expires_at && Date.parse(record.expires_at) <= now) return `expired at ${record.expires_at}`;
  return undefined;
}

/**
 * The gateway's API keys: the record the store keeps (a hash, never the secret) and what reads show.
 * The zod schemas of the admin API's bodies live in `api-key-schema.ts`.
 */

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
  /** Per-key limits; absent ones do not apply. */
  limits?: KeyLimits;
  created_at: string;
  updated_at: string;
}

export interface KeyLimits {
  /** Requests per minute. */
  rpm?: number;
  /** Prompt tokens per minute. */
  tpm?: number;
  /** USD per UTC day. */
  budget_usd_day?: number;
  /** USD per UTC month. */
  budget_usd_month?: number;
}

/** Applies a limits patch: a number sets a limit, null removes it. */
export function mergeLimits(
  current: KeyLimits | undefined,
  patch: Partial<Record<keyof KeyLimits, number | null>> | undefined,
): KeyLimits | undefined {
  if (!patch) return current;
  const next: KeyLimits = { ...current };
  for (const [name, value] of Object.entries(patch) as [keyof KeyLimits, number | null | undefined][]) {
    if (value === null) delete next[name];
    else if (value !== undefined) next[name] = value;
  }
  return Object.keys(next).length ? next : undefined;
}

/** What the admin API returns: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'hash'>;

export function viewOf(record: ApiKeyRecord): ApiKeyView {
  const { hash, ...view } = record;
  return view;
}

export function splitPatterns(list: string | undefined): string[] {
  return (list ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** Why a key cannot be used right now, or undefined when it can. */
export function unusableReason(record: ApiKeyRecord, now = Date.now()): string | undefined {
  if (record.revoked_at) return `was revoked at ${record.revoked_at}`;
  if (!record.enabled) return 'is disabled';
  if (record.expires_at && Date.parse(record.expires_at) <= now) return `expired at ${record.expires_at}`;
  return undefined;
}

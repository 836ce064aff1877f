/** OpenAI's limits on one embeddings request, enforced by the gateway and respected by the CLI. */
export const EMBEDDINGS_LIMITS = {
  maxInputs: 2048,
  maxTokensPerInput: 8192,
  maxTokensPerRequest: 300_000,
} as const;

/** Caller-supplied strings that are stored, logged, echoed or become labels are bounded (characters). */
export const STRING_LIMITS = {
  /** OpenAI's longest model ids are under 64; entity prefixes and Hugging Face names fit easily. */
  model: 256,
  user: 256,
} as const;

/** The first `max` characters of a caller's string, marked when cut: for messages, never for lookups. */
export function clip(value: string, max = 64): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length} characters)`;
}

/** Bounds on what an admin write may hold: every field that is stored, echoed or compiled. */
export const ADMIN_LIMITS = {
  /** JSON nesting of any admin body (metadata, options, patches). */
  maxDepth: 32,
  maxBodyBytes: 1024 * 1024,
  maxTimeoutMs: 3_600_000,
  maxNameChars: 256,
  maxSecretChars: 8192,
  maxHeaderValueChars: 8192,
  maxListItems: 100,
  maxPatternChars: 256,
} as const;

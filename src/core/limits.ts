/** OpenAI's limits on one embeddings request, enforced by the gateway and respected by the CLI. */
export const EMBEDDINGS_LIMITS = {
  maxInputs: 2048,
  maxTokensPerInput: 8192,
  maxTokensPerRequest: 300_000,
} as const;

/** The provider catalogue: ids and the facts the CLI and the entity validation need without loading adapters. */

export const PROVIDER_IDS = [
  'local',
  'openai',
  'azure-openai',
  'openai-compatible',
  'ollama',
  'mistral',
  'cohere',
  'gemini',
  'voyage',
  'jina',
  'huggingface-tei',
] as const;

export type ProviderId = (typeof PROVIDER_IDS)[number];

export function isProviderId(value: string): value is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(value);
}

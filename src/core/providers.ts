/** The provider catalogue: ids and the facts the CLI and the adapters share, in one table. */

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

export interface ProviderInfo {
  label: string;
  defaultModel: string;
  /** Undefined where the entity must say (self-hosted servers, Azure resources). */
  defaultBaseUrl: string | undefined;
  credential: 'none' | 'optional' | 'required';
  /** The environment variable a wizard suggests for the token. */
  tokenEnv?: string;
}

export const PROVIDERS: Record<ProviderId, ProviderInfo> = {
  local: {
    label: 'built-in offline hashing (no network)',
    defaultModel: 'hash-384-v1',
    defaultBaseUrl: undefined,
    credential: 'none',
  },
  openai: {
    label: 'OpenAI',
    defaultModel: 'text-embedding-3-small',
    defaultBaseUrl: 'https://api.openai.com/v1',
    credential: 'required',
    tokenEnv: 'OPENAI_API_KEY',
  },
  'azure-openai': {
    label: 'Azure OpenAI',
    defaultModel: 'text-embedding-3-small',
    defaultBaseUrl: undefined,
    credential: 'required',
    tokenEnv: 'AZURE_OPENAI_KEY',
  },
  'openai-compatible': {
    label: 'any OpenAI-compatible server (vLLM, LM Studio, llama.cpp, LocalAI, another gateway)',
    defaultModel: 'default',
    defaultBaseUrl: undefined,
    credential: 'optional',
  },
  ollama: {
    label: 'Ollama',
    defaultModel: 'nomic-embed-text',
    defaultBaseUrl: 'http://localhost:11434',
    credential: 'optional',
  },
  mistral: {
    label: 'Mistral',
    defaultModel: 'mistral-embed',
    defaultBaseUrl: 'https://api.mistral.ai/v1',
    credential: 'required',
    tokenEnv: 'MISTRAL_API_KEY',
  },
  cohere: {
    label: 'Cohere (v2 embed)',
    defaultModel: 'embed-v4.0',
    defaultBaseUrl: 'https://api.cohere.com',
    credential: 'required',
    tokenEnv: 'COHERE_API_KEY',
  },
  gemini: {
    label: 'Google Gemini',
    defaultModel: 'gemini-embedding-001',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    credential: 'required',
    tokenEnv: 'GEMINI_API_KEY',
  },
  voyage: {
    label: 'Voyage AI',
    defaultModel: 'voyage-3.5',
    defaultBaseUrl: 'https://api.voyageai.com/v1',
    credential: 'required',
    tokenEnv: 'VOYAGE_API_KEY',
  },
  jina: {
    label: 'Jina AI',
    defaultModel: 'jina-embeddings-v3',
    defaultBaseUrl: 'https://api.jina.ai/v1',
    credential: 'required',
    tokenEnv: 'JINA_API_KEY',
  },
  'huggingface-tei': {
    label: 'Hugging Face Text Embeddings Inference',
    defaultModel: 'tei',
    defaultBaseUrl: undefined,
    credential: 'optional',
  },
};

export function isProviderId(value: string): value is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(value);
}

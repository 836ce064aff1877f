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
  'bedrock',
  'vertex-ai',
  'gemini-native',
  // The reference gateway's OpenAI-shaped providers: presets of `openai-compatible` (base URL and path only).
  'huggingface',
  'x-ai',
  'scaleway',
  'deepseek',
  'azure-ai-foundry',
  'cloud-temple',
  'ovh-ai-endpoints',
  'nebius',
  'sambanova',
  'openrouter',
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
  /**
   * An `openai-compatible` server at a known address, as the reference gateway defines it: calls go
   * to `{base_url}/{path}` with the token as Bearer. Data, not code: the adapter is the same.
   */
  preset?: { path: string };
}

/** Provider names the reference gateway has that cannot exist here, and what to use instead. */
export const UNSUPPORTED_PROVIDERS: Readonly<Record<string, string>> = {
  'all-minilm-l6-v2':
    "is the reference gateway's in-process ONNX model, which needs model weights that embctl does not ship and " +
    "cannot fetch offline; use provider 'local' (offline, hash-384-v1) for a built-in model, or serve " +
    "sentence-transformers/all-MiniLM-L6-v2 with Text Embeddings Inference and use provider 'huggingface-tei'",
};

const preset = (label: string, defaultBaseUrl: string, tokenEnv: string, path = 'embeddings'): ProviderInfo => ({
  label,
  defaultModel: 'default',
  defaultBaseUrl,
  credential: 'required',
  tokenEnv,
  preset: { path },
});

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
    ...preset('Google Gemini (its OpenAI-compatible endpoint, as the reference calls it)', '', 'GEMINI_API_KEY'),
    defaultModel: 'gemini-embedding-001',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai',
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
  bedrock: {
    label: 'AWS Bedrock (Titan Text Embeddings V2, Cohere Embed), signed with AWS SigV4',
    defaultModel: 'amazon.titan-embed-text-v2:0',
    defaultBaseUrl: undefined,
    credential: 'none',
  },
  'vertex-ai': {
    label: 'Google Vertex AI (:predict), with a service-account key',
    defaultModel: 'text-embedding-005',
    defaultBaseUrl: undefined,
    credential: 'none',
  },
  'gemini-native': {
    label: 'Google Gemini API, native batchEmbedContents (taskType, title)',
    defaultModel: 'gemini-embedding-001',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    credential: 'required',
    tokenEnv: 'GEMINI_API_KEY',
  },
  huggingface: preset('Hugging Face Inference API', 'https://api-inference.huggingface.co/v1', 'HF_TOKEN'),
  'x-ai': preset('xAI', 'https://api.x.ai', 'XAI_API_KEY', 'v1/embeddings'),
  scaleway: preset('Scaleway Generative APIs', 'https://api.scaleway.ai/v1', 'SCW_SECRET_KEY'),
  deepseek: preset('DeepSeek', 'https://api.deepseek.com', 'DEEPSEEK_API_KEY'),
  'azure-ai-foundry': {
    ...preset('Azure AI Foundry models', 'https://<resource>.services.ai.azure.com/models', 'AZURE_AI_API_KEY'),
    // The reference's default is a placeholder: the entity names its resource (resource_name or base_url).
    defaultBaseUrl: undefined,
  },
  'cloud-temple': preset('Cloud Temple LLMaaS', 'https://api.ai.cloud-temple.com/v1', 'CLOUD_TEMPLE_API_KEY'),
  'ovh-ai-endpoints': preset(
    'OVHcloud AI Endpoints',
    'https://oai.endpoints.kepler.ai.cloud.ovh.net/v1',
    'OVH_AI_ENDPOINTS_ACCESS_TOKEN',
  ),
  nebius: preset('Nebius AI Studio', 'https://api.studio.nebius.ai/v1', 'NEBIUS_API_KEY'),
  sambanova: preset('SambaNova', 'https://api.sambanova.ai/v1', 'SAMBANOVA_API_KEY'),
  openrouter: preset('OpenRouter', 'https://openrouter.ai/api/v1', 'OPENROUTER_API_KEY'),
};

export function isProviderId(value: string): value is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(value);
}

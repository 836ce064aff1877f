/**
 * `GET …/embedding-models/_template?kind=…`, as the reference gateway answers it: a new entity to
 * fill in, with a fresh id. `openai` and `ollama` are the reference's own; any other provider id
 * gives that provider's fields; no kind gives `local` (the reference's default, the in-process
 * all-minilm-l6-v2, does not exist here).
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_TIMEOUT_MS } from './entity.js';
import { isProviderId, PROVIDERS, type ProviderId } from './providers.js';

/** What each provider needs in its connection, as placeholders to replace. */
const CONNECTIONS: Partial<Record<ProviderId, Record<string, string>>> = {
  'azure-openai': { resource_name: 'my-resource', api_key: 'xxxxx' },
  bedrock: { region: 'us-east-1', aws_access_key_id: 'xxxxx', aws_secret_access_key: 'xxxxx' },
  'vertex-ai': { project_id: 'my-project', location: 'us-central1', credentials_file: '/path/to/service-account.json' },
  'azure-ai-foundry': { resource_name: 'my-resource', token: 'xxxxx' },
};

export function entityTemplate(kind: string | undefined): Record<string, unknown> {
  const id = `embedding-model_${randomUUID()}`;
  const provider: ProviderId = kind && isProviderId(kind.toLowerCase()) ? (kind.toLowerCase() as ProviderId) : 'local';
  const info = PROVIDERS[provider];
  const base = { id, metadata: {}, tags: [], models: { include: [], exclude: [] } };
  if (provider === 'openai')
    return {
      ...base,
      name: 'OpenAI text-embedding-3-small',
      description: 'An OpenAI embedding model',
      provider,
      config: {
        connection: { base_url: info.defaultBaseUrl, token: 'xxxxx', timeout: DEFAULT_TIMEOUT_MS },
        options: { model: 'text-embedding-3-small' },
      },
    };
  if (provider === 'ollama')
    return {
      ...base,
      name: 'Ollama embedding model',
      description: 'An Ollama embedding model',
      provider,
      config: {
        connection: { base_url: info.defaultBaseUrl, token: 'xxxxx', timeout: DEFAULT_TIMEOUT_MS },
        options: { model: 'snowflake-arctic-embed:22m' },
      },
    };
  if (provider === 'local')
    return {
      ...base,
      name: 'Local embedding model',
      description: 'A local embedding model (offline hashing)',
      provider,
      config: { connection: { timeout: DEFAULT_TIMEOUT_MS }, options: { model: info.defaultModel } },
    };
  const connection = CONNECTIONS[provider] ?? {
    ...(info.defaultBaseUrl ? { base_url: info.defaultBaseUrl } : { base_url: 'https://…' }),
    ...(info.credential === 'none' ? {} : { token: 'xxxxx' }),
  };
  return {
    ...base,
    name: `${info.label} embedding model`,
    description: `A ${provider} embedding model`,
    provider,
    config: { connection: { ...connection, timeout: DEFAULT_TIMEOUT_MS }, options: { model: info.defaultModel } },
  };
}

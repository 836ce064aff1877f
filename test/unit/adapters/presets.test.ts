import { describe, expect, it } from 'vitest';
import { PROVIDER_IDS, PROVIDERS } from '../../../src/core/providers.js';
import { adapterFor } from '../../../src/gateway/providers/index.js';
import { openaiAdapter } from '../../../src/gateway/providers/openai.js';
import { PRESET_ADAPTERS } from '../../../src/gateway/providers/presets.js';
import type { HttpAdapter } from '../../../src/gateway/providers/types.js';
import { describeAdapter } from './harness.js';

const preset = (id: keyof typeof PRESET_ADAPTERS) => PRESET_ADAPTERS[id] as HttpAdapter;

describeAdapter(preset('x-ai'), {
  requests: [
    {
      name: 'xAI: /v1/embeddings under the bare host, as the reference calls it',
      connection: { base_url: undefined },
      credential: 'xai-k',
      url: 'https://api.x.ai/v1/embeddings',
      headers: { authorization: 'Bearer xai-k' },
      body: { model: 'm-1', input: ['alpha', 'beta'] },
      absent: ['encoding_format'],
    },
  ],
  responses: [
    {
      name: 'OpenAI shape',
      body: { data: [{ index: 0, embedding: [1] }], usage: { prompt_tokens: 1 } },
      promptTokens: 1,
    },
  ],
  errors: [{ body: { error: 'x' }, message: 'x' }],
  models: [['v1', 256, false]],
});

describeAdapter(preset('azure-ai-foundry'), {
  requests: [
    {
      name: "Azure AI Foundry: the resource's models endpoint",
      connection: { base_url: undefined, resource_name: 'acme' },
      url: 'https://acme.services.ai.azure.com/models/embeddings',
      body: { model: 'm-1' },
    },
  ],
  responses: [],
  errors: [],
  models: [],
});

describe('the provider catalogue', () => {
  it('has an adapter for every provider id, presets with the base URLs the reference uses', () => {
    for (const id of PROVIDER_IDS) expect(adapterFor(id), id).toBeDefined();
    const base = (id: keyof typeof PRESET_ADAPTERS) => preset(id).baseUrl({ timeout: 1 });
    expect(base('gemini')).toBe('https://generativelanguage.googleapis.com/v1beta/openai');
    expect(base('huggingface')).toBe('https://api-inference.huggingface.co/v1');
    expect(base('scaleway')).toBe('https://api.scaleway.ai/v1');
    expect(base('deepseek')).toBe('https://api.deepseek.com');
    expect(base('cloud-temple')).toBe('https://api.ai.cloud-temple.com/v1');
    expect(base('ovh-ai-endpoints')).toBe('https://oai.endpoints.kepler.ai.cloud.ovh.net/v1');
    expect(base('azure-ai-foundry')).toBeUndefined();
    expect(Object.keys(PRESET_ADAPTERS).sort()).toEqual(PROVIDER_IDS.filter((id) => PROVIDERS[id].preset).sort());
  });

  it('openai: a bare https://api.openai.com gets /v1, as in the reference', () => {
    expect(openaiAdapter.baseUrl({ timeout: 1, base_url: 'https://api.openai.com' })).toBe('https://api.openai.com/v1');
    expect(openaiAdapter.baseUrl({ timeout: 1, base_url: 'https://proxy.test' })).toBe('https://proxy.test');
  });
});

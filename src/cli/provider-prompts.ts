/**
 * What the `models create` wizard asks for each provider's connection: exactly the fields it
 * needs, with the catalogue's defaults. A secret is best an `${env:NAME}` of the gateway (it never
 * enters the store); pasted ones are stored sealed.
 */
import { PROVIDERS, type ProviderId } from '../core/providers.js';
import type { Prompter } from './prompt.js';

const required = (v: string) => v.trim() !== '' || 'required';

/** A secret: a gateway environment variable (by name) or pasted; undefined when `optional` and declined. */
async function secretPrompt(
  prompt: Prompter,
  what: string,
  envDefault: string,
  optional = false,
): Promise<string | undefined> {
  const how = await prompt.select({
    message: `${what}:`,
    choices: [
      { value: 'env', name: 'an environment variable of the gateway (recommended: the secret never enters the store)' },
      { value: 'paste', name: 'paste it (stored sealed in the gateway)' },
      ...(optional ? [{ value: 'none', name: 'none' }] : []),
    ],
  });
  if (how === 'env') return `\${env:${await prompt.input({ message: 'Variable name:', default: envDefault })}}`;
  if (how === 'paste') return prompt.secret({ message: `${what}:`, validate: required });
  return undefined;
}

async function azureConnection(prompt: Prompter): Promise<Record<string, unknown>> {
  const connection: Record<string, unknown> = {
    resource_name: await prompt.input({
      message: 'Azure resource name (https://NAME.openai.azure.com):',
      validate: required,
    }),
  };
  const deployment = await prompt.input({
    message: 'Deployment id (empty for the v1 API, where the model is the deployment):',
  });
  if (deployment) {
    connection.deployment_id = deployment;
    connection.api_version = await prompt.input({
      message: 'api-version (v1, or a date such as 2024-10-21):',
      default: 'v1',
    });
  }
  const auth = await prompt.select({
    message: 'Authentication:',
    choices: [
      { value: 'key', name: 'an API key (sent as api-key)' },
      { value: 'entra', name: 'Microsoft Entra ID client credentials (a service principal)' },
    ],
  });
  if (auth === 'key') connection.api_key = await secretPrompt(prompt, 'API key', 'AZURE_OPENAI_API_KEY');
  else {
    connection.tenant_id = await prompt.input({ message: 'Tenant id (GUID or domain):', validate: required });
    connection.client_id = await prompt.input({ message: 'Client (app) id:', validate: required });
    connection.client_secret = await secretPrompt(prompt, 'Client secret', 'AZURE_CLIENT_SECRET');
  }
  return connection;
}

async function bedrockConnection(prompt: Prompter): Promise<Record<string, unknown>> {
  const connection: Record<string, unknown> = {
    region: await prompt.input({ message: 'AWS region:', default: 'us-east-1', validate: required }),
  };
  const keys = await prompt.select({
    message: 'AWS keys:',
    choices: [
      { value: 'gateway', name: "the gateway's own AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN)" },
      { value: 'entity', name: 'keys of this entity' },
    ],
  });
  if (keys === 'entity') {
    connection.aws_access_key_id = await prompt.input({ message: 'Access key id:', validate: required });
    connection.aws_secret_access_key = await secretPrompt(prompt, 'Secret access key', 'BEDROCK_AWS_SECRET_KEY');
    const session = await secretPrompt(prompt, 'Session token', 'BEDROCK_AWS_SESSION_TOKEN', true);
    if (session) connection.aws_session_token = session;
  }
  return connection;
}

async function vertexConnection(prompt: Prompter): Promise<Record<string, unknown>> {
  const connection: Record<string, unknown> = {
    project_id: await prompt.input({ message: 'Google Cloud project id:', validate: required }),
    location: await prompt.input({ message: 'Location:', default: 'us-central1', validate: required }),
  };
  const key = await prompt.select({
    message: 'Service-account key:',
    choices: [
      { value: 'file', name: "a key file on the gateway's machine" },
      { value: 'env', name: "an environment variable of the gateway holding the key's JSON" },
      { value: 'adc', name: "the gateway's GOOGLE_APPLICATION_CREDENTIALS" },
    ],
  });
  if (key === 'file')
    connection.credentials_file = await prompt.input({ message: 'Path of the key file:', validate: required });
  if (key === 'env')
    connection.service_account = `\${env:${await prompt.input({ message: 'Variable name:', default: 'VERTEX_SERVICE_ACCOUNT_KEY' })}}`;
  return connection;
}

/** The connection of a provider whose calls go to a base URL with an optional or required token. */
async function urlAndToken(prompt: Prompter, provider: ProviderId): Promise<Record<string, unknown>> {
  const info = PROVIDERS[provider];
  const connection: Record<string, unknown> = {};
  if (provider === 'azure-ai-foundry')
    connection.resource_name = await prompt.input({
      message: 'Azure resource name (https://NAME.services.ai.azure.com):',
      validate: required,
    });
  else {
    const baseUrl = await prompt.input({
      message: 'Base URL:',
      ...(info.defaultBaseUrl ? { default: info.defaultBaseUrl } : {}),
      validate: (v) => (v.trim() === '' && !info.defaultBaseUrl ? 'this provider needs a base URL' : true),
    });
    if (baseUrl && baseUrl !== info.defaultBaseUrl) connection.base_url = baseUrl;
  }
  if (info.credential !== 'none') {
    const token = await secretPrompt(
      prompt,
      'Token',
      info.tokenEnv ?? 'EMBEDDINGS_API_KEY',
      info.credential === 'optional',
    );
    if (token) connection.token = token;
  }
  return connection;
}

export function connectionPrompts(provider: ProviderId, prompt: Prompter): Promise<Record<string, unknown>> {
  if (provider === 'local') return Promise.resolve({});
  if (provider === 'azure-openai') return azureConnection(prompt);
  if (provider === 'bedrock') return bedrockConnection(prompt);
  if (provider === 'vertex-ai') return vertexConnection(prompt);
  return urlAndToken(prompt, provider);
}

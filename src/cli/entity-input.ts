/**
 * Entities from the command line: flags to a (partial) entity, files (JSON or YAML, one entity or
 * a list, several documents, a directory of them, `-` for stdin), and the interactive wizard.
 * Everything is validated with the gateway's own schema before anything is sent.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import YAML from 'yaml';
import { formatIssues, slugify, type EmbeddingModelEntity } from '../core/entity.js';
import { validateEntity } from '../core/entity-schema.js';
import { CliError, ExitCode, usageError } from '../core/errors.js';
import { PROVIDER_IDS, PROVIDERS, isProviderId, type ProviderId } from '../core/providers.js';
import { keyValues, readStdinSecret } from './command.js';
import { connectionPrompts } from './provider-prompts.js';
import type { CliContext } from './context.js';

export interface EntityFlags {
  id?: string;
  name?: string;
  description?: string;
  provider?: string;
  baseUrl?: string;
  token?: string;
  tokenStdin?: boolean;
  upstreamTimeout?: number;
  model?: string;
  option?: string[];
  header?: string[];
  dimensions?: number;
  price?: number;
  tag?: string[];
  include?: string[];
  exclude?: string[];
  enabled?: boolean;
  resourceName?: string;
  deploymentId?: string;
  apiVersion?: string;
  azureApiKey?: string;
  region?: string;
  awsAccessKeyId?: string;
  awsSecretAccessKey?: string;
  awsSessionToken?: string;
  projectId?: string;
  location?: string;
  credentialsFile?: string;
  serviceAccountEnv?: string;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  authorityHost?: string;
  cache?: 'on' | 'off';
  cacheTtl?: number;
  cacheScope?: 'entity' | 'key';
}

/** Flags that set one connection field each, as given. */
const CONNECTION_FLAGS = {
  resourceName: 'resource_name',
  deploymentId: 'deployment_id',
  apiVersion: 'api_version',
  azureApiKey: 'api_key',
  region: 'region',
  awsAccessKeyId: 'aws_access_key_id',
  awsSecretAccessKey: 'aws_secret_access_key',
  awsSessionToken: 'aws_session_token',
  projectId: 'project_id',
  location: 'location',
  credentialsFile: 'credentials_file',
  tenantId: 'tenant_id',
  clientId: 'client_id',
  clientSecret: 'client_secret',
  authorityHost: 'authority_host',
} as const satisfies Partial<Record<keyof EntityFlags, string>>;

/** Only what the flags name: a create body when complete, a merge patch for `update`. */
export async function entityFromFlags(flags: EntityFlags, ctx: CliContext): Promise<Record<string, unknown>> {
  const connection: Record<string, unknown> = {};
  if (flags.baseUrl !== undefined) connection.base_url = flags.baseUrl;
  if (flags.tokenStdin) connection.token = await readStdinSecret(ctx.stdin, '--token-stdin');
  else if (flags.token !== undefined) connection.token = flags.token;
  if (flags.upstreamTimeout !== undefined) connection.timeout = flags.upstreamTimeout;
  if (flags.header?.length) connection.headers = keyValues(flags.header, '--header');
  for (const [flag, field] of Object.entries(CONNECTION_FLAGS)) {
    const value = flags[flag as keyof typeof CONNECTION_FLAGS];
    if (value !== undefined) connection[field] = value;
  }
  // The key file's JSON, read by the gateway from its own environment (never pasted on a command line).
  if (flags.serviceAccountEnv !== undefined) connection.service_account = `\${env:${flags.serviceAccountEnv}}`;
  const options: Record<string, unknown> = flags.option?.length ? keyValues(flags.option, '--option') : {};
  if (flags.model !== undefined) options.model = flags.model;

  const entity: Record<string, unknown> = {};
  for (const [key, value] of [
    ['id', flags.id],
    ['name', flags.name],
    ['description', flags.description],
    ['provider', flags.provider],
    ['dimensions', flags.dimensions],
    ['enabled', flags.enabled],
  ] as const) {
    if (value !== undefined) entity[key] = value;
  }
  const config: Record<string, unknown> = {};
  if (Object.keys(connection).length) config.connection = connection;
  if (Object.keys(options).length) config.options = options;
  if (Object.keys(config).length) entity.config = config;
  if (flags.price !== undefined) entity.pricing = { input_per_million_tokens: flags.price };
  if (flags.tag?.length) entity.tags = flags.tag;
  // A partial object: as a merge patch it changes only the fields named.
  const cache: Record<string, unknown> = {};
  if (flags.cache !== undefined) cache.enabled = flags.cache === 'on';
  if (flags.cacheTtl !== undefined) cache.ttl_s = flags.cacheTtl;
  if (flags.cacheScope !== undefined) cache.scope = flags.cacheScope;
  if (Object.keys(cache).length) entity.cache = cache;
  if (flags.include?.length || flags.exclude?.length)
    entity.models = { include: flags.include ?? [], exclude: flags.exclude ?? [] };
  return entity;
}

/** Local validation with the gateway's schema: every issue listed, nothing sent. */
export function validated(candidate: unknown, source: string): EmbeddingModelEntity {
  const result = validateEntity(candidate);
  if (!result.ok)
    throw new CliError(
      `${source} is not a valid embedding model: ${formatIssues(result.issues)}`,
      ExitCode.failure,
      'fix the fields named above; `embctl models create --help` lists the flags',
    );
  return result.value;
}

export interface EntityDocument {
  source: string;
  entity: unknown;
}

function documentsOf(text: string, source: string): EntityDocument[] {
  let parsed: unknown[];
  try {
    parsed =
      extname(source) === '.json'
        ? [JSON.parse(text)]
        : YAML.parseAllDocuments(text).map((doc) => {
            if (doc.errors.length) throw doc.errors[0];
            return doc.toJSON() as unknown;
          });
  } catch (error) {
    // The yaml library knows the line and column, and prints the line with a caret under the fault.
    const at = (error as { linePos?: [{ line: number; col: number }] }).linePos?.[0];
    const where = at ? `${source}:${at.line}:${at.col}` : source;
    const [first, ...context] = (error as Error).message.split('\n');
    const excerpt = context.filter((line) => line.trim() !== '').join('\n');
    throw new CliError(
      `cannot parse ${where}: ${first}${excerpt ? `\n${excerpt}` : ''}`,
      ExitCode.failure,
      'fix the file at that line; `embctl models apply --dry-run -f FILE` checks it without changing anything',
    );
  }
  return parsed
    .filter((doc) => doc !== null && doc !== undefined)
    .flatMap((doc) => (Array.isArray(doc) ? doc : [doc]))
    .map((entity, i) => ({ source: `${source}#${i + 1}`, entity }));
}

async function filesUnder(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => {
    throw new CliError(
      `cannot read '${path}': no such file or directory`,
      ExitCode.notFound,
      'check the path given to -f',
    );
  });
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(
    entries
      .filter((e) => e.isDirectory() || ['.json', '.yaml', '.yml'].includes(extname(e.name)))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((e) => filesUnder(join(path, e.name))),
  );
  return nested.flat();
}

/** Every entity in the given files, directories or stdin, validated; duplicate ids refused. */
export async function loadEntities(paths: string[], ctx: CliContext): Promise<EmbeddingModelEntity[]> {
  if (paths.length === 0) throw usageError('no file given', 'pass -f FILE, -f DIR or -f - (stdin)');
  const documents: EntityDocument[] = [];
  for (const path of paths) {
    if (path === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.stdin)
        chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      documents.push(...documentsOf(Buffer.concat(chunks).toString('utf8'), 'stdin'));
      continue;
    }
    for (const file of await filesUnder(path)) documents.push(...documentsOf(await readFile(file, 'utf8'), file));
  }
  const entities = documents.map((doc) => validated(doc.entity, doc.source));
  const seen = new Set<string>();
  for (const entity of entities) {
    if (seen.has(entity.id))
      throw new CliError(
        `the id '${entity.id}' appears twice in the given files`,
        ExitCode.failure,
        'each entity needs its own id',
      );
    seen.add(entity.id);
  }
  return entities;
}

/** provider → connection → model → options, with defaults from the provider catalogue. */
export async function entityWizard(ctx: CliContext): Promise<Record<string, unknown>> {
  const { prompt } = ctx;
  const provider = await prompt.select<ProviderId>({
    message: 'Provider:',
    choices: PROVIDER_IDS.map((id) => ({ value: id, name: id, description: PROVIDERS[id].label })),
  });
  const info = PROVIDERS[provider];
  const connection = await connectionPrompts(provider, prompt);
  const model = await prompt.input({ message: 'Model:', default: info.defaultModel });
  const dimensions = await prompt.input({
    message: 'Dimensions (empty if unknown):',
    validate: (v) => v === '' || /^[1-9]\d*$/.test(v) || 'a positive whole number',
  });
  const extra = await prompt.input({ message: 'Extra options as key=value, comma-separated (empty for none):' });
  const id = await prompt.input({
    message: 'Id:',
    default: slugify(`${provider === 'local' ? 'local' : provider}-${model}`),
  });
  if (!isProviderId(provider)) throw usageError(`unknown provider '${provider}'`);
  return {
    id,
    provider,
    config: {
      connection,
      options: {
        ...(extra
          ? keyValues(
              extra.split(',').map((p) => p.trim()),
              'options',
            )
          : {}),
        model,
      },
    },
    ...(dimensions ? { dimensions: Number(dimensions) } : {}),
  };
}

/** `embctl models …`: the embedding-model entities of the gateway, through its admin API. */
import { Option, type Command, type OptionValues } from '@commander-js/extra-typings';
import { compilePatterns } from '../../core/patterns.js';
import { PROVIDER_IDS } from '../../core/providers.js';
import { usageError } from '../../core/errors.js';
import { mergePatch } from '../../core/merge-patch.js';
import type { StoredEntityView } from '../../client/gateway-client.js';
import type { PlanItem } from '../apply.js';
import { collect, confirmDestructive, handle, integer, type MakeContext } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';
import type { EntityFlags } from '../entity-input.js';

// Writing entities needs their schema (zod) and YAML; reading them does not: loaded on demand.
const entityInput = () => import('../entity-input.js');
const applyPlanner = () => import('../apply.js');
import type { Column } from '../output.js';

const modelOf = (e: StoredEntityView) => e.config.options.model ?? '(default)';
const price = (e: StoredEntityView) => (e.pricing ? `$${e.pricing.input_per_million_tokens}/1M` : '');

const COLUMNS: Column<StoredEntityView>[] = [
  { header: 'id', value: (e) => e.id },
  { header: 'name', value: (e) => e.name },
  { header: 'provider', value: (e) => e.provider },
  { header: 'model', value: modelOf },
  { header: 'dims', value: (e) => e.dimensions ?? '' },
  { header: 'status', value: (e) => (e.unreadable ? 'UNREADABLE' : e.enabled ? 'enabled' : 'disabled') },
  { header: 'price', value: price },
];

const WIDE: Column<StoredEntityView>[] = [
  ...COLUMNS,
  { header: 'base url', value: (e) => e.config.connection.base_url ?? '' },
  { header: 'include', value: (e) => e.models.include.join(' ') },
  { header: 'exclude', value: (e) => e.models.exclude.join(' ') },
  { header: 'tags', value: (e) => e.tags.join(',') },
  {
    header: 'cache',
    value: (e) => (e.cache?.enabled ? `${e.cache.scope}, ${e.cache.ttl_s}s` : ''),
  },
  { header: 'updated', value: (e) => e.updated_at },
];

/** One entity on a terminal: the fields a person looks for, flattened. */
const DETAIL: Column<StoredEntityView>[] = [
  ...COLUMNS.slice(0, 4),
  { header: 'description', value: (e) => e.description },
  { header: 'base url', value: (e) => e.config.connection.base_url ?? '(provider default)' },
  { header: 'token', value: (e) => e.config.connection.token ?? e.config.connection.api_key ?? '' },
  { header: 'timeout', value: (e) => `${e.config.connection.timeout} ms` },
  {
    header: 'options',
    value: (e) => {
      const { model, ...rest } = e.config.options;
      return Object.keys(rest).length ? rest : '';
    },
  },
  ...COLUMNS.slice(4),
  { header: 'include', value: (e) => e.models.include.join(' ') },
  { header: 'exclude', value: (e) => e.models.exclude.join(' ') },
  { header: 'tags', value: (e) => e.tags.join(', ') },
  { header: 'created', value: (e) => e.created_at },
  {
    header: 'cache',
    value: (e) => (e.cache?.enabled ? `${e.cache.scope}, ${e.cache.ttl_s}s` : ''),
  },
  { header: 'updated', value: (e) => e.updated_at },
];

function showEntity(ctx: CliContext, entity: StoredEntityView): void {
  if (ctx.out.format === 'table') ctx.out.item(entity, DETAIL as Column<object>[]);
  else ctx.out.item(entity);
}

export interface ListOptions {
  provider?: string;
  enabled?: boolean;
  tag?: string;
  wide?: boolean;
}

export async function modelsList(options: ListOptions, ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  const entities = await client.listEntities({
    provider: options.provider,
    enabled: options.enabled,
    tag: options.tag,
  });
  ctx.out.list(entities, options.wide ? WIDE : COLUMNS);
}

export async function modelsGet(id: string, ctx: CliContext): Promise<void> {
  showEntity(ctx, (await (await ctx.client()).getEntity(id)).entity);
}

export async function modelsCreate(flags: EntityFlags & { file?: string[] }, ctx: CliContext): Promise<void> {
  const { entityFromFlags, entityWizard, loadEntities, validated } = await entityInput();
  const client = await ctx.client();
  if (flags.file?.length) {
    for (const entity of await loadEntities(flags.file, ctx)) {
      showEntity(ctx, await client.createEntity(entity));
      ctx.out.success(`created ${entity.id}`);
    }
    return;
  }
  const fromFlags = await entityFromFlags(flags, ctx);
  const candidate = flags.provider
    ? fromFlags
    : ctx.interactive
      ? { ...(await entityWizard(ctx)), ...fromFlags }
      : undefined;
  if (!candidate)
    throw usageError(
      'missing --provider (and the rest of the entity)',
      'pass --provider and --id (see --help), -f FILE, or run on a terminal for the wizard',
    );
  const entity = validated(candidate, 'the entity');
  showEntity(ctx, await client.createEntity(entity));
  ctx.out.success(`created ${entity.id}`);
}

export async function modelsUpdate(
  id: string,
  flags: EntityFlags & { file?: string[]; keepCredentials?: boolean },
  ctx: CliContext,
): Promise<void> {
  const { entityFromFlags, loadEntities, validated } = await entityInput();
  const client = await ctx.client();
  if (flags.file?.length) {
    const entities = await loadEntities(flags.file, ctx);
    const entity = entities.find((e) => e.id === id);
    if (!entity || entities.length !== 1)
      throw usageError(`the file must hold exactly the entity '${id}'`, 'or use `embctl models apply -f` for several');
    showEntity(ctx, await client.replaceEntity(id, entity, undefined, flags.keepCredentials));
  } else {
    const patch = await entityFromFlags(flags, ctx);
    if (Object.keys(patch).length === 0)
      throw usageError('nothing to update', 'pass the fields to change as flags (see --help), or -f FILE');
    const { entity, etag } = await client.getEntity(id);
    // Validate the result locally, as the gateway will, before sending.
    const { created_at, updated_at, ...current } = entity;
    validated(mergePatch(current, patch), `'${id}' after the update`);
    showEntity(ctx, await client.patchEntity(id, patch, etag, flags.keepCredentials));
  }
  ctx.out.success(`updated ${id}`);
}

export async function modelsDelete(id: string, ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  await client.getEntity(id);
  await confirmDestructive(ctx, `delete embedding model '${id}'`);
  await client.deleteEntity(id);
  ctx.out.success(`deleted ${id}`);
  if (ctx.out.format !== 'table') ctx.out.item({ deleted: true, id });
}

export async function modelsSetEnabled(id: string, enabled: boolean, ctx: CliContext): Promise<void> {
  const client = await ctx.client();
  const { etag } = await client.getEntity(id);
  const entity = await client.patchEntity(id, { enabled }, etag);
  ctx.out.success(`${id} ${enabled ? 'enabled' : 'disabled'}`);
  if (ctx.out.format !== 'table') ctx.out.item(entity);
}

export interface ConstrainOptions {
  include: string[];
  exclude: string[];
  clear?: boolean;
}

/** Regexes are checked to compile here, with the gateway's own full-match compiler, before sending. */
function checkPatterns(patterns: string[], flag: string): void {
  for (const pattern of patterns) {
    try {
      compilePatterns([pattern]);
    } catch (error) {
      throw usageError(`${flag} '${pattern}' is not a valid regular expression: ${(error as Error).message}`);
    }
  }
}

/** Checked before any request, so a bad pattern is a usage error whatever the gateway's state. */
export function checkConstrainOptions(options: ConstrainOptions): void {
  checkPatterns(options.include, '--include');
  checkPatterns(options.exclude, '--exclude');
  if (!options.clear && options.include.length === 0 && options.exclude.length === 0) {
    throw usageError('nothing to change', 'pass --include RE, --exclude RE, or --clear');
  }
}

export function constrainedLists(current: { include: string[]; exclude: string[] }, options: ConstrainOptions) {
  const base = options.clear ? { include: [], exclude: [] } : current;
  const merge = (a: string[], b: string[]) => [...new Set([...a, ...b])];
  return { include: merge(base.include, options.include), exclude: merge(base.exclude, options.exclude) };
}

export async function modelsConstrain(id: string, options: ConstrainOptions, ctx: CliContext): Promise<void> {
  checkConstrainOptions(options);
  const client = await ctx.client();
  const { entity, etag } = await client.getEntity(id);
  const models = constrainedLists(entity.models, options);
  const updated = await client.patchEntity(id, { models }, etag);
  ctx.out.success(`${id}: include ${JSON.stringify(models.include)}, exclude ${JSON.stringify(models.exclude)}`);
  if (ctx.out.format !== 'table') ctx.out.item(updated);
}

async function reportPlan(ctx: CliContext, plan: PlanItem[]): Promise<void> {
  if (ctx.out.format === 'table') {
    const { describePlan } = await applyPlanner();
    for (const line of describePlan(plan)) ctx.out.text(line);
  } else {
    ctx.out.records(plan.map(({ desired: _desired, ...item }) => item));
  }
}

export interface ApplyOptions {
  file: string[];
  dryRun?: boolean;
  prune?: boolean;
  selector?: string;
  all?: boolean;
}

export async function modelsApply(options: ApplyOptions, ctx: CliContext): Promise<void> {
  const [{ loadEntities }, { planApply }] = await Promise.all([entityInput(), applyPlanner()]);
  const desired = await loadEntities(options.file, ctx);
  if (options.prune && desired.length === 0 && !options.all) {
    throw usageError(
      'the files hold no embedding model, so --prune would delete every one, `local` included',
      'check -f; to prune to nothing on purpose pass --all, or limit pruning with --selector tag=NAME',
    );
  }
  const client = await ctx.client();
  const live = await client.listEntities();
  const selector = options.selector ? tagSelector(options.selector) : undefined;
  // Pruning considers only what the selector names: the files own those, nothing else.
  const plan = planApply(
    desired,
    selector ? live.filter((e) => selector(e) || desired.some((d) => d.id === e.id)) : live,
    Boolean(options.prune),
  );
  await reportPlan(ctx, plan);
  const work = plan.filter((item) => item.action !== 'unchanged');
  if (options.dryRun || work.length === 0) {
    ctx.out.info(options.dryRun ? `dry run: ${work.length} change(s) not applied` : 'nothing to change');
    return;
  }
  const deletes = work.filter((item) => item.action === 'delete');
  if (deletes.length)
    await confirmDestructive(
      ctx,
      `delete ${deletes.length} embedding model(s) not in the files (${deletes.map((d) => d.id).join(', ')})`,
    );
  for (const item of work) {
    if (item.action === 'create') await client.createEntity(item.desired);
    if (item.action === 'update') await client.replaceEntity(item.id, item.desired);
    if (item.action === 'delete') await client.deleteEntity(item.id);
  }
  const count = (action: string) => work.filter((w) => w.action === action).length;
  ctx.out.success(`applied: ${count('create')} created, ${count('update')} updated, ${count('delete')} deleted`);
}

/** `tag=NAME`: the entities carrying that tag. */
function tagSelector(selector: string): (entity: { tags: string[] }) => boolean {
  const match = /^tag=(.+)$/.exec(selector);
  if (!match) throw usageError(`--selector takes tag=NAME; got '${selector}'`);
  return (entity) => entity.tags.includes(match[1]!);
}

/** Exit 0 when the gateway matches the files, 1 when it does not (like diff(1)). */
export async function modelsDiff(options: ApplyOptions, ctx: CliContext): Promise<number> {
  const [{ loadEntities }, { planApply }] = await Promise.all([entityInput(), applyPlanner()]);
  const desired = await loadEntities(options.file, ctx);
  const client = await ctx.client();
  const plan = planApply(desired, await client.listEntities(), Boolean(options.prune)).filter(
    (item) => item.action !== 'unchanged',
  );
  await reportPlan(ctx, plan);
  if (plan.length === 0) ctx.out.info('no differences');
  return plan.length === 0 ? 0 : 1;
}

/** The entity's fields as flags, for `create` and `update` alike; their types flow into the handlers. */
// biome-ignore lint/complexity/noBannedTypes: `{}` is how commander's types say "no options declared yet".
function entityFlags<A extends unknown[], G extends OptionValues>(command: Command<A, {}, G>) {
  return command
    .option('--id <id>', 'entity id (letters, digits, _ . : -)')
    .option('--name <name>', 'display name (also usable in requests, as a slug)')
    .option('--description <text>', 'description')
    .option('--provider <provider>', PROVIDER_IDS.join(', '))
    .option('--base-url <url>', "the provider's base URL")
    .option('--token <token>', 'token or ${env:NAME}; comma-separated tokens rotate (prefer --token-stdin or ${env:…})')
    .option('--token-stdin', 'read the token from stdin')
    .option('--upstream-timeout <ms>', 'upstream timeout in ms (default 180000)', integer('--upstream-timeout', 1))
    .option('--model <model>', 'the model it serves')
    .option('--option <key=value>', 'provider option forwarded as-is (repeatable)', collect, [])
    .option('--header <key=value>', 'extra HTTP header for the upstream (repeatable)', collect, [])
    .option('--dimensions <n>', 'vector size it produces', integer('--dimensions', 1))
    .addOption(
      new Option('--price <usd>', 'USD per million input tokens').argParser((v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw usageError(`--price must be a number ≥ 0; got '${v}'`);
        return n;
      }),
    )
    .option('--tag <tag>', 'tag (repeatable)', collect, [])
    .option('--include <regex>', 'allowed model names, full match (repeatable)', collect, [])
    .option('--exclude <regex>', 'refused model names, full match (repeatable)', collect, [])
    .addOption(new Option('--cache <state>', "the gateway's per-input embedding cache").choices(['on', 'off'] as const))
    .option(
      '--cache-ttl <seconds>',
      'how long cached vectors are served (default 604800: 7 days)',
      integer('--cache-ttl', 1),
    )
    .addOption(
      new Option('--cache-scope <scope>', 'entity: shared by every key; key: each key its own').choices([
        'entity',
        'key',
      ] as const),
    )
    .option('--resource-name <name>', 'Azure: resource name')
    .option('--deployment-id <id>', 'Azure: deployment (legacy URL form)')
    .option('--api-version <version>', 'Azure: api-version (v1, or a date for the deployment URL form)')
    .option('--azure-api-key <key>', "Azure: the key sent as api-key (or '${env:NAME}')")
    .option('--tenant-id <id>', 'Azure with Entra ID: the tenant (GUID or domain)')
    .option('--client-id <id>', 'Azure with Entra ID: the app (client) id')
    .option('--client-secret <secret>', "Azure with Entra ID: the client secret (or '${env:NAME}')")
    .option(
      '--authority-host <url>',
      'Azure with Entra ID: another authority (default https://login.microsoftonline.com)',
    )
    .option('--region <region>', 'bedrock: the AWS region, e.g. us-east-1')
    .option(
      '--aws-access-key-id <id>',
      "bedrock: access key (or '${env:NAME}'; default: the gateway's AWS_* environment)",
    )
    .option('--aws-secret-access-key <key>', "bedrock: secret key (or '${env:NAME}')")
    .option('--aws-session-token <token>', "bedrock: session token (or '${env:NAME}')")
    .option('--project-id <id>', 'vertex-ai: the Google Cloud project')
    .option('--location <location>', 'vertex-ai: the region, e.g. us-central1 (default), or global')
    .option('--credentials-file <path>', "vertex-ai: a service-account key file on the gateway's machine")
    .option('--service-account-env <name>', "vertex-ai: the gateway's environment variable holding the key JSON")
    .option('-f, --file <path>', 'JSON or YAML file(s); - for stdin (repeatable)', collect, []);
}

export function registerModelCommands(program: Root, makeContext: MakeContext): void {
  const models = program.command('models').description('manage embedding models (entities) on the gateway');
  handle(
    models
      .command('list')
      .alias('ls')
      .description('list embedding models')
      .option('--provider <provider>', 'only this provider')
      .option('--enabled', 'only enabled ones')
      .option('--disabled', 'only disabled ones')
      .option('--tag <tag>', 'only those with this tag')
      .option('--wide', 'more columns on a terminal (same as -o wide)'),
    makeContext,
    (o, ctx) => modelsList({ ...o, enabled: o.disabled ? false : o.enabled, wide: o.wide || ctx.out.wide }, ctx),
  );
  handle(
    models.command('get').argument('<id>').description('show one embedding model, secrets redacted'),
    makeContext,
    (_o, ctx, id) => modelsGet(id, ctx),
  );
  handle(
    entityFlags(
      models.command('create').description('create an embedding model from flags, -f FILE, or a wizard on a terminal'),
    ).option('--disabled', 'create it disabled'),
    makeContext,
    (o, ctx) => modelsCreate({ ...o, enabled: o.disabled ? false : undefined }, ctx),
  );
  handle(
    entityFlags(
      models.command('update').argument('<id>').description('change fields (flags: a merge; -f FILE: a full replace)'),
    ).option('--keep-credentials', 'send the stored token to a changed --base-url or provider (otherwise restate it)'),
    makeContext,
    (o, ctx, id) => modelsUpdate(id, o, ctx),
  );
  handle(
    models
      .command('delete')
      .alias('rm')
      .argument('<id>')
      .description('delete an embedding model (asks, or needs --yes)'),
    makeContext,
    (_o, ctx, id) => modelsDelete(id, ctx),
  );
  handle(models.command('enable').argument('<id>').description('make it reachable'), makeContext, (_o, ctx, id) =>
    modelsSetEnabled(id, true, ctx),
  );
  handle(
    models.command('disable').argument('<id>').description('make it unreachable (requests get 403 model_disabled)'),
    makeContext,
    (_o, ctx, id) => modelsSetEnabled(id, false, ctx),
  );
  handle(
    models
      .command('constrain')
      .argument('<id>')
      .description('add allowed/refused model-name patterns (full-match regexes)')
      .option('--include <regex>', 'allow (repeatable)', collect, [])
      .option('--exclude <regex>', 'refuse (repeatable)', collect, [])
      .option('--clear', 'drop the existing patterns first'),
    makeContext,
    (o, ctx, id) => modelsConstrain(id, o, ctx),
  );
  handle(
    models
      .command('apply')
      .description('create or update the gateway to match files (kubectl-style)')
      .requiredOption('-f, --file <path>', 'file, directory, or - (repeatable)', collect, [])
      .option('--dry-run', 'print the plan only')
      .option('--prune', 'also delete entities not in the files (asks, or needs --yes)')
      .option('-l, --selector <tag=NAME>', 'with --prune: only entities with this tag may be deleted')
      .option('--all', 'with --prune: allow files holding no entity to delete every one'),
    makeContext,
    (o, ctx) => modelsApply(o, ctx),
  );
  handle(
    models
      .command('diff')
      .description('print how the gateway differs from files; exit 0 when equal, 1 when not')
      .requiredOption('-f, --file <path>', 'file, directory, or - (repeatable)', collect, [])
      .option('--prune', 'also report entities not in the files'),
    makeContext,
    (o, ctx) => modelsDiff(o, ctx),
  );
}

/**
 * `embctl migrate ALIAS --model NEW`: re-embeds every record of the index an alias points at into a
 * separate index, from the stored text (or the original source when the index kept none), through
 * the same resumable run as `embed --out`; then verifies the new index against the old one and only
 * then switches the alias in one atomic step. `--rollback` points it back; the old index stays
 * until `embctl index prune`.
 */
import { createHash } from 'node:crypto';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { costOf } from '../../core/prices.js';
import { countTextTokens } from '../../core/tokenizer.js';
import { confirmDestructive, handle, type MakeContext } from '../command.js';
import type { CliContext } from '../context.js';
import type { Root } from '../program.js';
import { embedRecords, type EmbedOptions } from './embed.js';
import { withRunOptions, type RunOptions } from '../embed/run-options.js';
import { inputRecords, withInputOptions, type InputOptions } from '../embed/source-options.js';
import type { InputRecord } from '../embed/sources.js';
import { aliasRegistry, pointed, type Alias, type AliasRegistry } from '../index/aliases.js';
import { openTarget, siblingOf, type IndexMeta, type IndexTarget } from '../index/target.js';
import { verifyMigration, type Verification } from '../index/verify.js';

export interface MigrateOptions extends InputOptions, RunOptions {
  model?: string;
  to?: string;
  dryRun?: boolean;
  cutover: boolean;
  rollback?: boolean;
  abandon?: boolean;
  force?: boolean;
}

/** The alias and the index it points at now, which must hold an index. */
async function sourceOf(name: string, registry: AliasRegistry) {
  const alias = registry.get(name);
  if (!alias) {
    const target = await openTarget(name).catch(() => undefined);
    throw new CliError(
      `there is no index alias '${name}'`,
      ExitCode.notFound,
      target?.meta()
        ? `a migration switches an alias that search resolves: create one first, e.g. embctl index alias docs ${name}, ` +
            'then embctl migrate docs --model NEW'
        : 'create one with `embctl index alias NAME TARGET` (`embctl index list` shows them)',
    );
  }
  const source = await openTarget(alias.target);
  const meta = source.meta();
  if (!meta)
    throw new CliError(
      `the alias '${name}' points at ${alias.target}, which holds no index`,
      ExitCode.notFound,
      alias.previous
        ? `point it back with embctl migrate ${name} --rollback, or repoint it: embctl index alias ${name} TARGET --force`
        : `repoint it: embctl index alias ${name} TARGET --force`,
    );
  return { alias, source, meta };
}

/** The records to re-embed: the stored text, or the original source when the index kept none. */
function recordsOf(source: IndexTarget, meta: IndexMeta, options: MigrateOptions, ctx: CliContext) {
  const fromSource = options.file.length > 0 || options.files !== undefined;
  if (meta.text && !fromSource) return storedRecords(source);
  if (!fromSource)
    throw usageError(
      `${source.name} kept no text (it was embedded with --no-text), so there is nothing to re-embed from`,
      'give the original source with -f FILE (or --files DIR) and the same --id-field/--id-column; the ' +
        'migration checks that every id and text matches the index',
    );
  const fields = meta.metadata_fields ?? [];
  return inputRecords([], { ...options, metadataField: fields, metadataColumn: fields }, ctx);
}

async function* storedRecords(source: IndexTarget): AsyncGenerator<InputRecord> {
  for await (const row of source.rows({ dimensions: false }))
    yield { id: row.id, text: row.text ?? '', ...(row.metadata ? { metadata: row.metadata } : {}) };
}

async function rollback(name: string, registry: AliasRegistry, ctx: CliContext): Promise<void> {
  const { from, to } = await registry.withLock(name, ctx.host, async () => {
    const alias = registry.require(name);
    if (!alias.previous)
      throw new CliError(
        `the alias '${name}' has no earlier index to roll back to (it was never cut over, or its old index was pruned)`,
        ExitCode.conflict,
        `\`embctl index info ${name}\` shows its history`,
      );
    if (!(await openTarget(alias.previous)).meta())
      throw new CliError(
        `the alias '${name}' cannot roll back: its previous index ${alias.previous} is gone (pruned?)`,
        ExitCode.notFound,
        `repoint it by hand: embctl index alias ${name} TARGET --force`,
      );
    registry.save({ ...pointed(alias, alias.previous, 'rollback', alias.target), ...migrationOf(alias) });
    return { from: alias.target, to: alias.previous };
  });
  ctx.out.success(`${name} → ${to} (rolled back from ${from}, which is kept)`);
}

const migrationOf = (alias: Alias) => (alias.migration ? { migration: alias.migration } : {});

async function abandon(name: string, registry: AliasRegistry, ctx: CliContext): Promise<void> {
  const alias = registry.require(name);
  if (!alias.migration)
    throw new CliError(`the alias '${name}' has no migration under way`, ExitCode.notFound, 'nothing to abandon');
  const { to } = alias.migration;
  await confirmDestructive(ctx, `delete ${to}, the unfinished index of the migration of '${name}'`);
  await registry.withLock(name, ctx.host, async () => {
    (await openTarget(to)).remove();
    const { migration: _, ...rest } = registry.require(name);
    registry.save(rest);
  });
  ctx.out.success(`abandoned the migration of '${name}' to ${alias.migration.model}; ${to} deleted`);
}

interface DryRun {
  alias: string;
  from: string;
  to: string;
  model: string;
  records: number;
  /** Counted with the cl100k tokenizer, as the gateway bounds inputs: an estimate of what the provider counts. */
  estimated_tokens: number;
  price_per_million_tokens: number | null;
  estimated_cost_usd: number | null;
}

async function dryRun(
  plan: Omit<DryRun, 'records' | 'estimated_tokens' | 'price_per_million_tokens' | 'estimated_cost_usd'>,
  records: AsyncIterable<InputRecord>,
  ctx: CliContext,
): Promise<void> {
  let count = 0;
  let tokens = 0;
  for await (const record of records) {
    count++;
    tokens += countTextTokens(record.text);
  }
  const route = await (await ctx.client()).model(plan.model);
  const price = route.price_per_million_tokens ?? null;
  const report: DryRun = {
    ...plan,
    records: count,
    estimated_tokens: tokens,
    price_per_million_tokens: price,
    estimated_cost_usd: price === null ? null : costOf(tokens, price),
  };
  ctx.out.item(report);
  ctx.out.info(
    `dry run: nothing embedded. ${count.toLocaleString('en-US')} record(s), ≈${tokens.toLocaleString('en-US')} ` +
      `tokens${price === null ? ' (the gateway knows no price for this model)' : `, ≈$${report.estimated_cost_usd!.toFixed(6)} at $${price}/M tokens`} ` +
      `with ${plan.model} (${route.entity ?? route.id})`,
  );
}

/** What makes a rerun the same migration (and so resume it): the source index and what shapes the new vectors. */
function fingerprintOf(source: IndexTarget, meta: IndexMeta, options: MigrateOptions, model: string): string {
  const spec = {
    migrate: source.absolute,
    model,
    dimensions: options.dimensions,
    vector_format: meta.vector_format,
    text: meta.text,
    source_files: options.file,
    source_tree: options.files,
  };
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

function verificationError(name: string, alias: Alias, to: string, model: string, checked: Verification): CliError {
  const lines = checked.problems.map((p) => `  '${p.id}' (record ${p.position + 1}): ${p.problem}`);
  const more = checked.failures - checked.problems.length;
  return new CliError(
    `the migration of '${name}' did not verify, so '${name}' still points at ${alias.target}: ` +
      `${checked.failures} discrepanc${checked.failures === 1 ? 'y' : 'ies'} between it (${checked.sourceRows} ` +
      `records) and ${to} (${checked.targetRows}):\n${lines.join('\n')}${more > 0 ? `\n  … and ${more} more` : ''}`,
    ExitCode.failure,
    `rebuild the new index from scratch with embctl migrate ${name} --model ${model} --force ` +
      `(or abandon it: embctl migrate ${name} --abandon)`,
  );
}

export async function migrate(name: string, options: MigrateOptions, ctx: CliContext): Promise<void> {
  const registry = aliasRegistry(ctx.env);
  if (options.rollback) return rollback(name, registry, ctx);
  if (options.abandon) return abandon(name, registry, ctx);
  const model = options.model;
  if (!model) throw usageError('say which model to migrate to', `embctl migrate ${name} --model MODEL`);
  await sourceOf(name, registry); // what is wrong with the alias, named before anything is locked
  // Held from before the alias is read to after it is switched: no other migration or rollback in between.
  const run = () => migrateLocked(name, model, options, registry, ctx);
  await (options.dryRun ? run() : registry.withLock(name, ctx.host, run));
}

async function migrateLocked(
  name: string,
  model: string,
  options: MigrateOptions,
  registry: AliasRegistry,
  ctx: CliContext,
): Promise<void> {
  const { alias, source, meta } = await sourceOf(name, registry);
  const pending = alias.migration;
  const to = options.to
    ? (await openTarget(options.to)).absolute
    : (pending?.to ??
      siblingOf(source.absolute, `${name}-${model}${options.dimensions ? `-${options.dimensions}` : ''}`));
  if (pending && (pending.to !== to || pending.model !== model || pending.dimensions !== options.dimensions))
    throw new CliError(
      `'${name}' is being migrated to ${pending.to} with ${pending.model}${pending.dimensions ? ` (${pending.dimensions} dimensions)` : ''} ` +
        `since ${pending.started_at}`,
      ExitCode.conflict,
      `finish it: embctl migrate ${name} --model ${pending.model}${pending.dimensions ? ` --dimensions ${pending.dimensions}` : ''}; ` +
        `or abandon it first: embctl migrate ${name} --abandon`,
    );
  if (to === source.absolute)
    throw usageError(`--to names the index '${name}' points at now (${to})`, 'a migration writes a separate index');
  const target = await openTarget(to);
  if (!pending && !options.force && target.meta())
    throw new CliError(
      `${to} already holds an index, and a migration writes a new one`,
      ExitCode.conflict,
      'name another with --to, or pass --force to replace it',
    );
  const records = recordsOf(source, meta, options, ctx);
  if (options.dryRun) return dryRun({ alias: name, from: alias.target, to, model }, records, ctx);

  if (!pending)
    registry.save({
      ...alias,
      migration: {
        to,
        model,
        ...(options.dimensions ? { dimensions: options.dimensions } : {}),
        started_at: new Date().toISOString(),
      },
    });
  ctx.out.info(`migrating '${name}': ${alias.target} (${meta.model}) → ${to} (${model})`);
  const embedOptions: EmbedOptions = {
    ...options,
    model,
    out: to,
    text: meta.text,
    vectorFormat: meta.vector_format,
    metadataField: meta.metadata_fields ?? [],
    metadataColumn: [],
  };
  await embedRecords(records, embedOptions, (served) => fingerprintOf(source, meta, options, served), ctx);
  const written = target.meta();
  if (!written) throw new CliError(`${source.name} holds no records to migrate`, ExitCode.failure);
  const checked = await verifyMigration(source.rows({ dimensions: false }), target.rows(), {
    model: written.model,
    dimensions: written.dimensions,
  });
  if (checked.failures > 0) throw verificationError(name, alias, to, model, checked);
  const verified =
    `${checked.sourceRows.toLocaleString('en-US')} records verified (same ids` +
    `${checked.hashed === checked.sourceRows ? ' and texts' : checked.hashed ? `, ${checked.hashed} texts` : ''}, ` +
    `every vector ${written.dimensions}-dimension from ${written.model})`;
  if (!options.cutover) {
    ctx.out.success(
      `${verified}; '${name}' still points at ${alias.target}: cut over with embctl migrate ${name} --model ${model}`,
    );
    return;
  }
  registry.save(pointed(registry.require(name), to, 'cutover', alias.target));
  ctx.out.success(
    `${name} → ${to}: ${verified}. The old index ${alias.target} stays until embctl index prune ${name}; ` +
      `embctl migrate ${name} --rollback points back to it`,
  );
}

export function registerMigrateCommand(program: Root, makeContext: MakeContext): void {
  handle(
    withRunOptions(withInputOptions(program.command('migrate')))
      .description(
        're-embed the index an alias points at with another model into a new index, verify it, then switch the alias atomically',
      )
      .argument('<alias>', 'the index alias to migrate (`embctl index alias NAME TARGET` makes one)')
      .option('-m, --model <model>', 'the model to re-embed with')
      .option('--to <target>', 'where the new index goes (default: beside the current one, named ALIAS-MODEL)')
      .option('--dry-run', 'print the records, tokens and estimated cost; embed nothing')
      .option('--no-cutover', 'verify the new index but leave the alias where it is (rerun without it to switch)')
      .option('--rollback', 'point the alias back at the index it pointed at before the last cutover')
      .option('--abandon', 'stop an unfinished migration: delete its partial index and forget it')
      .option('--force', 'replace what --to holds instead of refusing (a migration that did not verify)')
      .addHelpText(
        'after',
        '\nThe text comes from the index itself; an index written with --no-text needs its original source: ' +
          '-f FILE (or --files DIR) with the same id options. Rerunning an interrupted migration resumes it.',
      ),
    makeContext,
    (options, ctx, name) => migrate(name, options, ctx),
  );
}

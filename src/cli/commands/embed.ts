/**
 * `embctl embed`: texts, files, trees or stdin → vectors, printed, or written to a resumable JSONL
 * index (`--out`) that records the model that made it and refuses to mix in another.
 */
import { Option } from '@commander-js/extra-typings';
import { createHash, type Hash } from 'node:crypto';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { isPinnedModel } from '../../core/pinning.js';
import { costOf, listPrice } from '../../core/prices.js';
import type { GatewayClient } from '../../client/gateway-client.js';
import { handle, type MakeContext } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';
import { plan } from '../embed/batches.js';
import { DedupIndex } from '../embed/dedup.js';
import { writableTarget, type IndexAppender, type IndexMeta, type IndexTarget } from '../index/target.js';
import { runEmbedding, VECTOR_FORMATS, type RunStats, type VectorFormat } from '../embed/runner.js';
import { FileSink, hashRecord, StdoutSink } from '../embed/sinks.js';
import type { InputRecord } from '../embed/sources.js';
import { inputRecords, withInputOptions, type InputOptions } from '../embed/source-options.js';
import { withRunOptions, type RunOptions } from '../embed/run-options.js';
import { aliasRegistry, resolveIndex } from '../index/aliases.js';

export interface EmbedOptions extends InputOptions, RunOptions {
  model?: string;
  vectorFormat: VectorFormat;
  text: boolean;
  out?: string | undefined;
  force?: boolean | undefined;
}

/**
 * The model to embed with (--model, the profile's pinned model, the index's own, else the only one
 * served) and where it came from when that was not `--model` (errors name it).
 */
export async function chooseModel(
  requested: string | undefined,
  ctx: CliContext,
  client: GatewayClient,
  index?: { path: string; model: string },
): Promise<{ model: string; source?: string }> {
  if (requested) return { model: requested };
  if (ctx.settings.model) return { model: ctx.settings.model, source: ctx.settings.sources.model };
  if (index) return { model: index.model, source: `the index ${index.path}` };
  const models = await client.models();
  if (models.length === 1) return { model: models[0]!.id };
  throw new CliError(
    models.length === 0
      ? 'the gateway serves no enabled embedding model'
      : `the gateway serves ${models.length} models; choose one with --model`,
    ExitCode.usage,
    models.length ? `one of: ${models.map((m) => m.id).join(', ')}` : 'enable one with `embctl models enable ID`',
  );
}

/** The options that shape records, in the order fingerprints have always listed them (a resumed run compares them). */
const SHAPING_OPTIONS = [
  'file',
  'files',
  'glob',
  'format',
  'split',
  'textField',
  'idField',
  'textColumn',
  'idColumn',
  'metadataField',
  'metadataColumn',
  'chunkTokens',
  'chunkOverlap',
  'model',
  'dimensions',
  'vectorFormat',
  'text',
] as const;

function fingerprintOf(texts: string[], options: EmbedOptions, model: string): string {
  const values: Record<string, unknown> = { ...options, model, glob: options.files ? options.glob : undefined };
  const spec = {
    texts: createHash('sha256').update(JSON.stringify(texts)).digest('hex'),
    ...Object.fromEntries(SHAPING_OPTIONS.map((name) => [name, values[name]])),
  };
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

/**
 * A resumed run passes over the records it already wrote: it hashes them to prove the input is the
 * same, and remembers their texts so that copies of them are reused, then yields the rest.
 */
async function* skipWritten(
  records: AsyncIterable<InputRecord>,
  count: number,
  expectedSha: string,
  hasher: Hash,
  seen: DedupIndex,
  firstPosition: number,
): AsyncGenerator<InputRecord> {
  let skipped = 0;
  const mismatch = () =>
    new CliError(
      `the input differs from the interrupted run that wrote the first ${count} records`,
      ExitCode.failure,
      'rerun with the same input, write to another --out, or pass --force to start over',
    );
  for await (const record of records) {
    if (skipped < count) {
      hashRecord(hasher, record.id, record.text);
      seen.firstOrRemember(record.text, firstPosition + skipped);
      skipped++;
      if (skipped === count && hasher.copy().digest('hex') !== expectedSha) throw mismatch();
      continue;
    }
    yield record;
  }
  if (skipped < count) throw mismatch();
}

interface Prepared {
  sink: FileSink | StdoutSink;
  writer?: IndexAppender;
  records: AsyncIterable<InputRecord>;
  seen: DedupIndex;
  firstPosition: number;
  skipped: number;
  meta?: IndexMeta;
}

async function prepareFile(
  target: IndexTarget,
  records: AsyncIterable<InputRecord>,
  options: EmbedOptions,
  fingerprint: string,
  model: string,
): Promise<Prepared> {
  const out = target.name;
  if (options.force) target.remove();
  const meta = target.meta();
  if (meta && options.dimensions !== undefined && options.dimensions !== meta.dimensions) {
    throw new CliError(
      `${out} holds ${meta.dimensions}-dimension vectors; --dimensions ${options.dimensions} cannot be added to it`,
      ExitCode.conflict,
      'write to another --out, or pass --force to replace it',
    );
  }
  const checkpoint = target.checkpoint();
  const resuming = checkpoint?.fingerprint === fingerprint;
  // Whatever ran last, nothing past its checkpoint was acknowledged: a partial tail goes.
  const writer = await target.open(checkpoint?.bytes);
  const hasher = createHash('sha256');
  const seen = new DedupIndex();
  const base = resuming
    ? { records: checkpoint.base_records, bytes: checkpoint.base_bytes }
    : { records: writer.records, bytes: writer.position };
  const skipped = resuming ? checkpoint.records : 0;
  const firstPosition = base.records;
  const sink = new FileSink(
    writer,
    meta,
    {
      name: out,
      requestedModel: model,
      requestedDimensions: options.dimensions,
      vectorFormat: options.vectorFormat,
      includeText: options.text,
      fingerprint,
      base,
      skipped,
      metadataFields: [...(options.metadataField ?? []), ...(options.metadataColumn ?? [])],
    },
    hasher,
  );
  const rest = resuming ? skipWritten(records, skipped, checkpoint.input_sha256, hasher, seen, firstPosition) : records;
  return {
    sink,
    writer,
    records: rest,
    seen,
    firstPosition: firstPosition + skipped,
    skipped,
    ...(meta ? { meta } : {}),
  };
}

function rate(count: number, ms: number): string {
  return ms > 0 ? `${Math.round((count * 1000) / ms).toLocaleString('en-US')}/s` : '';
}

export async function embed(texts: string[], options: EmbedOptions, ctx: CliContext): Promise<void> {
  if (options.force && !options.out) throw usageError('--force only applies with --out');
  // Checked before anything is written: a typo must not leave an empty output behind.
  const records = inputRecords(texts, options, ctx);
  const out = options.out ? resolveIndex(options.out, aliasRegistry(ctx.env)).spec : undefined;
  await embedRecords(records, { ...options, out }, (model) => fingerprintOf(texts, options, model), ctx);
}

/**
 * Embeds `records` as `embed` does: printed, or into the `--out` index, resumable when a run with
 * the same `fingerprint` was interrupted (`embed` and `migrate` both run through here).
 */
export async function embedRecords(
  records: AsyncIterable<InputRecord>,
  options: EmbedOptions,
  fingerprint: (model: string) => string,
  ctx: CliContext,
): Promise<void> {
  const { out } = ctx;
  const opened = options.out ? await writableTarget(options.out, options.force) : undefined;
  const target = opened?.target;
  const client = await ctx.client();
  const meta = opened?.meta;
  const { model, source } = await chooseModel(
    options.model,
    ctx,
    client,
    meta ? { path: options.out!, model: meta.requested_model } : undefined,
  );
  // Routed now, no token spent: the price the gateway charges, and a model the index cannot take.
  // A server that is not an embctl gateway may not answer this: then the run's own checks stand.
  const routeOf = (name: string) =>
    client.model(name).catch((error: unknown) => {
      if (source && name === model && error instanceof CliError && error.exitCode === ExitCode.notFound)
        throw new CliError(
          `${error.message.replace(/\.$/, '')} (the model '${model}' came from ${source})`,
          ExitCode.notFound,
          source.startsWith('profile')
            ? 'pin another with `embctl profile set model NAME` (`embctl models list` shows them), or pass --model'
            : `change ${source}, or pass --model`,
          error.details,
        );
      return undefined;
    });
  const routed = await routeOf(model);
  const indexRoute = meta && meta.requested_model !== model ? await routeOf(meta.requested_model) : undefined;
  if (meta && routed && indexRoute && routed.id !== indexRoute.id) {
    throw new CliError(
      `${options.out} holds vectors of '${meta.model}' (from ${indexRoute.id}); '${model}' routes to ${routed.id}, and ` +
        'vectors of two models cannot share an index',
      ExitCode.conflict,
      `embed with --model ${meta.requested_model}, write to another --out, or pass --force to replace it`,
    );
  }

  const prepared: Prepared = options.out
    ? await prepareFile(target!, records, options, fingerprint(model), model)
    : { sink: new StdoutSink(out, options.text), records, seen: new DedupIndex(), firstPosition: 0, skipped: 0 };
  if (prepared.skipped) out.info(`resuming: ${prepared.skipped} record(s) already in ${options.out}`);

  const started = performance.now();
  const spinner = await out.spinner(`embedding with ${model}`);
  const costText = (stats: RunStats) => {
    const price = routed?.price_per_million_tokens ?? (stats.model ? listPrice(stats.model) : undefined);
    return price === undefined || price === null ? undefined : `$${costOf(stats.tokens, price).toFixed(6)}`;
  };
  const progress = (stats: RunStats) => {
    const cost = costText(stats) ? ` · ${costText(stats)}` : '';
    if (spinner)
      spinner.text =
        `${stats.records.toLocaleString('en-US')} records · ` +
        `${rate(stats.records, performance.now() - started)} · ${stats.tokens.toLocaleString('en-US')} tokens${cost}`;
  };
  let stats: RunStats;
  try {
    stats = await runEmbedding(
      plan(prepared.records, options, prepared.seen, prepared.firstPosition),
      client,
      prepared.sink,
      {
        model,
        ...(options.dimensions ? { dimensions: options.dimensions } : {}),
        wire: options.encodingFormat,
        vectorFormat: options.vectorFormat,
        concurrency: options.concurrency,
        retries: options.retries,
        ...(prepared.meta ? { expectModel: prepared.meta.model } : {}),
        onProgress: progress,
        signal: ctx.interrupted(),
        onRetry: ({ batch, attempt, waitMs, reason }) => {
          if (spinner) spinner.text = `batch ${batch}: retry ${attempt} in ${(waitMs / 1000).toFixed(1)} s (${reason})`;
          else out.debug(`batch ${batch}: retry ${attempt} in ${Math.round(waitMs)} ms: ${reason}`);
        },
      },
    );
  } catch (error) {
    spinner?.stop();
    if (prepared.sink instanceof FileSink) await prepared.sink.finish();
    else prepared.sink.abandon();
    await prepared.writer?.close();
    const transient =
      error instanceof CliError &&
      (error.exitCode === ExitCode.unreachable ||
        error.exitCode === ExitCode.rateLimited ||
        Number(error.details?.status) >= 500);
    if (options.out && transient) {
      throw new CliError(
        error.message,
        error.exitCode,
        `${error.hint ? `${error.hint}; ` : ''}what was written is kept: rerun the same command to resume`,
        error.details,
      );
    }
    throw error;
  }
  spinner?.stop();

  const elapsed = performance.now() - started;
  if (stats.records === 0) {
    if (prepared.sink instanceof StdoutSink) prepared.sink.abandon();
    await prepared.writer?.close();
    out.info(
      prepared.skipped
        ? `nothing new to embed: ${options.out} already holds every record`
        : 'nothing to embed: the input holds no text',
    );
    return;
  }
  const { sink } = prepared;
  if (sink instanceof StdoutSink) sink.end(stats.tokens);
  else await sink.finish();
  await prepared.writer?.close();
  if (stats.model && !isPinnedModel(stats.model)) {
    out.warn(
      `'${stats.model}' is not a versioned model name: if the provider moves it to a new version, new vectors will ` +
        `not match old ones. Pin a versioned model with --model (or \`embctl profile set model\`).`,
    );
  }
  const cost = costText(stats);
  const reused = stats.records - stats.embedded;
  out.success(
    [
      `${stats.records.toLocaleString('en-US')} record(s)${reused ? ` (${reused} reused from identical texts)` : ''}`,
      `${stats.batches} batch(es)`,
      `${stats.tokens.toLocaleString('en-US')} tokens`,
      ...(cost ? [cost] : []),
      `${(elapsed / 1000).toFixed(1)} s`,
      rate(stats.records, elapsed),
      ...(stats.retries ? [`${stats.retries} retries`] : []),
    ].join(' · ') +
      (stats.model ? ` → ${stats.dimensions}-dimension vectors from ${stats.model}` : '') +
      (options.out ? ` in ${options.out}` : ''),
  );
}

export function registerEmbedCommand(program: Root, makeContext: MakeContext): void {
  handle(
    withRunOptions(withInputOptions(program.command('embed')))
      .description('embed texts, files, document trees or stdin; print the vectors or write a resumable JSONL index')
      .argument('[text...]', 'texts to embed')
      .option(
        '-m, --model <model>',
        "model (default: the profile's pinned model, the --out index's, or the only one served)",
      )
      .addOption(
        new Option(
          '--vector-format <format>',
          'how vectors are written: float (numbers) or base64 (little-endian float32)',
        )
          .choices(VECTOR_FORMATS)
          .default('float' as const),
      )
      .option('--no-text', 'leave the text out of the output records')
      .option(
        '-O, --out <file>',
        'write into this index (FILE.jsonl, sqlite:FILE.db[#collection], lancedb:DIR[#table], or an alias); a rerun resumes',
      )
      .option('--force', 'replace an --out made by another model, dimension or input instead of refusing'),
    makeContext,
    (options, ctx, texts) => embed(texts, options, ctx),
  );
}

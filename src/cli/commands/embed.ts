/** `embctl embed`: texts, files or stdin → vectors, printed or summarised. */
import type { Command } from 'commander';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { base64ToFloat32 } from '../../core/vectors.js';
import type { GatewayClient } from '../../client/gateway-client.js';
import { action, collect, integer } from '../command.js';
import type { CliContext } from '../context.js';
import { collectInputs, type InputRecord } from '../inputs.js';

export interface EmbedOptions {
  file: string[];
  model?: string;
  dimensions?: number;
  encodingFormat: 'float' | 'base64';
  batchSize: number;
}

export interface EmbeddedRecord extends InputRecord {
  embedding: Float32Array;
}

/** The model to use: --model, else the profile's pinned model, else the only model the gateway serves. */
export async function chooseModel(requested: string | undefined, ctx: CliContext, client: GatewayClient): Promise<string> {
  const pinned = requested ?? ctx.settings.model;
  if (pinned) return pinned;
  const models = await client.models();
  if (models.length === 1) return models[0]!.id;
  throw new CliError(
    models.length === 0 ? 'the gateway serves no enabled embedding model' : `the gateway serves ${models.length} models; choose one with --model`,
    ExitCode.usage,
    models.length ? `one of: ${models.map((m) => m.id).join(', ')}` : 'enable one with `embctl models enable ID`',
  );
}

function decode(embedding: number[] | string): Float32Array {
  return typeof embedding === 'string' ? base64ToFloat32(embedding) : Float32Array.from(embedding);
}

export async function embed(texts: string[], options: EmbedOptions, ctx: CliContext, stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<void> {
  const { out } = ctx;
  const inputs = await collectInputs(texts, options.file, stdin);
  if (inputs.length === 0) throw usageError('nothing to embed', 'pass texts as arguments, -f FILE, or pipe text on stdin');
  const client = await ctx.client();
  const model = await chooseModel(options.model, ctx, client);

  const spinner = await out.spinner(`embedding ${inputs.length} input(s) with ${model}`);
  const results: EmbeddedRecord[] = [];
  let tokens = 0;
  let servedBy = '';
  try {
    for (let start = 0; start < inputs.length; start += options.batchSize) {
      const batch = inputs.slice(start, start + options.batchSize);
      const response = await client.embeddings({
        model,
        input: batch.map((r) => r.text),
        encoding_format: options.encodingFormat,
        ...(options.dimensions ? { dimensions: options.dimensions } : {}),
      });
      servedBy ||= response.model;
      tokens += response.usage.prompt_tokens;
      for (const item of response.data) results.push({ ...batch[item.index]!, embedding: decode(item.embedding) });
      if (spinner) spinner.text = `embedded ${results.length}/${inputs.length}`;
    }
  } finally {
    spinner?.stop();
  }

  const dimensions = results[0]?.embedding.length ?? 0;
  if (out.format === 'table') {
    out.list(results, [
      { header: 'id', value: (r) => r.id },
      { header: 'text', value: (r) => (r.text.length > 48 ? `${r.text.slice(0, 47)}…` : r.text) },
      { header: 'first values', value: (r) => Array.from(r.embedding.slice(0, 4), (v) => v.toFixed(4)).join(' ') + ' …' },
    ]);
  } else if (out.format === 'ndjson') {
    out.records(results.map((r) => ({ id: r.id, text: r.text, embedding: Array.from(r.embedding) })));
  } else {
    out.records(
      [{ model: servedBy, dimensions, usage: { prompt_tokens: tokens }, data: results.map((r) => ({ id: r.id, text: r.text, embedding: Array.from(r.embedding) })) }],
      true,
    );
  }
  out.success(`${results.length} input(s) → ${dimensions}-dimension vectors with ${servedBy} (${tokens} tokens)`);
}

export function registerEmbedCommand(program: Command, makeContext: (cmd: Command) => CliContext): void {
  program
    .command('embed')
    .description('embed texts given as arguments, in files (one per line), or piped on stdin')
    .argument('[text...]', 'texts to embed')
    .option('-f, --file <path>', 'read inputs from a file, one per line; - for stdin (repeatable)', collect, [])
    .option('-m, --model <model>', 'model to use (default: the profile\'s pinned model, or the only one served)')
    .option('--dimensions <n>', 'shorten vectors to n dimensions (models that support it)', integer('--dimensions', 1))
    .option('--encoding-format <format>', 'wire encoding asked of the gateway: float or base64', 'base64')
    .option('--batch-size <n>', 'inputs per request', integer('--batch-size', 1, 2048), 128)
    .action(
      action(makeContext, async (options: EmbedOptions, ctx, texts: string[]) => {
        if (options.encodingFormat !== 'float' && options.encodingFormat !== 'base64') {
          throw usageError(`--encoding-format must be float or base64; got '${options.encodingFormat}'`);
        }
        await embed(texts, options, ctx, ctx.stdin);
      }),
    );
}

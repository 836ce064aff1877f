/**
 * How a run sends its records, shared by `embed` and `migrate` (one definition, so both batch,
 * retry and encode the same way).
 */
import { Option, type Command, type OptionValues } from '@commander-js/extra-typings';
import { integer } from '../command.js';
import { VECTOR_FORMATS, type VectorFormat } from './runner.js';

export interface RunOptions {
  dimensions?: number;
  encodingFormat: VectorFormat;
  batchSize: number;
  maxBatchTokens: number;
  concurrency: number;
  retries: number;
}

// biome-ignore lint/suspicious/noExplicitAny: commander's typed builder, whatever the command's own options
export function withRunOptions<A extends any[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .option('--dimensions <n>', 'shorten vectors to n dimensions (models that support it)', integer('--dimensions', 1))
    .addOption(
      new Option('--encoding-format <format>', 'wire encoding asked of the gateway')
        .choices(VECTOR_FORMATS)
        .default('base64' as const),
    )
    .option('--batch-size <n>', 'inputs per request', integer('--batch-size', 1, 2048), 128)
    .option('--max-batch-tokens <n>', 'tokens per request', integer('--max-batch-tokens', 1, 300_000), 100_000)
    .option('-c, --concurrency <n>', 'requests in flight', integer('--concurrency', 1, 64), 4)
    .option(
      '--retries <n>',
      'retries of a batch on 429, 5xx or network errors (honouring retry-after)',
      integer('--retries', 0, 100),
      6,
    );
}

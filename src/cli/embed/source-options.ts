/**
 * The input options `embed` and `jobs submit` share: where texts come from, how they are read and
 * chunked. One definition, so that both read a corpus the same way and give the same ids.
 */
import { InvalidArgumentError, Option, type Command, type OptionValues } from '@commander-js/extra-typings';
import { existsSync } from 'node:fs';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { collect, integer } from '../command.js';
import type { CliContext } from '../context.js';
import { chunk } from './batches.js';
import { allRecords, FORMATS, type InputRecord, type InputSpec, type SourceOptions } from './sources.js';

export interface InputOptions extends SourceOptions {
  file: string[];
  files?: string;
  glob: string;
  chunkTokens?: number;
  chunkOverlap: number;
}

/** A WHATWG encoding label that this Node.js can decode, checked while parsing (a usage error otherwise). */
function encodingLabel(value: string): string {
  try {
    return new TextDecoder(value).encoding;
  } catch {
    throw new InvalidArgumentError(
      `--encoding must be an encoding label such as utf-8, latin1, utf-16le or windows-1252; got '${value}'.`,
    );
  }
}

// biome-ignore lint/suspicious/noExplicitAny: commander's typed builder, whatever the command's own options
export function withInputOptions<A extends any[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .option(
      '-f, --file <path>',
      'input file (repeatable); - for stdin. Format from the extension: .txt/.md lines, .jsonl, .json, .csv, .tsv',
      collect,
      [],
    )
    .option('--files <dir>', 'embed every file under DIR matching --glob, one input each (id = relative path)')
    .option('--glob <pattern>', 'files to take under --files', '**/*.{md,txt}')
    .addOption(new Option('--format <format>', 'input format, overriding the extension').choices(FORMATS))
    .addOption(
      new Option('--split <unit>', 'text files: one input per line or per paragraph')
        .choices(['line', 'paragraph'] as const)
        .default('line' as const),
    )
    .option(
      '--encoding <label>',
      "the input files' text encoding (utf-8, latin1, utf-16le, windows-1252, …)",
      encodingLabel,
      'utf-8',
    )
    .option(
      '--allow-invalid',
      'embed input with NUL bytes or invalid sequences anyway (U+FFFD replaces what cannot be decoded)',
    )
    .option('--text-field <field>', 'JSON/JSONL: the field holding the text', 'text')
    .option('--id-field <field>', 'JSON/JSONL: the field holding the id (default: file:line)')
    .option('--text-column <column>', 'CSV/TSV: the column holding the text', 'text')
    .option('--id-column <column>', 'CSV/TSV: the column holding the id (default: file:row)')
    .option(
      '--metadata-field <field>',
      'JSON/JSONL: a field carried into the index as metadata, for `search --where` (repeatable)',
      collect,
      [],
    )
    .option(
      '--metadata-column <column>',
      'CSV/TSV: a column carried into the index as metadata, for `search --where` (repeatable)',
      collect,
      [],
    )
    .option(
      '--chunk-tokens <n>',
      'split texts longer than n tokens into chunks (ids get #0, #1, …)',
      integer('--chunk-tokens', 16, 8192),
    )
    .option('--chunk-overlap <n>', 'tokens shared by consecutive chunks', integer('--chunk-overlap', 0), 0);
}

/**
 * The records the options name, chunked, after the checks that must come before anything is
 * written or sent: something to read, every -f file there, a sane overlap.
 */
export function inputRecords(texts: string[], options: InputOptions, ctx: CliContext): AsyncIterable<InputRecord> {
  if (options.chunkTokens !== undefined && options.chunkOverlap >= options.chunkTokens) {
    throw usageError(
      `--chunk-overlap (${options.chunkOverlap}) must be smaller than --chunk-tokens (${options.chunkTokens})`,
    );
  }
  if (texts.length === 0 && options.file.length === 0 && !options.files && ctx.stdin.isTTY) {
    throw usageError('nothing to embed', 'pass texts as arguments, -f FILE, --files DIR, or pipe text on stdin');
  }
  for (const file of options.file) {
    if (file !== '-' && !existsSync(file)) {
      throw new CliError(`input file '${file}' does not exist`, ExitCode.notFound, 'check the path given to -f');
    }
  }
  const spec: InputSpec = {
    texts,
    files: options.file,
    stdinFallback: true,
    ...(options.files ? { tree: { dir: options.files, glob: options.glob } } : {}),
  };
  return chunked(allRecords(spec, ctx.stdin, options), options);
}

async function* chunked(records: AsyncIterable<InputRecord>, options: InputOptions): AsyncGenerator<InputRecord> {
  if (!options.chunkTokens) return yield* records;
  for await (const record of records) yield* chunk(record, options.chunkTokens, options.chunkOverlap);
}

/**
 * Where `embed` inputs come from, as one stream of `{id, text}` records in a stable order (so that
 * a resumed run sees the same sequence): arguments, text files (a line or a paragraph each), JSONL,
 * JSON arrays, CSV/TSV, or a tree of documents (one file each, id = relative path). Everything but
 * JSON arrays streams, so memory stays flat whatever the corpus size.
 */
import { parse as parseCsv } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { extname, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { decodeWhole, decodingStream, type Decoding } from './decode.js';

export interface InputRecord {
  id: string;
  text: string;
  /** Fields of the source record carried into the index. */
  metadata?: Record<string, unknown>;
}

export const FORMATS = ['text', 'jsonl', 'json', 'csv', 'tsv'] as const;
export type SourceFormat = (typeof FORMATS)[number];

export interface SourceOptions {
  format?: SourceFormat;
  /** How input bytes become text; NUL bytes and invalid sequences are refused unless allowed. */
  encoding: string;
  allowInvalid?: boolean;
  split: 'line' | 'paragraph';
  textField: string;
  idField?: string;
  textColumn: string;
  idColumn?: string;
  /** JSON/JSONL fields, and CSV/TSV columns, carried into each record's metadata. */
  metadataField?: string[];
  metadataColumn?: string[];
}

/** The chosen fields of a source record, those it has; undefined when none was asked or found. */
function pick(source: Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> | undefined {
  if (!fields?.length) return undefined;
  const picked: Record<string, unknown> = {};
  for (const field of fields) if (source[field] !== undefined) picked[field] = source[field];
  return Object.keys(picked).length ? picked : undefined;
}

type Stdin = NodeJS.ReadableStream & { isTTY?: boolean };

function formatOf(path: string, options: SourceOptions): SourceFormat {
  if (options.format) return options.format;
  switch (extname(path).toLowerCase()) {
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    case '.json':
      return 'json';
    case '.csv':
      return 'csv';
    case '.tsv':
      return 'tsv';
    default:
      return 'text';
  }
}

const decodingOf = (options: SourceOptions): Decoding => ({
  encoding: options.encoding,
  allowInvalid: options.allowInvalid === true,
});

function open(path: string, stdin: Stdin, options: SourceOptions): NodeJS.ReadableStream {
  const source: NodeJS.ReadableStream = path === '-' ? stdin : createReadStream(path);
  const text = decodingStream(label(path), decodingOf(options));
  source.on('error', (error: Error) => text.destroy(error));
  return source.pipe(text);
}

async function* lines(stream: NodeJS.ReadableStream, path: string): AsyncGenerator<[string, number]> {
  let number = 0;
  try {
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) yield [line, ++number];
  } catch (error) {
    throw error instanceof CliError ? error : unreadable(path, error);
  }
}

function unreadable(path: string, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException).code;
  return new CliError(
    `cannot read input file '${path}' (${code ?? (error as Error).message})`,
    code === 'ENOENT' ? ExitCode.notFound : ExitCode.failure,
    'check the path given to -f',
  );
}

const label = (path: string) => (path === '-' ? 'stdin' : path);

async function* textRecords(path: string, stdin: Stdin, options: SourceOptions): AsyncGenerator<InputRecord> {
  const split = options.split;
  let paragraph: string[] = [];
  let start = 0;
  for await (const [line, number] of lines(open(path, stdin, options), path)) {
    if (split === 'line') {
      if (line.trim() !== '') yield { id: `${label(path)}:${number}`, text: line };
      continue;
    }
    if (line.trim() === '') {
      if (paragraph.length) yield { id: `${label(path)}:${start}`, text: paragraph.join('\n') };
      paragraph = [];
    } else {
      if (paragraph.length === 0) start = number;
      paragraph.push(line);
    }
  }
  if (paragraph.length) yield { id: `${label(path)}:${start}`, text: paragraph.join('\n') };
}

function fromObject(value: unknown, where: string, options: SourceOptions): InputRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new CliError(`${where} is not a JSON object`, ExitCode.failure);
  const record = value as Record<string, unknown>;
  const text = record[options.textField];
  if (typeof text !== 'string' || text === '') {
    throw new CliError(
      `${where} has no non-empty string field '${options.textField}'`,
      ExitCode.failure,
      'choose the field with --text-field',
    );
  }
  const id = options.idField ? record[options.idField] : undefined;
  if (options.idField && (id === undefined || id === null))
    throw new CliError(
      `${where} has no field '${options.idField}'`,
      ExitCode.failure,
      'choose the field with --id-field',
    );
  const metadata = pick(record, options.metadataField);
  return { id: id === undefined ? where : String(id), text, ...(metadata ? { metadata } : {}) };
}

async function* jsonlRecords(path: string, stdin: Stdin, options: SourceOptions): AsyncGenerator<InputRecord> {
  for await (const [line, number] of lines(open(path, stdin, options), path)) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new CliError(`${label(path)}:${number} is not valid JSON (${(error as Error).message})`, ExitCode.failure);
    }
    yield fromObject(value, `${label(path)}:${number}`, options);
  }
}

async function* jsonRecords(path: string, stdin: Stdin, options: SourceOptions): AsyncGenerator<InputRecord> {
  let bytes: Buffer;
  try {
    bytes = path === '-' ? await readAll(stdin) : await readFile(path);
  } catch (error) {
    throw unreadable(path, error);
  }
  const text = decodeWhole(bytes, label(path), decodingOf(options));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `${label(path)} is not valid JSON (${(error as Error).message})`,
      ExitCode.failure,
      'for large corpora use JSONL, one object per line',
    );
  }
  const items = Array.isArray(value) ? value : [value];
  for (const [i, item] of items.entries()) {
    yield typeof item === 'string'
      ? { id: `${label(path)}#${i}`, text: item }
      : fromObject(item, `${label(path)}#${i}`, options);
  }
}

async function* csvRecords(
  path: string,
  stdin: Stdin,
  options: SourceOptions,
  delimiter: string,
): AsyncGenerator<InputRecord> {
  const parser = open(path, stdin, options).pipe(
    parseCsv({ columns: true, delimiter, bom: true, skip_empty_lines: true, relax_column_count: true }),
  );
  let row = 1;
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      row++;
      const text = record[options.textColumn];
      if (text === undefined)
        throw new CliError(
          `${label(path)} has no column '${options.textColumn}'`,
          ExitCode.failure,
          `choose it with --text-column (columns: ${Object.keys(record).join(', ')})`,
        );
      if (text === '') continue;
      const id = options.idColumn ? record[options.idColumn] : undefined;
      if (options.idColumn && id === undefined)
        throw new CliError(
          `${label(path)} has no column '${options.idColumn}'`,
          ExitCode.failure,
          'choose it with --id-column',
        );
      const metadata = pick(record, options.metadataColumn);
      yield { id: id ?? `${label(path)}:${row}`, text, ...(metadata ? { metadata } : {}) };
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    if ((error as NodeJS.ErrnoException).syscall) throw unreadable(path, error);
    throw new CliError(
      `${label(path)} is not valid ${delimiter === '\t' ? 'TSV' : 'CSV'}: ${(error as Error).message}`,
      ExitCode.failure,
    );
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

export async function* fileRecords(path: string, stdin: Stdin, options: SourceOptions): AsyncGenerator<InputRecord> {
  // Checked first: a stream that fails to open must not leave a parser waiting forever.
  if (path !== '-')
    await access(path, constants.R_OK).catch((error: unknown) => Promise.reject(unreadable(path, error)));
  switch (formatOf(path, options)) {
    case 'jsonl':
      return yield* jsonlRecords(path, stdin, options);
    case 'json':
      return yield* jsonRecords(path, stdin, options);
    case 'csv':
      return yield* csvRecords(path, stdin, options, ',');
    case 'tsv':
      return yield* csvRecords(path, stdin, options, '\t');
    default:
      return yield* textRecords(path, stdin, options);
  }
}

/** Each matching file under `dir` is one input, its id the path relative to `dir`, in sorted order. */
export async function* treeRecords(dir: string, pattern: string, options: SourceOptions): AsyncGenerator<InputRecord> {
  const { glob } = await import('tinyglobby');
  const root = resolve(dir);
  const files = (await glob(pattern, { cwd: root, onlyFiles: true, dot: false })).sort();
  if (files.length === 0) throw usageError(`no file under '${dir}' matches '${pattern}'`, 'check --files and --glob');
  for (const file of files) {
    const text = decodeWhole(await readFile(resolve(root, file)), file, decodingOf(options));
    if (text.trim() !== '') yield { id: relative(root, resolve(root, file)), text };
  }
}

export interface InputSpec {
  texts: string[];
  files: string[];
  tree?: { dir: string; glob: string };
  /** Read stdin when nothing else is given and it is not a terminal. */
  stdinFallback: boolean;
}

/** All sources, in the order given: arguments, then files, then the tree, then (alone) stdin. */
export async function* allRecords(spec: InputSpec, stdin: Stdin, options: SourceOptions): AsyncGenerator<InputRecord> {
  for (const [i, text] of spec.texts.entries()) {
    if (text === '') throw usageError(`argument ${i + 1} is empty; embeddings need non-empty text`);
    yield { id: String(i), text };
  }
  for (const file of spec.files) yield* fileRecords(file, stdin, options);
  if (spec.tree) yield* treeRecords(spec.tree.dir, spec.tree.glob, options);
  if (spec.texts.length === 0 && spec.files.length === 0 && !spec.tree && spec.stdinFallback && !stdin.isTTY) {
    yield* fileRecords('-', stdin, options);
  }
}

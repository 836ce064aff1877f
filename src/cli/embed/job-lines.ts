/**
 * Records as Batch API lines and back: `jobs submit` turns each input record into one line of a
 * batch input file, and `jobs download` zips a job's input file (ids, texts) with its output file
 * (vectors), both in line order, into the records `embed --out` writes.
 */
import { CliError, ExitCode } from '../../core/errors.js';
import type { InputRecord } from './sources.js';

export interface JobLineOptions {
  model: string;
  dimensions?: number | undefined;
}

/** One record as a batch input line; vectors come back as base64, a quarter of the float bytes. */
export function jobLine(record: InputRecord, options: JobLineOptions): string {
  return `${JSON.stringify({
    custom_id: record.id,
    method: 'POST',
    url: '/v1/embeddings',
    body: {
      model: options.model,
      input: record.text,
      encoding_format: 'base64',
      ...(options.dimensions ? { dimensions: options.dimensions } : {}),
    },
  })}\n`;
}

/** Ids seen so far: batch lines need unique ids, and two records with one id would be one vector. */
export class UniqueIds {
  private readonly seen = new Set<string>();

  check(id: string): void {
    if (this.seen.has(id))
      throw new CliError(
        `the id '${id}' is given to more than one record: a job needs a unique id per input`,
        ExitCode.usage,
        'choose a field that is unique with --id-field / --id-column, or leave ids to the default (file:line)',
      );
    this.seen.add(id);
  }
}

interface InputLine {
  custom_id: string;
  body: { model?: unknown; input?: unknown; dimensions?: unknown };
}

interface OutputLine {
  custom_id: string;
  response: { status_code: number; body: { model: string; data: { index: number; embedding: number[] | string }[] } };
}

export interface JobRecord extends InputRecord {
  embedding: number[] | string;
  model: string;
}

function parseLine<T>(line: string, what: string, number: number): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new CliError(`line ${number} of the job's ${what} file is not JSON`, ExitCode.failure);
  }
}

/** The texts of an input line: one, or each of an array (ids `custom_id#k`). */
function textsOf(line: InputLine, number: number): string[] {
  const { input } = line.body;
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.every((i) => typeof i === 'string')) return input;
  throw new CliError(
    `line ${number} of the job's input file (custom_id '${line.custom_id}') embeds token ids, not text: an index ` +
      'keeps texts',
    ExitCode.failure,
    'download with --no-text, or read the output file through the Batch API',
  );
}

const idOf = (customId: string, k: number, count: number) => (count === 1 ? customId : `${customId}#${k}`);

/** The records of lines that ran, from the output file alone (no texts). */
export async function* outputRecords(outputs: AsyncIterable<string>): AsyncGenerator<JobRecord> {
  let number = 0;
  for await (const raw of outputs) {
    const line = parseLine<OutputLine>(raw, 'output', ++number);
    const { data, model } = line.response.body;
    for (const item of data)
      yield { id: idOf(line.custom_id, item.index, data.length), text: '', embedding: item.embedding, model };
  }
}

/**
 * Input and output zipped in line order: each input line's records, with the vectors its output
 * line holds. Lines with no output (they failed, or never ran) are counted in `skipped`.
 */
export async function* zippedRecords(
  inputs: AsyncIterable<string>,
  outputs: AsyncIterable<string>,
  skipped: { lines: number },
): AsyncGenerator<JobRecord> {
  const results = outputs[Symbol.asyncIterator]();
  let pending: OutputLine | undefined;
  let outputNumber = 0;
  const nextOutput = async () => {
    const next = await results.next();
    return next.done ? undefined : parseLine<OutputLine>(next.value, 'output', ++outputNumber);
  };
  pending = await nextOutput();
  let number = 0;
  for await (const raw of inputs) {
    const line = parseLine<InputLine>(raw, 'input', ++number);
    if (pending?.custom_id !== line.custom_id) {
      skipped.lines++;
      continue;
    }
    const texts = textsOf(line, number);
    const { data, model } = pending.response.body;
    if (data.length !== texts.length)
      throw new CliError(
        `the job's output for '${line.custom_id}' has ${data.length} vectors for ${texts.length} inputs`,
        ExitCode.failure,
      );
    for (const item of data)
      yield {
        id: idOf(line.custom_id, item.index, texts.length),
        text: texts[item.index]!,
        embedding: item.embedding,
        model,
      };
    pending = await nextOutput();
  }
  if (pending)
    throw new CliError(
      `the job's output file has a line for '${pending.custom_id}' that its input file does not, in that order`,
      ExitCode.failure,
    );
}

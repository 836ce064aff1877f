/** Where `embed` inputs come from: arguments, files (`-` is stdin), or piped stdin. */
import { readFile } from 'node:fs/promises';
import { CliError, ExitCode } from '../core/errors.js';

export interface InputRecord {
  id: string;
  text: string;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function readSource(path: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (path === '-') return readStream(stdin);
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read input file '${path}' (${code ?? (error as Error).message})`, code === 'ENOENT' ? ExitCode.notFound : ExitCode.failure, 'check the path given to -f');
  }
}

/** One input per non-blank line; the id is `<source>:<line number>`. */
export function linesOf(text: string, source: string): InputRecord[] {
  const records: InputRecord[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() !== '') records.push({ id: `${source}:${i + 1}`, text: line });
  });
  return records;
}

export async function collectInputs(texts: string[], files: string[], stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<InputRecord[]> {
  const records: InputRecord[] = texts.map((text, i) => ({ id: String(i), text }));
  for (const file of files) records.push(...linesOf(await readSource(file, stdin), file === '-' ? 'stdin' : file));
  if (texts.length === 0 && files.length === 0 && !stdin.isTTY) records.push(...linesOf(await readStream(stdin), 'stdin'));
  const empty = records.find((r) => r.text === '');
  if (empty) throw new CliError(`input '${empty.id}' is empty; embeddings need non-empty text`, ExitCode.usage);
  return records;
}

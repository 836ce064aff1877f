/**
 * The one output module: data to stdout as table | json | yaml | ndjson (table on a terminal, JSON
 * when piped); notes, warnings, spinners and errors to stderr, so `embctl … | jq` always works.
 */
import Table from 'cli-table3';
import type { Ora } from 'ora';
import { styleText } from 'node:util';
import { createRequire } from 'node:module';
import { usageError } from '../core/errors.js';

// YAML is loaded the first time -o yaml asks for it (its CommonJS build, so this stays synchronous).
const yaml = () => createRequire(import.meta.url)('yaml') as typeof import('yaml');

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'ndjson'] as const;
/** `wide` is a table with more columns where a command has them. */
export type OutputFormat = Exclude<(typeof OUTPUT_FORMATS)[number], 'wide'>;

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

export interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface OutputOptions {
  format?: string;
  /** False for --no-color or NO_COLOR. */
  color: boolean;
  quiet: boolean;
  verbose: boolean;
  stdout?: Writable;
  stderr?: Writable;
}

type Style = Parameters<typeof styleText>[0];

// eslint-disable-next-line no-control-regex
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is stripped from output.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Server-provided strings may hold escape sequences; a terminal must never execute them. */
export function stripControl(text: string): string {
  return text.replace(CONTROL, '');
}

/** Borderless, columns two spaces apart, as kubectl and docker print: easy to read, easy to grep. */
const TABLE_CHARS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};
const TABLE_STYLE = { 'padding-left': 0, 'padding-right': 0, border: [] as string[] };

const trimLines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return stripControl(String(value));
}

/** Indented JSON, with arrays of numbers kept on one line: a 1536-number vector is one line, not 1536. */
export function prettyJson(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v === 'number')) return JSON.stringify(value);
    const inner = `${indent}  `;
    return `[\n${value.map((v) => inner + prettyJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const inner = `${indent}  `;
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${prettyJson(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export class Output {
  readonly format: OutputFormat;
  readonly wide: boolean;
  /** Colours on stderr (notes, errors) and on stdout (table heads), each only on a terminal. */
  readonly color: boolean;
  private readonly colorData: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly stdout: Writable;
  readonly stderr: Writable;

  constructor(options: OutputOptions) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    const format = options.format ?? (this.stdout.isTTY ? 'table' : 'json');
    if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
      throw usageError(`unknown output format '${format}'`, `use one of: ${OUTPUT_FORMATS.join(', ')}`);
    }
    this.wide = format === 'wide';
    this.format = this.wide ? 'table' : (format as OutputFormat);
    this.color = options.color && Boolean(this.stderr.isTTY);
    this.colorData = options.color && Boolean(this.stdout.isTTY);
    this.quiet = options.quiet;
    this.verbose = options.verbose;
  }

  paint(style: Style, text: string): string {
    return this.color ? styleText(style, text) : text;
  }

  /** Colour for data on stdout (charts), only when stdout is a terminal. */
  paintData(style: Style, text: string): string {
    return this.colorData ? styleText(style, text) : text;
  }

  /** A list of records: a table on a terminal, else every record in full. */
  list<T>(rows: T[], columns: Column<T>[]): void {
    if (this.format === 'table') {
      const table = new Table({
        head: columns.map((c) => c.header.toUpperCase()),
        chars: TABLE_CHARS,
        style: { ...TABLE_STYLE, head: this.colorData ? ['cyan'] : [] },
      });
      for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
      this.stdout.write(rows.length ? `${trimLines(table.toString())}\n` : '(none)\n');
      return;
    }
    this.records(rows);
  }

  /** One record: key/value lines on a terminal. */
  item(record: object, fields?: Column<object>[]): void {
    if (this.format === 'table') {
      const entries = fields ? fields.map((f) => [f.header, f.value(record)] as const) : Object.entries(record);
      const table = new Table({ chars: TABLE_CHARS, style: { ...TABLE_STYLE, head: [] } });
      for (const [key, value] of entries)
        table.push([this.colorData ? styleText('bold', `${key}:`) : `${key}:`, cell(value)]);
      this.stdout.write(`${trimLines(table.toString())}\n`);
      return;
    }
    this.records([record], true);
  }

  /** Structured data with no table form (vectors, reports): JSON on a terminal too. */
  records(values: unknown[], single = false): void {
    switch (this.format) {
      case 'ndjson':
        for (const value of values) this.stdout.write(`${JSON.stringify(value)}\n`);
        return;
      case 'yaml':
        this.stdout.write(yaml().stringify(single ? values[0] : values));
        return;
      default:
        this.stdout.write(`${prettyJson(single ? values[0] : values)}\n`);
    }
  }

  /** Text to stdout as it is, no newline added: documents printed piece by piece. */
  write(chunk: string): void {
    this.stdout.write(chunk);
  }

  /** Plain text to stdout (completion scripts, a secret printed for a script). */
  text(line: string): void {
    this.stdout.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  info(message: string): void {
    if (!this.quiet) this.stderr.write(`${message}\n`);
  }

  success(message: string): void {
    if (!this.quiet) this.stderr.write(`${this.paint('green', '✔')} ${message}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`${this.paint('yellow', 'warning:')} ${message}\n`);
  }

  debug(message: string): void {
    if (this.verbose) this.stderr.write(`${this.paint('dim', message)}\n`);
  }

  error(message: string, hint?: string): void {
    this.stderr.write(`${this.paint('red', 'error:')} ${message}\n`);
    if (hint) this.stderr.write(`${this.paint('dim', 'hint:')} ${hint}\n`);
  }

  /** A spinner on a terminal's stderr; none otherwise, so logs stay clean (and ora is not even loaded). */
  async spinner(text: string): Promise<Ora | undefined> {
    // A terminal that reports no width (some pseudo-terminals) cannot show one: ora would loop on it.
    if (this.quiet || !this.stderr.isTTY || !((this.stderr as { columns?: number }).columns! > 0)) return undefined;
    const { default: ora } = await import('ora');
    // discardStdin would put the terminal in raw mode, where Ctrl-C is a keystroke instead of SIGINT.
    return ora({
      text,
      stream: this.stderr as NodeJS.WritableStream,
      color: 'cyan',
      isEnabled: true,
      discardStdin: false,
    }).start();
  }
}

/** The two places `embed` writes: a resumable index (any target), and stdout. */
import type { Hash } from 'node:crypto';
import { CliError, ExitCode } from '../../core/errors.js';
import { VERSION } from '../../version.js';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prettyJson, stripControl, type Output } from '../output.js';
import { recordHead } from '../index/jsonl.js';
import type { IndexAppender, IndexMeta } from '../index/target.js';
import type { OutputRecord, RecordSink, VectorFormat } from './runner.js';

export function recordLine(record: OutputRecord, includeText: boolean): string {
  return `${recordHead(record, includeText)}${record.embedding}}\n`;
}

/** What a record contributes to the run's input digest, on write and on resume alike. */
const recordDigestInput = (id: string, text: string) => `${id}\u0000${text}\n`;

export function hashRecord(hasher: Hash, id: string, text: string): void {
  hasher.update(recordDigestInput(id, text));
}

/** Checkpoints at most this often: resuming from an older one is still exact, just re-embeds a little. */
const CHECKPOINT_EVERY_MS = 250;

export class FileSink implements RecordSink {
  /** This run's records the target holds durably (a checkpoint names only those), skipped ones included. */
  private runRecords = 0;
  /** Digest inputs of records handed over but not yet durable (a target that buffers), in order. */
  private undigested: string[] = [];
  private checkpointedAt = 0;

  constructor(
    private readonly writer: IndexAppender,
    private meta: IndexMeta | undefined,
    private readonly settings: {
      /** The index as the user named it. */
      name: string;
      requestedModel: string;
      requestedDimensions: number | undefined;
      vectorFormat: VectorFormat;
      includeText: boolean;
      fingerprint: string;
      base: { records: number; bytes: number };
      skipped: number;
      /** The source fields carried as metadata, recorded in the meta. */
      metadataFields?: string[] | undefined;
    },
    private readonly hasher: Hash,
  ) {
    this.runRecords = settings.skipped;
  }

  begin(model: string, dimensions: number): void {
    const meta = this.meta;
    if (meta && (meta.model !== model || meta.dimensions !== dimensions)) {
      throw new CliError(
        `${this.settings.name} holds ${meta.dimensions}-dimension vectors from '${meta.model}', and the gateway now ` +
          `answers with ${dimensions}-dimension vectors from '${model}': they cannot share an index`,
        ExitCode.failure,
        'use the model the file was made with (see its .meta.json), write to another --out, or pass --force to ' +
          'replace the file',
      );
    }
    if (meta && meta.vector_format !== this.settings.vectorFormat) {
      throw new CliError(
        `${this.settings.name} stores vectors as ${meta.vector_format}; this run would write ` +
          `${this.settings.vectorFormat}`,
        ExitCode.failure,
        `pass --vector-format ${meta.vector_format}`,
      );
    }
    const now = new Date().toISOString();
    this.meta = meta ?? {
      format: 'embctl-embeddings',
      version: 1,
      model,
      requested_model: this.settings.requestedModel,
      ...(this.settings.requestedDimensions !== undefined
        ? { requested_dimensions: this.settings.requestedDimensions }
        : {}),
      dimensions,
      vector_format: this.settings.vectorFormat,
      text: this.settings.includeText,
      records: this.writer.records,
      ...(this.settings.metadataFields?.length ? { metadata_fields: this.settings.metadataFields } : {}),
      created_at: now,
      updated_at: now,
      embctl_version: VERSION,
    };
    this.writer.saveMeta(this.meta);
  }

  async write(records: OutputRecord[]): Promise<void> {
    for (const record of records) this.undigested.push(recordDigestInput(record.id, record.text));
    await this.writer.append(records, this.settings.includeText);
    this.digestDurable();
    if (Date.now() - this.checkpointedAt >= CHECKPOINT_EVERY_MS) this.checkpoint();
  }

  /** Folds the records the target now holds durably into the digest a checkpoint carries. */
  private digestDurable(): void {
    const durable = this.writer.records - this.settings.base.records;
    const fold = durable - this.runRecords;
    if (fold <= 0) return;
    this.hasher.update(this.undigested.slice(0, fold).join(''));
    this.undigested = this.undigested.slice(fold);
    this.runRecords = durable;
  }

  private checkpoint(): void {
    this.checkpointedAt = Date.now();
    this.writer.saveCheckpoint({
      fingerprint: this.settings.fingerprint,
      base_records: this.settings.base.records,
      base_bytes: this.settings.base.bytes,
      records: this.runRecords,
      bytes: this.writer.position,
      input_sha256: this.hasher.copy().digest('hex'),
    });
  }

  embeddingAt(position: number): string | Promise<string> {
    return this.writer.embeddingAt(position);
  }

  /** Also called when a run fails: what was written stays resumable. */
  async finish(): Promise<IndexMeta | undefined> {
    await this.writer.flush();
    this.digestDurable();
    if (this.runRecords > this.settings.skipped || this.checkpointedAt > 0) this.checkpoint();
    if (this.meta) {
      this.meta = { ...this.meta, records: this.writer.records, updated_at: new Date().toISOString() };
      this.writer.saveMeta(this.meta);
    }
    return this.meta;
  }
}

/**
 * Embeddings already printed, kept in a temporary file (mode 0600, removed at the end) rather than
 * in memory: a later copy of the same text needs its vector, and stdout cannot be read back.
 */
class EmbeddingSpill {
  private readonly dir = mkdtempSync(join(tmpdir(), 'embctl-spill-'));
  private readonly fd = openSync(join(this.dir, 'embeddings'), 'wx+', 0o600);
  /** Offset and length of each position's bytes in the file, two numbers a position: 16 bytes, not a Map entry. */
  private index = new Float64Array(2048);
  private size = 0;

  put(position: number, embedding: string): void {
    const length = writeSync(this.fd, embedding, this.size, 'latin1');
    if (2 * position + 1 >= this.index.length) {
      let capacity = this.index.length;
      while (2 * position + 1 >= capacity) capacity *= 2;
      const grown = new Float64Array(capacity);
      grown.set(this.index);
      this.index = grown;
    }
    this.index[2 * position] = this.size;
    this.index[2 * position + 1] = length;
    this.size += length;
  }

  get(position: number): string {
    const offset = this.index[2 * position]!;
    const length = this.index[2 * position + 1]!;
    const buffer = Buffer.alloc(length);
    readSync(this.fd, buffer, 0, length, offset);
    return buffer.toString('latin1');
  }

  close(): void {
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const pad = (text: string, width: number) =>
  text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);

/**
 * No --out: every format streams as records come, so memory stays flat whatever the corpus
 * (JSON and YAML print the same document they always did, with `usage` last, once it is known).
 */
export class StdoutSink implements RecordSink {
  private readonly spill = new EmbeddingSpill();
  private printed = 0;
  model = '';
  dimensions = 0;

  constructor(
    private readonly out: Output,
    private readonly includeText: boolean,
  ) {}

  begin(model: string, dimensions: number): void {
    this.model = model;
    this.dimensions = dimensions;
    const { out } = this;
    if (out.format === 'json')
      out.write(`{\n  "model": ${JSON.stringify(model)},\n  "dimensions": ${dimensions},\n  "data": [`);
    else if (out.format === 'yaml') out.text(`model: ${yamlScalar(model)}\ndimensions: ${dimensions}\ndata:`);
    else if (out.format === 'table') out.text(`${pad('ID', 24)}  ${pad('TEXT', 48)}  FIRST VALUES`);
  }

  write(records: OutputRecord[]): void {
    const { out } = this;
    for (const record of records) {
      this.spill.put(record.position, record.embedding);
      switch (out.format) {
        case 'ndjson':
          out.text(recordLine(record, this.includeText));
          break;
        case 'json':
          out.write(`${this.printed ? ',' : ''}\n    ${prettyJson(this.plain(record), '    ')}`);
          break;
        case 'yaml':
          out.text(
            `  - id: ${yamlScalar(record.id)}\n${this.includeText ? `    text: ${yamlScalar(record.text)}\n` : ''}` +
              `    embedding: ${record.embedding}`,
          );
          break;
        default:
          out.text(
            `${pad(stripControl(record.id), 24)}  ${pad(stripControl(record.text).replace(/\s+/g, ' '), 48)}  ${firstValues(record.embedding)}`,
          );
      }
      this.printed++;
    }
  }

  private plain(record: OutputRecord) {
    return {
      id: record.id,
      ...(this.includeText ? { text: record.text } : {}),
      embedding: JSON.parse(record.embedding) as unknown,
    };
  }

  embeddingAt(position: number): string {
    return this.spill.get(position);
  }

  end(tokens: number): void {
    this.spill.close();
    const { out } = this;
    if (out.format === 'json') out.write(`\n  ],\n  "usage": {\n    "prompt_tokens": ${tokens}\n  }\n}\n`);
    else if (out.format === 'yaml') out.text(`usage:\n  prompt_tokens: ${tokens}`);
  }

  /** A run that failed: the spill goes, what was printed stays as printed. */
  abandon(): void {
    this.spill.close();
  }
}

/** A YAML scalar as JSON (YAML is a superset of JSON's strings): safe for any text. */
const yamlScalar = (value: string) => JSON.stringify(value);

function firstValues(embedding: string): string {
  if (embedding.startsWith('"')) return `${embedding.slice(1, 25)}…`;
  return `${(JSON.parse(embedding) as number[])
    .slice(0, 4)
    .map((v) => v.toFixed(4))
    .join(' ')} …`;
}

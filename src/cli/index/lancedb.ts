/**
 * `lancedb:DIR[#table]`: a LanceDB table (one directory may hold several), rows of position, id,
 * text unless left out, metadata (JSON, and each carried field as its own column for `--where`),
 * the text's SHA-256, the model that made the row, and the float32 vector. Meta and checkpoint sit
 * beside it in `DIR/<table>.embctl.json`. Appends are buffered into large writes (each write is a
 * LanceDB version): only written rows count as held, so a checkpoint never names a buffered one.
 * Once the table is large enough an IVF index is built (cosine, over the full vectors); `--exact`
 * and small tables compare with every vector.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import type { OutputRecord } from '../embed/runner.js';
import {
  contentHash,
  hitsOf,
  serializedVector,
  splitSpec,
  vectorOf,
  type Checkpoint,
  type Hit,
  type IndexAppender,
  type IndexMeta,
  type IndexTarget,
  type SearchableIndex,
  type SearchQuery,
} from './target.js';

type Lance = typeof import('@lancedb/lancedb');
type Arrow = typeof import('apache-arrow');
type Table = import('@lancedb/lancedb').Table;

/** Rows gathered before one write: each write is a LanceDB version and a data file. */
const WRITE_ROWS = 8192;
/** Below this many rows a full comparison is fast enough, and too few rows train an index badly. */
export const ANN_MIN_ROWS = 50_000;
/** The ANN search: partitions probed (of √rows). */
const NPROBES = 6;

interface Sidecar {
  meta?: IndexMeta;
  checkpoint?: Checkpoint;
}

/** A carried metadata field's column: by its place in the meta, so any field name is a safe column. */
const fieldColumn = (i: number) => `m_${i}`;
const sqlString = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** Rows gathered for one write, column by column (a row object per record would cost more than the write). */
class PendingColumns {
  ids: string[] = [];
  texts: (string | null)[] = [];
  metadata: (string | null)[] = [];
  hashes: string[] = [];
  fields: (string | null)[][];
  vectors: Float32Array;

  constructor(
    readonly dimensions: number,
    fieldCount: number,
  ) {
    this.fields = Array.from({ length: fieldCount }, () => []);
    this.vectors = new Float32Array(WRITE_ROWS * dimensions);
  }

  get length(): number {
    return this.ids.length;
  }

  vectorAt(row: number): Float32Array {
    return this.vectors.subarray(row * this.dimensions, (row + 1) * this.dimensions);
  }

  push(record: OutputRecord, includeText: boolean, fieldNames: string[]): void {
    const row = this.ids.length;
    const vector = vectorOf(record.embedding);
    if (vector.length !== this.dimensions)
      throw new Error(`a ${vector.length}-dimension vector for a ${this.dimensions}-dimension table`);
    if ((row + 1) * this.dimensions > this.vectors.length) {
      const grown = new Float32Array(this.vectors.length * 2);
      grown.set(this.vectors);
      this.vectors = grown;
    }
    this.vectors.set(vector, row * this.dimensions);
    this.ids.push(record.id);
    this.texts.push(includeText ? record.text : null);
    this.metadata.push(record.metadata ? JSON.stringify(record.metadata) : null);
    this.hashes.push(contentHash(record.text));
    for (const [i, field] of fieldNames.entries()) {
      const value = record.metadata?.[field];
      this.fields[i]!.push(value === undefined || value === null ? null : String(value));
    }
  }

  /** The rows as one Arrow table of the table's schema, positions from `first`. */
  table(arrow: Arrow, meta: IndexMeta, first: number) {
    const n = this.length;
    const schema = schemaOf(arrow, meta);
    const strings = (values: (string | null)[]) => arrow.vectorFromArray(values, new arrow.Utf8()).data[0]!;
    const listType = schema.fields.at(-1)!.type as InstanceType<Arrow['FixedSizeList']>;
    const columns = [
      arrow.makeData({ type: new arrow.Int32(), length: n, data: Int32Array.from({ length: n }, (_, i) => first + i) }),
      strings(this.ids),
      strings(this.texts),
      strings(this.metadata),
      strings(this.hashes),
      strings(new Array<string>(n).fill(meta.model)),
      ...this.fields.map(strings),
      arrow.makeData({
        type: listType,
        length: n,
        nullCount: 0,
        child: arrow.makeData({
          type: new arrow.Float32(),
          length: n * meta.dimensions,
          data: this.vectors.subarray(0, n * meta.dimensions),
        }),
      }),
    ];
    const batch = new arrow.RecordBatch(
      schema,
      arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: columns }),
    );
    return new arrow.Table(schema, [batch]);
  }
}

class LanceAppender implements IndexAppender {
  private pending: PendingColumns | undefined;
  private written: number;

  constructor(
    private readonly libraries: { lance: Lance; arrow: Arrow },
    private readonly connection: import('@lancedb/lancedb').Connection,
    private table: Table | undefined,
    private readonly name: string,
    private readonly sidecar: SidecarFile,
    written: number,
  ) {
    this.written = written;
  }

  get records(): number {
    return this.written;
  }

  get position(): number {
    return this.written;
  }

  private get meta(): IndexMeta | undefined {
    return this.sidecar.read().meta;
  }

  async append(records: OutputRecord[], includeText: boolean): Promise<void> {
    const meta = this.meta!;
    const fields = meta.metadata_fields ?? [];
    this.pending ??= new PendingColumns(meta.dimensions, fields.length);
    for (const record of records) this.pending.push(record, includeText, fields);
    if (this.pending.length >= WRITE_ROWS) await this.flush();
  }

  async flush(): Promise<void> {
    const pending = this.pending;
    if (!pending || pending.length === 0) return;
    const meta = this.meta!;
    this.table ??= await this.connection.createEmptyTable(this.name, schemaOf(this.libraries.arrow, meta), {
      mode: 'create',
    });
    await this.table.add(pending.table(this.libraries.arrow, meta, this.written));
    this.written += pending.length;
    this.pending = undefined;
  }

  async embeddingAt(position: number): Promise<string> {
    let vector: Float32Array;
    if (this.pending && position >= this.written) vector = this.pending.vectorAt(position - this.written);
    else {
      const rows = await this.table!.query().where(`position = ${position}`).select(['vector']).limit(1).toArray();
      if (!rows[0]) throw new Error(`record ${position} is not in table '${this.name}'`);
      vector = Float32Array.from(rows[0].vector as ArrayLike<number>);
    }
    return serializedVector(vector, this.meta);
  }

  saveCheckpoint(checkpoint: Checkpoint): void {
    this.sidecar.write({ ...this.sidecar.read(), checkpoint });
  }

  saveMeta(meta: IndexMeta): void {
    this.sidecar.write({ ...this.sidecar.read(), meta });
  }

  /** Written rows compacted into large files, and the ANN index (re)built once the table is large enough. */
  async close(): Promise<void> {
    await this.flush();
    if (this.table) {
      // Fragments of every write compacted, and the versions they leave behind dropped (nothing reads them).
      await this.table.optimize({ cleanupOlderThan: new Date() });
      const rows = await this.table.countRows();
      if (rows >= ANN_MIN_ROWS) await buildIndex(this.libraries.lance, this.table, rows);
      this.table.close();
    }
    this.connection.close();
  }
}

/** The table's columns (apache-arrow is LanceDB's peer: one copy, so its schema classes are LanceDB's). */
function schemaOf(arrow: Arrow, meta: IndexMeta) {
  const { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } = arrow;
  return new Schema([
    new Field('position', new Int32(), false),
    new Field('id', new Utf8(), false),
    new Field('text', new Utf8(), true),
    new Field('metadata', new Utf8(), true),
    new Field('content_sha256', new Utf8(), false),
    new Field('model', new Utf8(), false),
    ...(meta.metadata_fields ?? []).map((_, i) => new Field(fieldColumn(i), new Utf8(), true)),
    new Field('vector', new FixedSizeList(meta.dimensions, new Field('item', new Float32(), true)), false),
  ]);
}

/**
 * IVF over the full vectors (no PQ): √rows partitions; a query compares with the vectors of the
 * partitions it probes exactly. PQ training took 40–120 s per 50 000 vectors on this machine's 2
 * vCPUs and lost recall; IVF-flat builds in seconds and keeps the vectors' own scores.
 */
async function buildIndex(lance: Lance, table: Table, rows: number): Promise<void> {
  await table.createIndex('vector', {
    replace: true,
    config: lance.Index.ivfFlat({ distanceType: 'cosine', numPartitions: Math.max(1, Math.round(Math.sqrt(rows))) }),
  });
}

class SidecarFile {
  constructor(readonly path: string) {}

  read(): Sidecar {
    if (!existsSync(this.path)) return {};
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as Sidecar;
    } catch {
      throw new CliError(
        `${this.path} is not valid JSON`,
        ExitCode.failure,
        'remove the table and rebuild it with --force',
      );
    }
  }

  /** Atomic: a reader (or a crash) sees the old file or the new one. */
  write(value: Sidecar): void {
    writeFileSync(`${this.path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(`${this.path}.tmp`, this.path);
  }
}

class LanceIndex implements SearchableIndex {
  constructor(
    private readonly connection: import('@lancedb/lancedb').Connection,
    private readonly table: Table,
    readonly meta: IndexMeta,
    readonly count: number,
    private readonly name: string,
  ) {}

  private filter(where: Record<string, string> | undefined): string | undefined {
    if (!where) return undefined;
    const fields = this.meta.metadata_fields ?? [];
    return Object.entries(where)
      .map(([field, value]) => {
        const i = fields.indexOf(field);
        if (i === -1)
          throw usageError(
            `${this.name} carries no metadata field '${field}'`,
            fields.length
              ? `its fields: ${fields.join(', ')}`
              : 'embed with --metadata-field / --metadata-column to carry fields into it',
          );
        return `${fieldColumn(i)} = ${sqlString(value)}`;
      })
      .join(' AND ');
  }

  async search(queries: Float32Array[], query: SearchQuery): Promise<Hit[][]> {
    const filter = this.filter(query.where);
    const indexed = (await this.table.listIndices()).length > 0;
    return Promise.all(
      queries.map(async (vector) => {
        let search = this.table
          .vectorSearch(Array.from(vector))
          .distanceType('cosine')
          .select(['id', 'text', 'metadata', '_distance'])
          .limit(query.k);
        if (filter) search = search.where(filter);
        if (query.exact || !indexed) search = search.bypassVectorIndex();
        else search = search.nprobes(NPROBES);
        const rows = (await search.toArray()) as {
          id: string;
          text: string | null;
          metadata: string | null;
          _distance: number;
        }[];
        return hitsOf(
          rows.map((row) => ({ ...row, distance: row._distance })),
          query.minScore,
        );
      }),
    );
  }

  close(): void {
    this.table.close();
    this.connection.close();
  }
}

function directorySize(path: string): number {
  let bytes = 0;
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
  return bytes;
}

/**
 * Loaded on first use: the native module is large, and only this target needs it. LanceDB is a
 * CommonJS package: apache-arrow is required as CommonJS too, so that its classes are the ones
 * LanceDB checks against (the ESM build is another copy of every class).
 */
const loadLance = async (): Promise<{ lance: Lance; arrow: Arrow }> => ({
  lance: await import('@lancedb/lancedb'),
  arrow: createRequire(import.meta.url)('apache-arrow') as Arrow,
});

export function lancedbTarget(spec: string): IndexTarget {
  const { location: dir, part: name } = splitSpec(spec, {
    prefix: 'lancedb:',
    place: 'directory',
    part: 'table',
    forms: 'lancedb:DIR or lancedb:DIR#table',
    example: 'lancedb:vectors#docs',
  });
  const sidecar = new SidecarFile(join(dir, `${name}.embctl.json`));
  const dataDir = join(dir, `${name}.lance`);
  const tableExists = () => existsSync(dataDir);
  const openTable = async () => {
    const connection = await (await loadLance()).lance.connect(dir);
    const table = await connection.openTable(name);
    return {
      connection,
      table,
      close: () => {
        table.close();
        connection.close();
      },
    };
  };
  return {
    name: spec,
    absolute: `lancedb:${resolve(dir)}#${name}`,
    missingDirectory: () => (existsSync(dirname(resolve(dir))) ? undefined : dirname(dir)),
    foreign: () => (existsSync(dir) && !statSync(dir).isDirectory()) || (tableExists() && !sidecar.read().meta),
    meta: () => sidecar.read().meta,
    checkpoint: () => sidecar.read().checkpoint,
    remove: () => {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(sidecar.path, { force: true });
    },
    async open(keepPosition) {
      mkdirSync(dir, { recursive: true });
      const libraries = await loadLance();
      const connection = await libraries.lance.connect(dir);
      const table = tableExists() ? await connection.openTable(name) : undefined;
      if (table && keepPosition !== undefined) await table.delete(`position >= ${keepPosition}`);
      return new LanceAppender(libraries, connection, table, name, sidecar, table ? await table.countRows() : 0);
    },
    async reader() {
      const meta = sidecar.read().meta;
      if (!meta) return undefined;
      if (!tableExists())
        throw new CliError(
          `${spec} holds no vectors yet`,
          ExitCode.notFound,
          'embed into it with `embctl embed --out`',
        );
      const { connection, table } = await openTable();
      return new LanceIndex(connection, table, meta, await table.countRows(), spec);
    },
    async *rows() {
      const meta = sidecar.read().meta;
      if (!meta || !tableExists()) return;
      const { table, close } = await openTable();
      try {
        const vector = (await table.schema()).fields.find((field) => field.name === 'vector');
        const dimensions = (vector?.type as { listSize?: number } | undefined)?.listSize ?? 0;
        // Position ranges, not one scan: a scan's order is the fragments', which compaction may change.
        const total = await table.countRows();
        for (let from = 0; from < total; from += WRITE_ROWS) {
          // Read as Arrow columns: a JS object per row (toArray) costs more than the read.
          const batch = await table
            .query()
            .where(`position >= ${from} AND position < ${from + WRITE_ROWS}`)
            .select(['position', 'id', 'text', 'metadata', 'content_sha256', 'model'])
            .toArrow();
          const column = <T>(name: string) => batch.getChild(name)!.toArray() as T[];
          const positions = batch.getChild('position')!.toArray() as Int32Array;
          const [ids, texts, metadata, hashes, models] = [
            column<string>('id'),
            column<string | null>('text'),
            column<string | null>('metadata'),
            column<string>('content_sha256'),
            column<string>('model'),
          ];
          const order = Array.from(positions.keys()).sort((a, b) => positions[a]! - positions[b]!);
          for (const i of order)
            yield {
              id: ids[i]!,
              text: texts[i] ?? null,
              metadata: metadata[i] ? (JSON.parse(metadata[i]!) as Record<string, unknown>) : null,
              contentSha256: hashes[i]!,
              model: models[i]!,
              dimensions,
            };
        }
      } finally {
        close();
      }
    },
    async count() {
      if (!tableExists()) return 0;
      const { table, close } = await openTable();
      try {
        return await table.countRows();
      } finally {
        close();
      }
    },
    async size() {
      return (
        (tableExists() ? directorySize(dataDir) : 0) + (existsSync(sidecar.path) ? statSync(sidecar.path).size : 0)
      );
    },
  };
}

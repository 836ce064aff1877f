/** Writes a file into the store as its bytes come: buffered into chunks of FILE_CHUNK_BYTES, never held whole. */
import { FILE_CHUNK_BYTES } from './file-rows.js';
import type { FileStore, StoredFile } from './store.js';

export class FileWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private seq = 0;
  /** Bytes written so far. */
  bytes = 0;

  private constructor(
    private readonly files: FileStore,
    readonly id: string,
  ) {}

  static async begin(files: FileStore, file: Parameters<FileStore['begin']>[0]): Promise<FileWriter> {
    await files.begin(file);
    return new FileWriter(files, file.id);
  }

  async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= FILE_CHUNK_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    await this.files.append(this.id, this.seq++, Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** The last chunk in, the file `processed`. */
  async finish(done: Omit<Parameters<FileStore['finish']>[1], 'bytes'>): Promise<StoredFile> {
    await this.flush();
    return this.files.finish(this.id, { ...done, bytes: this.bytes });
  }
}

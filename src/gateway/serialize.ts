/**
 * The `/v1/embeddings` response body, written straight to bytes: a 256 × 1536 batch is ~400k
 * numbers, and building an object tree for JSON.stringify would double the garbage.
 *
 * When every vector's text is known without printing it (base64, or the float text the upstream
 * sent), the body is written in one pass: into one exactly sized Buffer (pooled by the caller) when
 * it is small, else streamed in 64 kB Buffers. Floats that must be printed (the `local` provider,
 * or an upstream that sent the other encoding) stream one embedding at a time as text, so memory
 * stays bounded by the socket, not by the batch.
 */
import { Readable } from 'node:stream';
import type { EncodingFormat } from '../core/embeddings-request.js';
import { float32ToJson, type Embedding } from '../core/vectors.js';

/**
 * Stream chunks: bodies larger than this go out in pieces of about this size. V8 puts strings over
 * ~128 kB in its large-object space, which only a full collection frees; chunks die young.
 */
const CHUNK = 64 * 1024;
/** A vector's wire text at least this long is written as the upstream's bytes, not copied into a chunk. */
const PASS_THROUGH = 8 * 1024;
/** Bodies up to this are built whole (a 16 × 3072 base64 body is ~220 kB); larger ones stream. */
const WHOLE_BODY_MAX = 1024 * 1024;

const HEAD = '{"object":"list","data":[';
const itemHead = (index: number) => `${index === 0 ? '' : ','}{"object":"embedding","index":${index},"embedding":`;
const tail = (model: string, promptTokens: number) =>
  `],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens}}}`;

/** Bytes of the vector's JSON value when known without printing floats, else undefined. */
function knownSize(vector: Embedding, encoding: EncodingFormat): number | undefined {
  return encoding === 'base64' ? vector.base64Length + 2 : vector.wireText('float')?.length;
}

/**
 * Writes item `index` (head, the vector's quoted base64 or the upstream's float text, close) at `at`; returns the
 * offset after it.
 */
function writeItem(head: string, vector: Embedding, encoding: EncodingFormat, target: Buffer, at: number): number {
  at += target.write(head, at, 'latin1');
  if (encoding === 'float') at += vector.wireText('float')!.copy(target, at);
  else {
    at += target.write('"', at, 'latin1');
    at = vector.writeBase64(target, at);
    at += target.write('"', at, 'latin1');
  }
  return at + target.write('}', at, 'latin1');
}

/** The body when every vector's size is known: one Buffer of exactly `size` bytes, or 64 kB chunks. */
function knownBody(
  vectors: Embedding[],
  encoding: EncodingFormat,
  end: string,
  size: number,
  allocate: (size: number) => Buffer,
): Buffer | Readable {
  if (size <= WHOLE_BODY_MAX) {
    const body = allocate(size);
    let at = body.write(HEAD, 0, 'latin1');
    for (let i = 0; i < vectors.length; i++) at = writeItem(itemHead(i), vectors[i]!, encoding, body, at);
    body.write(end, at, 'utf8');
    return body;
  }
  function* chunks(): Generator<Buffer> {
    let chunk = Buffer.allocUnsafe(CHUNK);
    let at = chunk.write(HEAD, 0, 'latin1');
    for (let i = 0; i < vectors.length; i++) {
      const head = itemHead(i);
      const wire = vectors[i]!.wireText(encoding);
      // The upstream's own bytes go out as they are: copying them into chunks would allocate a
      // second body-sized set of Buffers per response, dead as soon as written.
      const passThrough = wire !== undefined && wire.length >= PASS_THROUGH;
      const quote = encoding === 'base64' ? '"' : '';
      const need = passThrough
        ? head.length + 2 * quote.length + 1
        : head.length + knownSize(vectors[i]!, encoding)! + 1;
      if (at + need > chunk.length) {
        yield chunk.subarray(0, at);
        chunk = Buffer.allocUnsafe(Math.max(CHUNK, need));
        at = 0;
      }
      if (passThrough) {
        at += chunk.write(`${head}${quote}`, at, 'latin1');
        yield chunk.subarray(0, at);
        yield wire;
        // What follows goes in the rest of the same allocation, after the part already handed out.
        chunk = chunk.subarray(at);
        at = chunk.write(`${quote}}`, 0, 'latin1');
        continue;
      }
      at = writeItem(head, vectors[i]!, encoding, chunk, at);
    }
    yield Buffer.concat([chunk.subarray(0, at), Buffer.from(end)]);
  }
  return Readable.from(chunks(), { objectMode: false });
}

const floatItem = (vector: Embedding, index: number) => `${itemHead(index)}${float32ToJson(vector.toFloat32())}}`;

function* printedChunks(vectors: Embedding[], end: string): Generator<string> {
  let chunk = HEAD;
  for (let i = 0; i < vectors.length; i++) {
    chunk += floatItem(vectors[i]!, i);
    if (chunk.length >= CHUNK) {
      yield chunk;
      chunk = '';
    }
  }
  yield chunk + end;
}

/** A float32 prints as up to ~22 characters. */
const FLOAT_CHARS = 22;

/** `allocate` gives the memory for bodies built whole (a pooled lease in the gateway). */
export function serializeEmbeddings(
  vectors: Embedding[],
  encoding: EncodingFormat,
  model: string,
  promptTokens: number,
  allocate: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer | Readable {
  const end = tail(model, promptTokens);
  let size = HEAD.length + Buffer.byteLength(end);
  for (let i = 0; i < vectors.length && size >= 0; i++) {
    const known = knownSize(vectors[i]!, encoding);
    size = known === undefined ? -1 : size + itemHead(i).length + known + 1;
  }
  if (size >= 0) return knownBody(vectors, encoding, end, size, allocate);

  // Floats to print.
  if (vectors.length * (vectors[0]?.length ?? 0) * FLOAT_CHARS > CHUNK)
    return Readable.from(printedChunks(vectors, end), { objectMode: false });
  let text = HEAD;
  for (let i = 0; i < vectors.length; i++) text += floatItem(vectors[i]!, i);
  text += end;
  // Copied out at once, the string dies young; handed to the socket, it would live until written.
  const body = allocate(Buffer.byteLength(text));
  body.write(text, 0, 'utf8');
  return body;
}

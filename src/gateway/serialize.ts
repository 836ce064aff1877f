/**
 * The `/v1/embeddings` response body, written straight to bytes or text: a 256 × 1536 batch is
 * ~400k numbers, and building an object tree for JSON.stringify would double the garbage. base64
 * bodies are one exactly sized Buffer, off the V8 heap, the vectors copied in as the upstream sent
 * them. Large float bodies stream, one embedding at a time, so memory stays bounded by the socket.
 */
import { Readable } from 'node:stream';
import type { EncodingFormat } from '../core/embeddings-request.js';
import { float32ToJson, type Embedding } from '../core/vectors.js';

/**
 * Responses larger than this stream in chunks of about this size. V8 puts strings over ~128 kB in
 * its large-object space, which only a full collection frees: under load, whole-response strings
 * pile up there and RSS balloons. Chunks stay in the young generation and die young.
 */
const CHUNK_CHARS = 64 * 1024;

const HEAD = '{"object":"list","data":[';
const itemHead = (index: number) => `${index === 0 ? '' : ','}{"object":"embedding","index":${index},"embedding":`;
const floatItem = (vector: Embedding, index: number) => `${itemHead(index)}${float32ToJson(vector.toFloat32())}}`;
const tail = (model: string, promptTokens: number) => `],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens}}}`;

function* floatChunks(vectors: Embedding[], model: string, promptTokens: number): Generator<string> {
  let chunk = HEAD;
  for (let i = 0; i < vectors.length; i++) {
    chunk += floatItem(vectors[i]!, i);
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  yield chunk + tail(model, promptTokens);
}

function base64Body(vectors: Embedding[], model: string, promptTokens: number, allocate: (size: number) => Buffer): Buffer {
  const heads = vectors.map((_, i) => `${itemHead(i)}"`);
  const end = tail(model, promptTokens);
  let size = HEAD.length + Buffer.byteLength(end);
  for (let i = 0; i < vectors.length; i++) size += heads[i]!.length + vectors[i]!.base64Length + 2;
  const body = allocate(size);
  let at = body.write(HEAD, 0, 'latin1');
  for (let i = 0; i < vectors.length; i++) {
    at += body.write(heads[i]!, at, 'latin1');
    at = vectors[i]!.writeBase64(body, at);
    at += body.write('"}', at, 'latin1');
  }
  body.write(end, at, 'utf8');
  return body;
}

/** A float32 prints as up to ~22 characters. */
const FLOAT_CHARS = 22;

/** `allocate` gives the memory for bodies built whole (a pooled lease in the gateway); large float bodies stream. */
export function serializeEmbeddings(
  vectors: Embedding[],
  encoding: EncodingFormat,
  model: string,
  promptTokens: number,
  allocate: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer | Readable {
  if (encoding === 'base64') return base64Body(vectors, model, promptTokens, allocate);
  if (vectors.length * (vectors[0]?.length ?? 0) * FLOAT_CHARS > CHUNK_CHARS) return Readable.from(floatChunks(vectors, model, promptTokens), { objectMode: false });
  let text = HEAD;
  for (let i = 0; i < vectors.length; i++) text += floatItem(vectors[i]!, i);
  text += tail(model, promptTokens);
  // Copied out at once, the string dies young; handed to the socket, it would live until written.
  const body = allocate(Buffer.byteLength(text));
  body.write(text, 0, 'utf8');
  return body;
}

/**
 * The `/v1/embeddings` response body, written straight to text: a 256 × 1536 batch is ~400k numbers,
 * and building an object tree for JSON.stringify would double the garbage. Large responses stream,
 * one embedding at a time, so memory stays bounded by the socket, not by the batch.
 */
import { Readable } from 'node:stream';
import type { EncodingFormat } from '../core/embeddings-request.js';
import type { Embedding } from '../core/vectors.js';

/**
 * Responses larger than this stream in chunks of about this size. V8 puts strings over ~128 kB in
 * its large-object space, which only a full collection frees: under load, whole-response strings
 * pile up there and RSS balloons. Chunks stay in the young generation and die young.
 */
const CHUNK_CHARS = 64 * 1024;

/** Each float32 printed as its exact double value (parsing gives back the same bits); join makes one flat string. */
const embeddingText = (vector: Embedding, encoding: EncodingFormat) => (encoding === 'base64' ? `"${vector.toBase64()}"` : `[${vector.toFloat32().join(',')}]`);

const item = (vector: Embedding, index: number, encoding: EncodingFormat) => `{"object":"embedding","index":${index},"embedding":${embeddingText(vector, encoding)}}`;
const tail = (model: string, promptTokens: number) => `],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens}}}`;

function* chunks(vectors: Embedding[], encoding: EncodingFormat, model: string, promptTokens: number): Generator<string> {
  let chunk = '{"object":"list","data":[';
  for (let i = 0; i < vectors.length; i++) {
    chunk += `${i === 0 ? '' : ','}${item(vectors[i]!, i, encoding)}`;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  yield chunk + tail(model, promptTokens);
}

/** Characters per value: base64 is 4/3 bytes per byte of float32; floats print as up to ~22. */
const estimate = (vectors: Embedding[], encoding: EncodingFormat) => vectors.length * (vectors[0]?.length ?? 0) * (encoding === 'base64' ? 5.4 : 22);

export function serializeEmbeddings(vectors: Embedding[], encoding: EncodingFormat, model: string, promptTokens: number): string | Readable {
  if (estimate(vectors, encoding) > CHUNK_CHARS) return Readable.from(chunks(vectors, encoding, model, promptTokens), { objectMode: false });
  const items = new Array<string>(vectors.length);
  for (let i = 0; i < vectors.length; i++) items[i] = item(vectors[i]!, i, encoding);
  return `{"object":"list","data":[${items.join(',')}${tail(model, promptTokens)}`;
}

/**
 * The `/v1/embeddings` response body, written straight to text: a 256 × 1536 batch is ~400k numbers,
 * and building an object tree for JSON.stringify would double the garbage. Large responses stream,
 * one embedding at a time, so memory stays bounded by the socket, not by the batch.
 */
import { Readable } from 'node:stream';
import type { EncodingFormat } from '../core/embeddings-request.js';
import type { Embedding } from '../core/vectors.js';

/** Above this many numbers a response is streamed rather than built as one string. */
const STREAM_ABOVE_VALUES = 64 * 1024;

/** Each float32 printed as its exact double value (parsing gives back the same bits); join makes one flat string. */
const embeddingText = (vector: Embedding, encoding: EncodingFormat) => (encoding === 'base64' ? `"${vector.toBase64()}"` : `[${vector.toFloat32().join(',')}]`);

function* parts(vectors: Embedding[], encoding: EncodingFormat, model: string, promptTokens: number): Generator<string> {
  yield '{"object":"list","data":[';
  for (let i = 0; i < vectors.length; i++) yield `${i === 0 ? '' : ','}{"object":"embedding","index":${i},"embedding":${embeddingText(vectors[i]!, encoding)}}`;
  yield `],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens}}}`;
}

export function serializeEmbeddings(vectors: Embedding[], encoding: EncodingFormat, model: string, promptTokens: number): string | Readable {
  const values = vectors.length * (vectors[0]?.length ?? 0);
  if (encoding === 'float' && values > STREAM_ABOVE_VALUES) return Readable.from(parts(vectors, encoding, model, promptTokens), { objectMode: false });
  const items = new Array<string>(vectors.length);
  for (let i = 0; i < vectors.length; i++) items[i] = `{"object":"embedding","index":${i},"embedding":${embeddingText(vectors[i]!, encoding)}}`;
  return `{"object":"list","data":[${items.join(',')}],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens}}}`;
}

/**
 * The `/v1/embeddings` response body, written straight to a string: a 256 × 1536 batch is ~400k
 * numbers, and building an object tree for JSON.stringify would double the garbage.
 */
import type { EncodingFormat } from '../core/embeddings-request.js';
import { float32ToBase64 } from '../core/vectors.js';

function floatArray(vector: Float32Array): string {
  if (vector.length === 0) return '[]';
  // Each float32 printed as its exact double value: parsing gives back the same bits.
  let out = '[' + vector[0]!;
  for (let i = 1; i < vector.length; i++) out += ',' + vector[i]!;
  return out + ']';
}

export function serializeEmbeddings(vectors: Float32Array[], encoding: EncodingFormat, model: string, promptTokens: number): string {
  let data = '';
  for (let i = 0; i < vectors.length; i++) {
    const embedding = encoding === 'base64' ? `"${float32ToBase64(vectors[i]!)}"` : floatArray(vectors[i]!);
    data += `${i === 0 ? '' : ','}{"object":"embedding","index":${i},"embedding":${embedding}}`;
  }
  return `{"object":"list","data":[${data}],"model":${JSON.stringify(model)},"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens}}}`;
}

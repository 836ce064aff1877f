import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/core/errors.js';
import { parseEmbeddingsRequest } from '../../src/core/embeddings-request.js';
import { countTextTokens } from '../../src/core/tokenizer.js';

async function failure(body: unknown): Promise<ApiError> {
  try {
    await parseEmbeddingsRequest(body).checkTokenLimits();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a validation failure');
}

describe('parseEmbeddingsRequest', () => {
  it('normalises every accepted input shape', async () => {
    expect(parseEmbeddingsRequest({ model: 'm', input: 'hi' }).inputs).toEqual(['hi']);
    expect(parseEmbeddingsRequest({ model: 'm', input: ['a', 'b'] }).inputs).toEqual(['a', 'b']);
    const tokens = parseEmbeddingsRequest({ model: 'm', input: [1, 2, 3] });
    expect(tokens.inputs).toEqual([[1, 2, 3]]);
    expect(tokens.tokenInputs).toBe(true);
    expect(await tokens.totalTokens()).toBe(3);
    expect(await parseEmbeddingsRequest({ model: 'm', input: [[1], [2, 3]] }).tokenCounts()).toEqual([1, 2]);
  });

  it('defaults encoding to float and keeps dimensions and user', async () => {
    const request = parseEmbeddingsRequest({ model: 'm', input: 'hello world', dimensions: 8, user: 'u1' });
    expect(request).toMatchObject({ encodingFormat: 'float', dimensions: 8, user: 'u1' });
    expect(await request.totalTokens()).toBe(2);
    expect(parseEmbeddingsRequest({ model: 'm', input: 'x', encoding_format: 'base64' }).encodingFormat).toBe('base64');
  });

  it.each([
    [{ input: 'x' }, 'model', 'missing_required_parameter'],
    [{ model: 5, input: 'x' }, 'model', 'invalid_type'],
    [{ model: 'm' }, 'input', 'missing_required_parameter'],
    [{ model: 'm', input: '' }, 'input', 'empty_input'],
    [{ model: 'm', input: [] }, 'input', 'empty_input'],
    [{ model: 'm', input: ['a', ''] }, 'input', 'empty_input'],
    [{ model: 'm', input: ['a', 1] }, 'input', 'invalid_type'],
    [{ model: 'm', input: [[1], 'a'] }, 'input', 'invalid_type'],
    [{ model: 'm', input: [[]] }, 'input', 'empty_input'],
    [{ model: 'm', input: [1.5] }, 'input', 'invalid_token'],
    [{ model: 'm', input: [-1] }, 'input', 'invalid_token'],
    [{ model: 'm', input: [1e20] }, 'input', 'invalid_token'],
    [{ model: 'm', input: { text: 'x' } }, 'input', 'invalid_type'],
    [{ model: 'm', input: Array(2049).fill('a') }, 'input', 'too_many_inputs'],
    [{ model: 'm', input: Array(8193).fill(1) }, 'input', 'too_many_inputs'],
    [{ model: 'm', input: [Array(8193).fill(1)] }, 'input', 'context_length_exceeded'],
    [{ model: 'm', input: Array(40).fill(Array(8000).fill(1)) }, 'input', 'max_tokens_per_request'],
    [{ model: 'm', input: 'x', encoding_format: 'int8' }, 'encoding_format', 'invalid_value'],
    [{ model: 'm', input: 'x', dimensions: 0 }, 'dimensions', 'invalid_value'],
    [{ model: 'm', input: 'x', dimensions: '8' }, 'dimensions', 'invalid_value'],
    [{ model: 'm', input: 'x', user: 1 }, 'user', 'invalid_type'],
    [{ model: 'm', input: 'x', temperature: 1 }, 'temperature', 'unknown_parameter'],
    [{ model: 'm'.repeat(257), input: 'x' }, 'model', 'model_too_long'],
    [{ model: 'm', input: 'x', user: 'u'.repeat(257) }, 'user', 'invalid_value'],
    [{ model: 'm', input: ['x'.repeat(100_000)] }, 'input', 'context_length_exceeded'],
    [{ model: 'm', input: Array(100).fill('word '.repeat(4000)) }, 'input', 'max_tokens_per_request'],
    [[1, 2], null, 'invalid_body'],
    [null, null, 'invalid_body'],
  ])('rejects %j naming param %s', async (body, param, code) => {
    const error = await failure(body);
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.code).toBe(code);
    expect(error.toBody().error.type).toBe('invalid_request_error');
  });

  it('counts text tokens with cl100k_base and enforces 8192 per input', async () => {
    const long = 'word '.repeat(8200);
    expect((await failure({ model: 'm', input: ['ok', long] })).message).toContain(
      `'input[1]' has more than 8192 tokens; the maximum context length is 8192`,
    );
    const near = parseEmbeddingsRequest({ model: 'm', input: 'word '.repeat(8000) });
    await near.checkTokenLimits();
    expect(await near.totalTokens()).toBe(countTextTokens('word '.repeat(8000)));
  });
});

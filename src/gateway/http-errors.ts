/** Every failure leaves the gateway in OpenAI's error shape; nothing internal (stack, SQL, paths) reaches the ' +
  'caller. */
import type { FastifyError } from 'fastify';
import { ApiError, invalidRequest } from '../core/errors.js';

const FASTIFY_ERRORS: Record<string, (error: FastifyError) => ApiError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () =>
    new ApiError(
      'payload_too_large',
      'The request body is larger than this gateway accepts (see --body-limit); send fewer or shorter inputs per ' +
        'request.',
      {
        code: 'request_too_large',
      },
    ),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => unsupportedContentType(),
  FST_ERR_CTP_EMPTY_JSON_BODY: () =>
    invalidRequest('The request body is empty; send a JSON object with model and input.', null, 'invalid_json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    invalidRequest('The Content-Length header does not match the body that was sent.', null, 'invalid_body'),
};

export function unsupportedContentType(contentType?: string): ApiError {
  return invalidRequest(
    `Unsupported Content-Type${contentType ? ` '${contentType}'` : ''}: send the body as JSON with 'Content-Type: ` +
      `application/json'.`,
    null,
    'unsupported_content_type',
  );
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as Partial<FastifyError>;
  const mapped = fastifyError.code ? FASTIFY_ERRORS[fastifyError.code] : undefined;
  if (mapped) return mapped(fastifyError as FastifyError);
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500)
    return invalidRequest(fastifyError.message ?? 'Bad request.', null, fastifyError.code ?? null);
  return new ApiError(
    'internal',
    'The gateway failed while handling this request; it logged the details under this request id.',
    {
      code: 'internal_error',
    },
  );
}

/**
 * OpenAI's Files API for batch input and output: `POST /v1/files` (multipart), `GET /v1/files`,
 * `GET /v1/files/{id}`, `GET /v1/files/{id}/content` (streamed from the store), `DELETE
 * /v1/files/{id}`. Authenticated by API key; a file is seen only by the key that owns it (any
 * other gets the same 404 as for a file that does not exist).
 */
import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { ApiError, invalidRequest } from '../../core/errors.js';
import type { StoredFile } from '../../store/store.js';
import { authenticateConsumer } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { cursorPage, pageLimit } from './cursor-page.js';
import { receiveFile, type FileLimits } from '../file-upload.js';

type IdParams = { Params: { id: string } };

export function fileObject(file: StoredFile) {
  return {
    id: file.id,
    object: 'file',
    bytes: file.bytes,
    created_at: file.created_at,
    expires_at: file.expires_at,
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed',
    status_details: null,
  };
}

const missing = (id: string) =>
  new ApiError('not_found', `No such File object: '${id}'. \`GET /v1/files\` lists the files of this key.`, {
    code: 'file_not_found',
  });

export function registerFileRoutes(app: FastifyInstance, ctx: GatewayContext, limits: FileLimits): void {
  /** The key's own file, or the 404 every other caller gets. */
  const owned = async (headers: Parameters<typeof authenticateConsumer>[0], id: string) => {
    const key = await authenticateConsumer(headers, ctx.catalogue);
    const file = await ctx.store.files.get(id);
    if (file?.status !== 'processed' || file.owner !== key.record.id) throw missing(id);
    return file;
  };

  void app.register(async (scope) => {
    await scope.register(multipart, {
      limits: { fileSize: limits.maxBytes, files: 1, fields: 8, fieldSize: 1024, parts: 10, headerPairs: 100 },
    });

    scope.post('/v1/files', async (req, reply) => {
      const key = await authenticateConsumer(req.headers, ctx.catalogue);
      if (!req.isMultipart())
        throw invalidRequest(
          "POST /v1/files takes multipart/form-data with a 'file' part and a 'purpose' field (\"batch\").",
          'file',
          'invalid_content_type',
        );
      const file = await receiveFile(
        req.parts(),
        key.record.id,
        ctx.store.files,
        limits,
        Math.floor(Date.now() / 1000),
      );
      void reply.code(200);
      return fileObject(file);
    });
  });

  app.get<{ Querystring: { purpose?: string; limit?: string; after?: string; order?: string } }>(
    '/v1/files',
    async (req) => {
      const key = await authenticateConsumer(req.headers, ctx.catalogue);
      const { order = 'desc' } = req.query;
      if (order !== 'asc' && order !== 'desc')
        throw invalidRequest(`'order' must be asc or desc; got '${order}'.`, 'order', 'invalid_value');
      const limit = pageLimit(req.query.limit, 100, 10_000);
      const page = await ctx.store.files.list({
        owner: key.record.id,
        purpose: req.query.purpose,
        after: req.query.after,
        limit: limit + 1,
        order,
      });
      return cursorPage(page, limit, fileObject);
    },
  );

  app.get<IdParams>('/v1/files/:id', async (req) => fileObject(await owned(req.headers, req.params.id)));

  app.get<IdParams>('/v1/files/:id/content', async (req, reply) => {
    const file = await owned(req.headers, req.params.id);
    void reply
      .type(file.filename.endsWith('.jsonl') ? 'application/jsonl' : 'application/octet-stream')
      .header('content-length', String(file.bytes))
      .header('content-disposition', `attachment; filename="${file.filename.replace(/["\\\r\n]/g, '_')}"`);
    return reply.send(Readable.from(ctx.store.files.chunks(file.id)));
  });

  app.delete<IdParams>('/v1/files/:id', async (req) => {
    const file = await owned(req.headers, req.params.id);
    await ctx.store.files.delete(file.id);
    return { id: file.id, object: 'file', deleted: true };
  });
}

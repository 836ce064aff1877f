import type { FastifyInstance } from 'fastify';
import { parseEmbeddingsRequest } from '../../core/embeddings-request.js';
import { authenticateConsumer } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { routeRequest } from '../router.js';
import { serializeEmbeddings } from '../serialize.js';

export function registerEmbeddingsRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.post('/v1/embeddings', async (req, reply) => {
    // OpenAI's order: who is asking, then what they asked.
    const key = await authenticateConsumer(req.headers, ctx.catalogue);
    const request = parseEmbeddingsRequest(req.body);
    const { catalogue } = await ctx.catalogue.current();
    const route = routeRequest(catalogue, request.model, key.constraints);
    const result = await ctx.dispatch(route, request);
    reply.type('application/json');
    return serializeEmbeddings(result.vectors, request.encodingFormat, result.model, result.promptTokens);
  });
}

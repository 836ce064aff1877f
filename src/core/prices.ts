/**
 * Built-in list prices (USD per million input tokens) for well-known embedding models, used to fill
 * `pricing` when an entity is created without one. An entity's own `pricing` always wins.
 */
import type { EmbeddingModelEntity } from './entity.js';

const PRICES: ReadonlyArray<readonly [RegExp, number]> = [
  [/^text-embedding-3-small$/, 0.02],
  [/^text-embedding-3-large$/, 0.13],
  [/^text-embedding-ada-002$/, 0.1],
  [/^mistral-embed$/, 0.1],
  [/^embed-(english|multilingual)(-light)?-v3\.0$/, 0.1],
  [/^embed-v4\.0$/, 0.12],
  [/^voyage-3(\.5)?$/, 0.06],
  [/^voyage-3(\.5)?-lite$/, 0.02],
  [/^(models\/)?gemini-embedding-001$/, 0.15],
  [/^amazon\.titan-embed-text-v2(:0)?$/, 0.02],
  [/^nomic-embed-text(:.*)?$/, 0],
  [/^hash-\d+-v1$/, 0],
];

export function listPrice(model: string | undefined): number | undefined {
  if (!model) return undefined;
  return PRICES.find(([pattern]) => pattern.test(model))?.[1];
}

/** USD per million tokens a call to `model` through `entity` pays: the entity's pricing, else the list price. */
export function entityPrice(entity: Pick<EmbeddingModelEntity, 'pricing'>, model: string): number | undefined {
  return entity.pricing?.input_per_million_tokens ?? listPrice(model);
}

/** Cost in USD of `tokens` at `perMillion`, rounded to 1e-9 so sums stay exact enough to compare. */
export function costOf(tokens: number, perMillion: number | undefined): number {
  if (!perMillion) return 0;
  return Math.round(tokens * perMillion * 1000) / 1e9;
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { validateEntity } from '../../src/core/entity-schema.js';
import { PROVIDER_IDS } from '../../src/core/providers.js';

describe('examples/models.yaml', () => {
  const entities = YAML.parse(readFileSync('examples/models.yaml', 'utf8')) as unknown[];

  it('holds a valid entity for every provider', () => {
    const providers = new Set<string>();
    for (const entity of entities) {
      const result = validateEntity(entity);
      expect(result.ok ? [] : result.issues).toEqual([]);
      if (result.ok) providers.add(result.value.provider);
    }
    expect([...providers].sort()).toEqual([...PROVIDER_IDS].sort());
  });
});

/**
 * Is a model name pinned to a version? Vectors are comparable only within one model version, so a
 * floating alias (`latest`, or a name with no version at all, like `mistral-embed` or Ollama's
 * untagged `nomic-embed-text`) may silently move a corpus into another vector space.
 */
export function isPinnedModel(model: string): boolean {
  const name = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
  if (/latest/i.test(name)) return false;
  return /\d/.test(name);
}

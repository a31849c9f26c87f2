import { join } from 'node:path';
import type { GenerationStore } from '../replica/index.ts';
import { StateCorruptError } from './errors.ts';
import { readFileIfExists, writeFileAtomic } from './state_file.ts';

export const GENERATIONS_FILE = 'generations.json';

/**
 * The fence generation of every replica this engine serves, keyed `pool/volume`, in one
 * JSON file of the data dir replaced atomically on each raise. Raises are rare (one per
 * nexus incarnation), so a whole-file rewrite is cheap; `get` is served from memory.
 * Writes are chained so the file never goes back to an older map.
 */
export class FileGenerationStore implements GenerationStore {
  readonly path: string;
  readonly #values: Map<string, number>;
  #chain: Promise<void> = Promise.resolve();

  private constructor(path: string, values: Map<string, number>) {
    this.path = path;
    this.#values = values;
  }

  static async load(dataDir: string): Promise<FileGenerationStore> {
    const path = join(dataDir, GENERATIONS_FILE);
    const text = await readFileIfExists(path);
    const values = new Map<string, number>();
    if (text !== undefined) {
      let parsed: unknown;
      try { parsed = JSON.parse(text); } catch (err) { throw new StateCorruptError(`${path} is not valid JSON`, { cause: err }); }
      const gens = (parsed as { generations?: unknown })?.generations;
      if (typeof gens !== 'object' || gens === null) throw new StateCorruptError(`${path}: no generations object`);
      for (const [k, v] of Object.entries(gens)) {
        if (!Number.isSafeInteger(v) || (v as number) < 0) throw new StateCorruptError(`${path}: bad generation for ${k}`);
        values.set(k, v as number);
      }
    }
    return new FileGenerationStore(path, values);
  }

  get(volume: string): number { return this.#values.get(volume) ?? 0; }

  set(volume: string, generation: number): Promise<void> {
    if (generation > this.get(volume)) this.#values.set(volume, generation);
    const write = (): Promise<void> => writeFileAtomic(this.path, JSON.stringify({ version: 1, generations: Object.fromEntries(this.#values) }, null, 2) + '\n');
    const next = this.#chain.then(write, write);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

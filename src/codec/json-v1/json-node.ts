/**
 * The tree `parseJson` builds: JSON values with numbers kept as their exact source text and
 * objects that can never touch a prototype.
 */

/** A JSON number with its exact source text. */
export class JsonNumber {
  /**
   * @param text the number exactly as written, e.g. `-7.5`, `18446744073709551615`, `1e3`
   * @param isInteger true when written without `.` and exponent
   */
  constructor(
    readonly text: string,
    readonly isInteger: boolean,
  ) {}
}

/** A JSON object: keys in source order, unique, none of them a prototype-polluting name. */
export class JsonObject {
  /** Keys and values alternating: `[k0, v0, k1, v1, …]` (one array, not one per side). */
  readonly #kv: readonly (string | JsonNode)[];

  /** @param kv keys and values alternating; keys must be unique */
  constructor(kv: readonly (string | JsonNode)[]) {
    this.#kv = kv;
  }

  /** The value of `key`, or undefined when absent. */
  get(key: string): JsonNode | undefined {
    const kv = this.#kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === key) return kv[i + 1] as JsonNode;
    return undefined;
  }

  /** Number of keys. */
  get size(): number {
    return this.#kv.length >> 1;
  }

  /** The keys in source order. */
  keys(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.#kv.length; i += 2) out.push(this.#kv[i] as string);
    return out;
  }

  /** `[key, value]` pairs in source order. */
  entries(): [string, JsonNode][] {
    const out: [string, JsonNode][] = [];
    for (let i = 0; i < this.#kv.length; i += 2) out.push([this.#kv[i] as string, this.#kv[i + 1] as JsonNode]);
    return out;
  }
}

/** A parsed JSON value. */
export type JsonNode = null | boolean | string | JsonNumber | readonly JsonNode[] | JsonObject;

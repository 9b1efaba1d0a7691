/**
 * Decoder limits of the native MessagePack protocol. Every length read from the wire is checked
 * against these and against the bytes actually remaining before anything is allocated.
 */

/** Limits for `decodeFrame` and `decodeValue`; every field is optional. */
export interface NativeLimits {
  /** Largest frame (or encoded value) accepted, in bytes. @default 16777216 (16 MiB) */
  readonly maxFrameBytes?: number;
  /** Deepest nesting of containers (vectors, sets, tables) within one value. @default 64 */
  readonly maxDepth?: number;
  /** Longest string, enum name or topic, in UTF-8 bytes. @default 4194304 (4 MiB) */
  readonly maxStringBytes?: number;
  /** Most elements in one msgpack array (a table's array holds its marker, then 2 per entry). @default 1000000 */
  readonly maxArrayLength?: number;
  /** Most messages in one frame. @default 65536 */
  readonly maxMessagesPerFrame?: number;
}

/** The defaults of `NativeLimits`. */
export const DEFAULT_NATIVE_LIMITS: Readonly<Required<NativeLimits>> = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  maxDepth: 64,
  maxStringBytes: 4 * 1024 * 1024,
  maxArrayLength: 1_000_000,
  maxMessagesPerFrame: 65_536,
});

/** Fills unset fields from `DEFAULT_NATIVE_LIMITS`. */
export function resolveNativeLimits(limits?: NativeLimits): Readonly<Required<NativeLimits>> {
  if (limits === undefined) return DEFAULT_NATIVE_LIMITS;
  return {
    maxFrameBytes: limits.maxFrameBytes ?? DEFAULT_NATIVE_LIMITS.maxFrameBytes,
    maxDepth: limits.maxDepth ?? DEFAULT_NATIVE_LIMITS.maxDepth,
    maxStringBytes: limits.maxStringBytes ?? DEFAULT_NATIVE_LIMITS.maxStringBytes,
    maxArrayLength: limits.maxArrayLength ?? DEFAULT_NATIVE_LIMITS.maxArrayLength,
    maxMessagesPerFrame: limits.maxMessagesPerFrame ?? DEFAULT_NATIVE_LIMITS.maxMessagesPerFrame,
  };
}

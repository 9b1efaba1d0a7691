/**
 * `{sub}` and `{node}` placeholders in policy prefixes and store names. A placeholder stands for a
 * WHOLE path segment (`dash/{sub}/`, `{node}/x`, `prefs/{sub}`): it sits between `/`s or at an
 * end, and nothing else shares its segment (`dash/x{sub}/` is refused by the policy validator).
 *
 * Substitution never widens a grant: a value that is empty, contains `/`, is `.`, `..` or `*`,
 * holds `{`, `}`, `<$>` or a control character, or is longer than 256 characters is refused, and
 * so is a placeholder whose value is absent (`{node}` for a principal that is not a node). A
 * refused substitution drops that prefix or store entry — the principal gets less, never more.
 */

/** The placeholders a prefix or store name may hold, each as a whole `/`-separated segment. */
export const PLACEHOLDERS = ['{sub}', '{node}'] as const;
/** One of `PLACEHOLDERS`. */
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** The values placeholders are replaced by; `undefined` or `null` refuses that placeholder. */
export interface SubstitutionValues {
  readonly sub?: string | null | undefined;
  readonly node?: string | null | undefined;
}

/** Longest value a placeholder may take. */
export const MAX_SEGMENT_VALUE_LENGTH = 256;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const UNSAFE_VALUE = /[/{}\u0000-\u001f\u007f]|<\$>|\p{Cs}/u;

/**
 * True when `value` may replace a placeholder: one non-empty path segment that is not `.`, `..`
 * or `*` and holds no `/`, `{`, `}`, `<$>`, control character or lone surrogate.
 */
export function isSafeSegmentValue(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_SEGMENT_VALUE_LENGTH &&
    value !== '.' &&
    value !== '..' &&
    value !== '*' &&
    !UNSAFE_VALUE.test(value)
  );
}

/** True when `template` holds a placeholder (anywhere, well-placed or not). */
export function hasPlaceholder(template: string): boolean {
  return template.includes('{sub}') || template.includes('{node}');
}

/**
 * Where `template` misuses braces, or undefined when it is fine: a placeholder sharing its segment
 * with other text, or a `{name}` that is not a known placeholder.
 */
export function placeholderProblem(template: string): string | undefined {
  const segments = template.split('/');
  for (const seg of segments) {
    if ((PLACEHOLDERS as readonly string[]).includes(seg)) continue;
    const m = /\{[A-Za-z_][A-Za-z0-9_]*\}/.exec(seg);
    if (m === null) continue;
    return (PLACEHOLDERS as readonly string[]).includes(m[0])
      ? `placeholder ${m[0]} must be a whole path segment (between '/' or at an end)`
      : `unknown placeholder ${m[0]} (known: ${PLACEHOLDERS.join(', ')})`;
  }
  return undefined;
}

/**
 * `template` with each whole-segment placeholder replaced, or undefined when a value is refused
 * (see the module comment) or a placeholder is misplaced. Text without placeholders comes back
 * unchanged.
 */
export function substitute(template: string, values: SubstitutionValues): string | undefined {
  if (!hasPlaceholder(template)) return template;
  if (placeholderProblem(template) !== undefined) return undefined;
  const segments = template.split('/');
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg !== '{sub}' && seg !== '{node}') continue;
    const value = seg === '{sub}' ? values.sub : values.node;
    if (!isSafeSegmentValue(value)) return undefined;
    segments[i] = value;
  }
  return segments.join('/');
}

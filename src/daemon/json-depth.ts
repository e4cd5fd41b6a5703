/**
 * Nesting depth of a JSON text, measured before it is parsed. A value nested hundreds of
 * thousands of levels deep parses, but every recursive step after (validation, storing,
 * serialising) overflows the stack: such a body is refused up front, in one linear scan that
 * skips string contents.
 */

/** The deepest nesting of arrays and objects in `text` (0 for a scalar). Stops counting past `limit`. */
export function jsonNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

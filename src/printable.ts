/**
 * Text that is safe to put on a terminal or in a log line. Names and values that come from
 * an archive (a manifest's host, version and paths) or from a client are untrusted: an ESC
 * sequence in them could rewrite the operator's screen, and a newline could forge a second
 * `hint:` or log line. Control characters (C0, DEL, C1) and bidirectional overrides are shown
 * as `\xNN` / `\u{NNNN}` escapes instead; the CLI prints every human line through here.
 */

// C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate marks.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** One line of text: every control character escaped, newlines and tabs included. */
export function printableLine(text: string): string {
  return text.replace(UNSAFE, escape);
}

import { describe, expect, it } from 'vitest';
import { printableLine } from '../../src/printable.js';

describe('printable text', () => {
  it('escapes ESC sequences, C1 controls, DEL and bidi overrides', () => {
    expect(printableLine('a\u001b[2Jb')).toBe('a\\x1b[2Jb');
    expect(printableLine('\u009b31m\u007f')).toBe('\\x9b31m\\x7f');
    expect(printableLine('abc\u202edef')).toBe('abc\\u{202e}def');
  });

  it('keeps a line on one line: newline, tab and carriage return escaped', () => {
    expect(printableLine('x\nhint: forged\ty\r')).toBe('x\\x0ahint: forged\\x09y\\x0d');
  });

  it('leaves ordinary text, non-ASCII included, as it is', () => {
    const s = 'café 東京 🚀 — naïve';
    expect(printableLine(s)).toBe(s);
  });
});

/**
 * Chat-like text for the reference home: sentences drawn from a common-English vocabulary
 * with a skewed (Zipf-like) word choice, sprinkled with numbers, identifiers and code, so
 * that it compresses about as well as real conversation logs do (gzip: roughly 3×) rather
 * than to nothing (identical rows) or not at all (random bytes).
 *
 * Speed matters (hundreds of megabytes at scale 1): a pool of sentences is generated once
 * and messages are assembled from random picks. The pool is far larger than gzip's 32 KB
 * window, so repeated picks do not make the text unrealistically compressible.
 */
import { Prng } from './prng.js';

const WORDS = (
  'the to and a of I you it that is in for this on be with we can have not are as do if ' +
  'will at your but so what my me just from an or all there about like would they get ' +
  'was one which should more here then when use need also them could any now know how ' +
  'think see make some by our want because sure out up first new other time data file ' +
  'run agent memory task step value check let next into only after before still well ' +
  'please thanks yes no right work update change error result output input config test ' +
  'build server request response user list table query key token session message model ' +
  'report summary draft review plan schedule meeting customer order invoice email note ' +
  'issue ticket deploy release version branch commit merge function call return string ' +
  'number field record event log backup restore archive path folder directory system ' +
  'service daemon process memory cache index search document page section line item ' +
  'good great fine quick small large simple clear exact last same different important ' +
  'possible likely already again always never often usually maybe probably actually ' +
  'really quite very much many few each every both either between through during while ' +
  'without within across against along around because since until unless although ' +
  'add remove send read write open close start stop create delete find show try help ' +
  'look give take keep move copy set get put ask tell explain describe compare confirm ' +
  'week month today yesterday tomorrow morning afternoon evening team project client ' +
  'price cost budget account payment contract policy rule workflow pipeline dataset ' +
  'analysis metric chart dashboard alert threshold latency throughput storage network ' +
  'Monday Friday January March June September London Berlin Paris Tokyo Sydney Toronto'
).split(' ');

const OPENERS = ['Sure', 'Okay', 'Thanks', 'Got it', 'Right', 'Good question', 'Hmm', 'Yes', 'No', 'Done'];
const CODE_LINES = [
  'const result = await client.fetch(query);',
  'if (!response.ok) throw new Error(response.statusText);',
  'SELECT id, name FROM records WHERE updated_at > ?;',
  'for item in items: total += item.price',
  'return { status: "ok", count: rows.length };',
  'curl -s -H "Authorization: Bearer $TOKEN" http://localhost:4200/v1/health',
  'git commit -m "fix the retry loop"',
  'df -h /var/lib/hoziron',
];

export class ChatText {
  private readonly pool: string[] = [];

  constructor(
    private readonly rng: Prng,
    poolSize = 20_000,
  ) {
    for (let i = 0; i < poolSize; i++) this.pool.push(this.makeSentence());
  }

  private token(): string {
    const r = this.rng.float();
    if (r < 0.02) return String(this.rng.int(0, 99_999));
    if (r < 0.03) return `${this.rng.pick(['task', 'run', 'ticket', 'order', 'job'])}-${this.rng.hex(6)}`;
    if (r < 0.035) return `${this.rng.int(1, 28)}.${this.rng.int(1, 12)}.${this.rng.int(2019, 2026)}`;
    return this.rng.pickSkewed(WORDS, 2.2);
  }

  private makeSentence(): string {
    const n = this.rng.int(4, 22);
    const words: string[] = [];
    for (let i = 0; i < n; i++) {
      let w = this.token();
      if (i > 2 && i < n - 1 && this.rng.chance(0.06)) w += ',';
      words.push(w);
    }
    const first = words[0]!;
    words[0] = first.charAt(0).toUpperCase() + first.slice(1);
    return words.join(' ') + this.rng.pick(['.', '.', '.', '.', '?', '!']);
  }

  sentence(): string {
    return this.pool[Math.floor(this.rng.float() * this.pool.length)]!;
  }

  /** A message of roughly `targetChars` characters: paragraphs, sometimes a list or code. */
  message(targetChars: number): string {
    const parts: string[] = [];
    let size = 0;
    if (this.rng.chance(0.3)) {
      const o = `${this.rng.pick(OPENERS)}.`;
      parts.push(o);
      size += o.length;
    }
    while (size < targetChars) {
      const r = this.rng.float();
      let block: string;
      if (r < 0.08) {
        const lines: string[] = [];
        for (let i = this.rng.int(2, 5); i > 0; i--) lines.push(`- ${this.sentence()}`);
        block = `\n${lines.join('\n')}\n`;
      } else if (r < 0.11) {
        const lines: string[] = [];
        for (let i = this.rng.int(1, 4); i > 0; i--) lines.push(this.rng.pick(CODE_LINES));
        block = `\n\`\`\`\n${lines.join('\n')}\n\`\`\`\n`;
      } else {
        const sentences: string[] = [];
        for (let i = this.rng.int(1, 4); i > 0; i--) sentences.push(this.sentence());
        block = sentences.join(' ');
      }
      parts.push(block);
      size += block.length + 1;
    }
    return parts.join(parts.length > 2 ? '\n' : ' ');
  }

  /** A short title-like phrase (names of files, workflows, skills). */
  phrase(words = 3): string {
    const out: string[] = [];
    for (let i = 0; i < words; i++) out.push(this.rng.pick(WORDS).toLowerCase());
    return out.join(' ');
  }
}

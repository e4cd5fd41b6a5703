/**
 * The files and directories a manifest lists, held compactly: a manifest may list hundreds
 * of thousands of entries, and an array of objects (path, size, mode and a 64-character hex
 * string each) plus a Map over it costs several times the bytes of these parallel typed
 * arrays. Each entry is its path string, an index in one Map, and a fixed slot in typed
 * arrays (size, mode, the SHA-256 as 32 raw bytes). Entries are handed out as small objects
 * made on demand, so callers still see `{ path, size, mode, sha256 }`.
 * Invariant: a path appears once (`add` refuses a second).
 */

export interface ManifestFile {
  path: string;
  size: number;
  mode: number;
  /** Lower-case hex. */
  sha256: string;
}

export interface ManifestDir {
  path: string;
  mode: number;
}

function grown<T extends Float64Array | Uint16Array | Uint8Array>(a: T, need: number, make: (n: number) => T): T {
  if (need <= a.length) return a;
  const b = make(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/** Paths with a mode each, indexed by path; the shared part of files and directories. */
class PathList {
  protected readonly paths: string[] = [];
  protected modes = new Uint16Array(16);
  private readonly index = new Map<string, number>();

  get length(): number {
    return this.paths.length;
  }

  /** Index of `path`, or -1. */
  indexOf(path: string): number {
    return this.index.get(path) ?? -1;
  }

  pathAt(i: number): string {
    return this.paths[i]!;
  }

  /** Append; false (and nothing added) when the path is already listed. */
  protected addPath(path: string, mode: number): number {
    if (this.index.has(path)) return -1;
    const i = this.paths.length;
    this.paths.push(path);
    this.index.set(path, i);
    this.modes = grown(this.modes, i + 1, (n) => new Uint16Array(n));
    this.modes[i] = mode;
    return i;
  }
}

export class FileList extends PathList {
  private sizes = new Float64Array(16);
  private hashes = new Uint8Array(16 * 32);
  private total = 0;

  static from(files: readonly ManifestFile[]): FileList {
    const list = new FileList();
    for (const f of files) list.add(f);
    return list;
  }

  add(f: ManifestFile): boolean {
    const i = this.addPath(f.path, f.mode);
    if (i < 0) return false;
    this.sizes = grown(this.sizes, i + 1, (n) => new Float64Array(n));
    this.sizes[i] = f.size;
    this.hashes = grown(this.hashes, (i + 1) * 32, (n) => new Uint8Array(n));
    this.hashes.set(Buffer.from(f.sha256, 'hex'), i * 32);
    this.total += f.size;
    return true;
  }

  at(i: number): ManifestFile {
    const sha256 = Buffer.from(this.hashes.buffer, this.hashes.byteOffset + i * 32, 32).toString('hex');
    return { path: this.paths[i]!, size: this.sizes[i]!, mode: this.modes[i]!, sha256 };
  }

  get(path: string): ManifestFile | undefined {
    const i = this.indexOf(path);
    return i < 0 ? undefined : this.at(i);
  }

  /** Total bytes of the files (the unpacked size). */
  totalSize(): number {
    return this.total;
  }

  *[Symbol.iterator](): IterableIterator<ManifestFile> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /** As JSON: the manifest's `files` array. */
  toJSON(): ManifestFile[] {
    return [...this];
  }
}

export class DirList extends PathList {
  static from(dirs: readonly ManifestDir[]): DirList {
    const list = new DirList();
    for (const d of dirs) list.add(d);
    return list;
  }

  add(d: ManifestDir): boolean {
    return this.addPath(d.path, d.mode) >= 0;
  }

  at(i: number): ManifestDir {
    return { path: this.paths[i]!, mode: this.modes[i]! };
  }

  get(path: string): ManifestDir | undefined {
    const i = this.indexOf(path);
    return i < 0 ? undefined : this.at(i);
  }

  *[Symbol.iterator](): IterableIterator<ManifestDir> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  toJSON(): ManifestDir[] {
    return [...this];
  }
}

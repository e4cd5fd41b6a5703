/**
 * What every command gets: the resolved home, the configuration (loaded once, warnings
 * printed once to stderr) and the output helpers. Commands stay thin: parse flags, call one
 * core function, render the result with these helpers.
 */
import { loadConfig, type LoadedConfig } from '../home/config.js';
import { HomeLayout, resolveHomeDir } from '../home/layout.js';
import { printableLine } from '../printable.js';

export type Preflight = (home: HomeLayout) => Promise<void>;

export class App {
  private layout: HomeLayout | undefined;
  private loaded: LoadedConfig | undefined;
  private readonly preflights: Preflight[] = [];
  private preflightDone = false;

  constructor(
    private readonly homeFlag: () => string | undefined,
    readonly stdout: NodeJS.WritableStream = process.stdout,
    readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** The home directory chosen by --home, HOZIRON_HOME or the default. */
  home(): HomeLayout {
    this.layout ??= new HomeLayout(resolveHomeDir(this.homeFlag()));
    return this.layout;
  }

  /** Load and validate config.toml (once); unknown keys are warned about on stderr. */
  config(): LoadedConfig {
    if (!this.loaded) {
      this.loaded = loadConfig(this.home());
      for (const w of this.loaded.warnings) this.stderr.write(`warning: ${w}\n`);
    }
    return this.loaded;
  }

  /**
   * Register work that must run before any command touches an existing home (for example,
   * finishing or rolling back an interrupted restore).
   */
  addPreflight(fn: Preflight): void {
    this.preflights.push(fn);
  }

  /**
   * Run the preflights once. They come before the config is read: recovering an interrupted
   * restore may be what puts a sound config.toml back in place.
   */
  async runPreflights(): Promise<HomeLayout> {
    if (!this.preflightDone) {
      this.preflightDone = true;
      for (const fn of this.preflights) await fn(this.home());
    }
    return this.home();
  }

  /** Run the preflights and load the config; every command on an existing home calls this. */
  async open(): Promise<{ home: HomeLayout; cfg: LoadedConfig }> {
    const home = await this.runPreflights();
    return { home, cfg: this.config() };
  }

  /**
   * Human output, as lines. Each line is printed with every control character escaped
   * (printable.ts): a value from an archive or the home (a manifest's host, a file name)
   * can neither move the cursor nor start a line of its own.
   */
  print(lines: string | readonly string[]): void {
    const all = typeof lines === 'string' ? [lines] : lines;
    this.stdout.write(all.map((l) => `${printableLine(l)}\n`).join(''));
  }

  printJson(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  warn(text: string): void {
    this.stderr.write(`warning: ${printableLine(text)}\n`);
  }
}

/**
 * Runs before every test file. Tests call the real CLI with `spawnSync`, which blocks the
 * vitest worker's event loop; vitest's worker-to-runner RPC has a fixed 60 s timeout, and a
 * reply that arrives while the loop is blocked is only read on the next loop turn. Yielding
 * one full turn (a timer, so the poll phase runs) after each test bounds the blocked time to
 * one test rather than one whole file.
 */
import { afterEach } from 'vitest';

afterEach(async () => {
  await new Promise((resolve) => setTimeout(resolve, 1));
});

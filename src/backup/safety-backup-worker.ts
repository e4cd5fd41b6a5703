/**
 * The detached process that makes a restore's safety backup after the swap (safety-point.ts):
 * `node safety-backup-worker.js <home> <restore id>`. It waits for the backup lock, archives
 * the work area's aside tree and removes it. It prints nothing: if it fails or is killed, the
 * safety backup stays pending, with its aside tree, and the next command finishes it.
 */
import { loadConfig } from '../home/config.js';
import { HomeLayout } from '../home/layout.js';
import { finishSafetyBackup } from './safety-point.js';

const [root, restoreId] = process.argv.slice(2);
if (root && restoreId) {
  const home = new HomeLayout(root);
  try {
    await finishSafetyBackup(home, loadConfig(home), restoreId, { wait: true });
  } catch {
    process.exitCode = 1;
  }
}

/** Every command of the CLI, registered in the order `--help` lists them. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { registerAudit } from './audit.js';
import { registerBackupCreate } from './backup-create.js';
import { registerBackupDelete } from './backup-delete.js';
import { registerBackupKeygen } from './backup-keygen.js';
import { registerBackupList } from './backup-list.js';
import { registerBackupPrune } from './backup-prune.js';
import { registerBackupPull } from './backup-pull.js';
import { registerBackupPush } from './backup-push.js';
import { registerBackupRestore } from './backup-restore.js';
import { registerBackupShow } from './backup-show.js';
import { registerBackupVerify } from './backup-verify.js';
import { registerCompletion } from './completion.js';
import { registerDoctor } from './doctor.js';
import { registerHealth } from './health.js';
import { registerInit } from './init.js';
import { registerKey } from './key.js';
import { registerStart } from './start.js';
import { registerStatus } from './status.js';
import { registerStop } from './stop.js';

export type Register = (program: Command, app: App) => void;

export const COMMANDS: Register[] = [
  registerInit,
  registerStart,
  registerStop,
  registerStatus,
  registerHealth,
  registerDoctor,
  registerBackupCreate,
  registerBackupList,
  registerBackupShow,
  registerBackupVerify,
  registerBackupDelete,
  registerBackupPrune,
  registerBackupRestore,
  registerBackupPush,
  registerBackupPull,
  registerBackupKeygen,
  registerKey,
  registerAudit,
  registerCompletion,
];

/** Every command of the CLI, registered in the order `--help` lists them. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { registerAudit } from './audit.js';
import { registerDoctor } from './doctor.js';
import { registerInit } from './init.js';
import { registerKey } from './key.js';

export type Register = (program: Command, app: App) => void;

export const COMMANDS: Register[] = [registerInit, registerDoctor, registerKey, registerAudit];

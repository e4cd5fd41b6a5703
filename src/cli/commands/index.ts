/** Every command of the CLI, registered in the order `--help` lists them. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { registerInit } from './init.js';

export type Register = (program: Command, app: App) => void;

export const COMMANDS: Register[] = [registerInit];

/** Worker-thread entry of `checkDatabaseInWorker`: runs one check and posts its result. */
import { parentPort, workerData } from 'node:worker_threads';
import { checkDatabase, type DbCheckJob } from './db-check.js';

parentPort!.postMessage(checkDatabase(workerData as DbCheckJob));

/** Worker-thread entry of `checkDatabaseInWorker`: runs one check and answers with its result. */
import { checkDatabase, type DbCheckJob } from './db-check.js';
import { serveWorker } from './worker-runner.js';

void serveWorker<DbCheckJob, string | null>(checkDatabase);

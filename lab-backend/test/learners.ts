/** Principals and stores for tests that drive a SessionManager directly (no cookies involved). */
import type { LearnerPrincipal } from '../src/identity/principal';
import { MEMORY, openSqliteStore, SqliteStore } from '../src/store/sqlite';

/** An anonymous learner named `name` (its learnerId; real ones are 22 random characters). */
export const learner = (name: string): LearnerPrincipal => ({ kind: 'learner', learnerId: name });

/** A real SQLite store that lives in memory: empty, gone when closed. */
export const memoryStore = (): SqliteStore => new SqliteStore(MEMORY);

export { openSqliteStore };

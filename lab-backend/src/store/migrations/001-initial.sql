-- 001: learners, sessions, check results (+ progress), saved work, device codes.
-- Times are INTEGER ms since the epoch; booleans are INTEGER 0/1.
-- A migration runs inside one transaction with foreign keys on: no BEGIN/COMMIT
-- here, and no PRAGMA that cannot run in a transaction.

CREATE TABLE learners (
  id               TEXT    PRIMARY KEY,
  kind             TEXT    NOT NULL CHECK (kind IN ('anonymous', 'participant', 'embedded', 'admin')),
  created_at       INTEGER NOT NULL,
  last_seen_at     INTEGER NOT NULL,
  -- An identity known elsewhere (LTI/embedding integration, workshop): both or neither.
  external_issuer  TEXT,
  external_subject TEXT,
  CHECK ((external_issuer IS NULL) = (external_subject IS NULL)),
  UNIQUE (external_issuer, external_subject)
);

CREATE TABLE sessions (
  id           TEXT    PRIMARY KEY,
  learner_id   TEXT    NOT NULL REFERENCES learners (id),
  lesson_id    TEXT    NOT NULL,
  runtime      TEXT    NOT NULL,
  sandbox_id   TEXT,
  -- JSON the driver needs to re-adopt the sandbox (its describe()); NULL when none.
  driver_state TEXT,
  state        TEXT    NOT NULL CHECK (state IN ('queued', 'starting', 'ready', 'ended')),
  created_at   INTEGER NOT NULL,
  started_at   INTEGER,
  expires_at   INTEGER,
  ended_at     INTEGER,
  end_reason   TEXT,
  -- Ended exactly when it has an end time and a reason.
  CHECK ((state = 'ended') = (ended_at IS NOT NULL AND end_reason IS NOT NULL))
);
CREATE INDEX sessions_live ON sessions (created_at) WHERE state <> 'ended';
CREATE INDEX sessions_by_learner ON sessions (learner_id);

-- Every check result, never updated or deleted. learner_id and lesson_id are
-- copied from the session when the result is recorded.
CREATE TABLE check_results (
  id          INTEGER PRIMARY KEY,
  session_id  TEXT    NOT NULL REFERENCES sessions (id),
  learner_id  TEXT    NOT NULL REFERENCES learners (id),
  lesson_id   TEXT    NOT NULL,
  exercise_id TEXT    NOT NULL,
  passed      INTEGER NOT NULL CHECK (passed IN (0, 1)),
  message     TEXT    NOT NULL,
  duration_ms INTEGER NOT NULL,
  exit_code   INTEGER,
  at          INTEGER NOT NULL
);
CREATE INDEX check_results_by_learner ON check_results (learner_id, lesson_id, at);

-- Progress per learner × exercise, updated in the same transaction as each
-- check_results insert: attempts = that exercise's result count, first_passed_at
-- = its earliest passing result's time (NULL: not passed).
CREATE TABLE progress (
  learner_id      TEXT    NOT NULL REFERENCES learners (id),
  lesson_id       TEXT    NOT NULL,
  exercise_id     TEXT    NOT NULL,
  attempts        INTEGER NOT NULL CHECK (attempts > 0),
  first_passed_at INTEGER,
  last_attempt_at INTEGER NOT NULL,
  PRIMARY KEY (learner_id, lesson_id, exercise_id)
) WITHOUT ROWID;

-- The latest saved work per learner × lesson (an earlier one is replaced).
CREATE TABLE saved_work (
  learner_id TEXT    NOT NULL REFERENCES learners (id),
  lesson_id  TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  archive    BLOB    NOT NULL,
  CHECK (size_bytes = length(archive)),
  PRIMARY KEY (learner_id, lesson_id)
);

-- One-time device-transfer codes, stored as hashes.
CREATE TABLE device_codes (
  code_hash  TEXT    PRIMARY KEY,
  learner_id TEXT    NOT NULL REFERENCES learners (id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
);

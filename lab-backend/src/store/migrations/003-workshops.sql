-- 003: instructor-led workshops. Instructors (invited by the admin with a
-- one-time link whose hash is kept), their workshops (lessons in order, a
-- time window, seats, pace and a join code), the learners' seats (each seat
-- is a learner of its own, kind 'participant', with a display name unique in
-- its workshop by name_key), and the workshop's log of instructor actions.
CREATE TABLE instructors (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  -- the password's scrypt hash (with its salt and parameters); NULL until the instructor sets one
  password_hash TEXT,
  created_at INTEGER NOT NULL
);

CREATE TABLE instructor_invites (
  token_hash TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_by TEXT REFERENCES instructors(id)
);

CREATE TABLE workshops (
  id TEXT PRIMARY KEY,
  instructor_id TEXT NOT NULL REFERENCES instructors(id),
  title TEXT NOT NULL,
  join_code TEXT NOT NULL UNIQUE,
  -- JSON array of lesson ids, in the instructor's order
  lesson_ids TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL CHECK (ends_at > starts_at),
  seats INTEGER NOT NULL CHECK (seats > 0),
  pace TEXT NOT NULL CHECK (pace IN ('open', 'instructor')),
  unlocked INTEGER NOT NULL DEFAULT 1 CHECK (unlocked >= 1),
  created_at INTEGER NOT NULL,
  ended_at INTEGER
);
CREATE INDEX workshops_by_instructor ON workshops (instructor_id, starts_at);

CREATE TABLE workshop_seats (
  workshop_id TEXT NOT NULL REFERENCES workshops(id),
  learner_id TEXT NOT NULL REFERENCES learners(id),
  display_name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  joined_at INTEGER NOT NULL,
  removed_at INTEGER,
  PRIMARY KEY (workshop_id, learner_id),
  UNIQUE (workshop_id, name_key)
);

CREATE TABLE workshop_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workshop_id TEXT NOT NULL REFERENCES workshops(id),
  at INTEGER NOT NULL,
  -- who acted: an instructor id, or 'admin'
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  -- the seat it was done to, if any
  learner_id TEXT,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workshop_log_by_workshop ON workshop_log (workshop_id, id);

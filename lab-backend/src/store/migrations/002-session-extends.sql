-- 002: how many times a session's lifetime was extended, so that a backend
-- that adopts it after a restart allows only the extensions that are left.
ALTER TABLE sessions ADD COLUMN extends_used INTEGER NOT NULL DEFAULT 0 CHECK (extends_used >= 0);

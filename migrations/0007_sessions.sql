-- Dashboard logins kept on the server, so that logging out ends them at once.
-- The signed cookie carries a random session id (256 bits); only its SHA-256 is
-- stored, so a copy of this table logs nobody in. A password change or
-- disabling a user deletes the user's rows; expired rows are swept at login.

CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id      integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Cookies carried this counter to be ended by a password change; the rows above
-- replace it (cookies signed before this migration no longer log anyone in).
ALTER TABLE users DROP COLUMN session_epoch;

-- Authentication: API bearer tokens and dashboard users.
-- Neither table holds a usable secret: tokens are stored as their SHA-256 and
-- passwords as argon2id hashes, so a copy of the database grants no access.

CREATE TABLE api_tokens (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The first characters of the token, shown in listings so an operator can
    -- tell tokens apart; far too short to guess the rest from.
    prefix       text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 20),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    scopes       text[] NOT NULL CHECK (
                     cardinality(scopes) BETWEEN 1 AND 3
                     AND scopes <@ ARRAY['read', 'ingest', 'admin']::text[]),
    -- A Flask-Limiter rate such as '100/minute' replacing the defaults; NULL: defaults.
    rate_limit   text CHECK (length(rate_limit) <= 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
-- A name names one live token; a revoked token's name can be used again.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE users (
    id                     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username               text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@+-]{1,100}$'),
    password_hash          text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    role                   text NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'editor')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    disabled_at            timestamptz,
    last_login_at          timestamptz,
    -- Each session cookie carries the epoch it was signed in; changing a
    -- password or disabling the user bumps it, which logs them out everywhere
    -- although sessions live in cookies. A counter, not a time: no clock skew.
    session_epoch          integer NOT NULL DEFAULT 0
);

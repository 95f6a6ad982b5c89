-- breachctl serve (issue 17): the support desk and the team's live case.
--
-- Staff accounts belong to the case database (one team, every case in it).
-- Passwords are stored only as bcrypt hashes.
CREATE TABLE breachctl.staff (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role          text NOT NULL CHECK (role IN ('support', 'analyst', 'admin')),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A signed-in browser: the cookie holds a random token, the table only its
-- SHA-256, so a read of this table signs nobody in. csrf is the session's
-- form token.
CREATE TABLE breachctl.staff_sessions (
    token_sha256 text PRIMARY KEY,
    staff        text NOT NULL REFERENCES breachctl.staff(name) ON DELETE CASCADE,
    csrf         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    remote       text NOT NULL DEFAULT ''
);
CREATE INDEX staff_sessions_expiry ON breachctl.staff_sessions (expires_at);

-- Every look at one person's data: who (a staff name, or "self-check" for the
-- person through the company's site), when, which person (user id only, never
-- an e-mail address: a lookup by address records how it was made and the ids
-- it found), from where, and what was looked at.
CREATE TABLE breachctl.audit (
    case_id  text NOT NULL,
    audit_no bigserial,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    role     text NOT NULL DEFAULT '',
    action   text NOT NULL,
    user_id  text NOT NULL DEFAULT '',
    remote   text NOT NULL DEFAULT '',
    detail   text NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, audit_no)
);
CREATE INDEX audit_user ON breachctl.audit (case_id, user_id);

-- Self-check tokens already used (their SHA-256), until they expire: a token
-- answers once; a second use is a replay.
CREATE TABLE breachctl.selfcheck_tokens (
    token_sha256 text PRIMARY KEY,
    case_id      text NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX selfcheck_tokens_expiry ON breachctl.selfcheck_tokens (expires_at);

-- Refused self-check requests, counted by day and reason.
CREATE TABLE breachctl.selfcheck_refusals (
    case_id text NOT NULL,
    day     date NOT NULL,
    reason  text NOT NULL,
    count   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (case_id, day, reason)
);

-- What was handed to the SMTP server, so the support desk can show the
-- notice as the person received it: the message's SHA-256 and its Date (the
-- notice is re-rendered with that date from the same run and compared). The
-- message itself is not kept: it holds the person's name and address.
ALTER TABLE breachctl.notices ADD COLUMN message_sha256 text;
ALTER TABLE breachctl.notices ADD COLUMN message_date timestamptz;

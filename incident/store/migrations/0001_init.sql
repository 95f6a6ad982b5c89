-- The case database: everything breachctl knows about a case. Personal data
-- is kept to what later steps need (user ids, country/region, locale);
-- names and addresses stay in the user database and are read when needed.

CREATE TABLE breachctl.cases (
    id              text PRIMARY KEY,
    title           text NOT NULL,
    case_file       text NOT NULL,          -- path as given
    case_file_sha256 text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Every ingest is a numbered run; a revised count is a new run, old runs are kept.
CREATE TABLE breachctl.runs (
    case_id         text NOT NULL REFERENCES breachctl.cases(id) ON DELETE CASCADE,
    run             integer NOT NULL,
    state           text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    case_file_sha256 text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    margin_seconds  integer NOT NULL DEFAULT 3600,
    error           text,
    totals          jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (case_id, run)
);

-- One row per input file: chain of custody. Recorded (path, size, sha256)
-- before the file is parsed; the counts are filled in after.
CREATE TABLE breachctl.evidence (
    case_id         text NOT NULL,
    run             integer NOT NULL,
    file_no         integer NOT NULL,
    path            text NOT NULL,
    bytes           bigint NOT NULL,
    sha256          text NOT NULL,
    format          text NOT NULL,
    compressed      boolean NOT NULL DEFAULT false,
    truncated       boolean NOT NULL DEFAULT false,
    lines           bigint NOT NULL DEFAULT 0,
    parsed          bigint NOT NULL DEFAULT 0,
    rejected        bigint NOT NULL DEFAULT 0,
    outside_window  bigint NOT NULL DEFAULT 0,
    rejects         jsonb NOT NULL DEFAULT '[]',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, run, file_no),
    UNIQUE (case_id, run, path),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);

-- Exposure events: a cached response served to someone other than its owner.
CREATE TABLE breachctl.exposure_events (
    case_id         text NOT NULL,
    run             integer NOT NULL,
    event_no        bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('exposure', 'unattributed', 'empty')),
    at              timestamptz NOT NULL,
    pop             text NOT NULL,
    cache_key       text NOT NULL,
    path            text NOT NULL,
    status          integer NOT NULL,
    victim_user_id  text,                   -- null when unattributed
    level           text CHECK (level IN ('confirmed', 'possible')),
    viewer          text NOT NULL,          -- user:ID, identity:HASH or ip:ADDR
    categories      text[] NOT NULL DEFAULT '{}',
    evidence_file   integer,
    evidence_line   bigint,
    PRIMARY KEY (case_id, run, event_no),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);
CREATE INDEX exposure_events_victim ON breachctl.exposure_events (case_id, run, victim_user_id);

-- Affected accounts of a run.
CREATE TABLE breachctl.affected (
    case_id         text NOT NULL,
    run             integer NOT NULL,
    user_id         text NOT NULL,
    level           text NOT NULL CHECK (level IN ('confirmed', 'possible')),
    categories      text[] NOT NULL,
    category_levels jsonb NOT NULL DEFAULT '{}',
    views           integer NOT NULL DEFAULT 0,
    viewers         integer NOT NULL DEFAULT 0,
    first_exposed   timestamptz,
    last_exposed    timestamptz,
    locale          text NOT NULL DEFAULT '',
    country         text NOT NULL DEFAULT '',
    region          text NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, run, user_id),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);

-- The delivery ledger: one row per (case, run, person, channel).
CREATE TABLE breachctl.notices (
    case_id         text NOT NULL,
    run             integer NOT NULL,
    user_id         text NOT NULL,
    channel         text NOT NULL DEFAULT 'email',
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts        integer NOT NULL DEFAULT 0,
    message_id      text NOT NULL,
    last_error      text,
    smtp_reply      text,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sending_at      timestamptz,
    sent_at         timestamptz,
    PRIMARY KEY (case_id, run, user_id, channel),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);
CREATE INDEX notices_state ON breachctl.notices (case_id, run, state);

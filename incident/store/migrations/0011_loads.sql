-- breachctl load (issue 18): when the logs are on several machines, each
-- one parses its share and COPYs the cache rule's responses into the case's
-- records table (distributed by lineage key on Citus) and the other rules'
-- requests into its hits table; ingest --loaded then correlates every load
-- as one run. A load keeps its files' evidence (hash before parsing, line
-- accounting after) exactly as a run does, and the case file's SHA-256 and
-- margin it was made with: a run only uses loads made from the same case
-- file (the routes, window and rules decided what was kept). A dropped
-- load's records are deleted; its row and its files' stay, marked, so its
-- number is never reused and the record of what was loaded remains.
CREATE TABLE breachctl.loads (
    case_id          text NOT NULL REFERENCES breachctl.cases(id),
    load             integer NOT NULL,
    host             text NOT NULL,
    engine           text NOT NULL,
    case_file_sha256 text NOT NULL,
    margin_ms        bigint NOT NULL,
    -- The logs[].paths globs that found a file loaded here, as "i.j":
    -- ingest --loaded refuses a glob that no load covers (a machine that
    -- was never loaded).
    globs            text[] NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'loading' CHECK (state IN ('loading', 'done', 'failed', 'interrupted', 'dropped')),
    error            text,
    records          bigint NOT NULL DEFAULT 0,
    hits             bigint NOT NULL DEFAULT 0,
    private_origin   bigint NOT NULL DEFAULT 0,
    private_unknown  bigint NOT NULL DEFAULT 0,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    PRIMARY KEY (case_id, load)
);

-- A loaded file: source is its logs[] entry, path_index the entry's
-- paths[] glob that found it and abs_path where the glob found it, so that
-- ingest --loaded numbers the files as one ingest of them all would; path
-- is as a run's evidence shows it (relative to the case file).
CREATE TABLE breachctl.load_files (
    case_id         text NOT NULL,
    load            integer NOT NULL,
    file_no         integer NOT NULL,
    source          integer NOT NULL,
    path_index      integer NOT NULL,
    path            text NOT NULL,
    abs_path        text NOT NULL,
    bytes           bigint NOT NULL,
    sha256          text NOT NULL,
    format          text NOT NULL,
    compressed      boolean NOT NULL DEFAULT false,
    truncated       boolean NOT NULL DEFAULT false,
    read_error      text NOT NULL DEFAULT '',
    lines           bigint NOT NULL DEFAULT 0,
    parsed          bigint NOT NULL DEFAULT 0,
    rejected        bigint NOT NULL DEFAULT 0,
    outside_window  bigint NOT NULL DEFAULT 0,
    rejects         jsonb NOT NULL DEFAULT '[]',
    unknown_cache   jsonb NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, load, file_no),
    FOREIGN KEY (case_id, load) REFERENCES breachctl.loads(case_id, load) ON DELETE CASCADE
);

-- The loads a run was correlated from (NULL: it parsed its logs itself).
ALTER TABLE breachctl.runs ADD COLUMN loads integer[];

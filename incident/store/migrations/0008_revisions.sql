-- Revised counts (issue 16).
--
-- A notice has a kind: the first notice to a person, an update when a later
-- run found more of theirs exposed (new categories, or possible to
-- confirmed), or a correction, sent only when asked, to a person a later run
-- no longer finds affected. refers_to is the Message-ID of the first notice
-- an update or correction follows (In-Reply-To / References); basis_run is
-- the run whose affected row the notice describes (for an update: what is
-- now known; "what was said before" is the basis of the person's previous
-- sent notice).
ALTER TABLE breachctl.notices ADD COLUMN kind text NOT NULL DEFAULT 'first'
    CHECK (kind IN ('first', 'update', 'correction'));
ALTER TABLE breachctl.notices ADD COLUMN refers_to text;
ALTER TABLE breachctl.notices ADD COLUMN basis_run integer;
UPDATE breachctl.notices SET basis_run = run WHERE basis_run IS NULL;

-- Every report written, with the run it was written from and its numbers,
-- so a later report can say which figures changed and from what.
CREATE TABLE breachctl.reports (
    case_id      text NOT NULL,
    report_no    bigserial,
    kind         text NOT NULL,
    run          integer NOT NULL,
    format       text NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now(),
    numbers      jsonb NOT NULL DEFAULT '{}',
    sha256       text NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, report_no),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);

-- When a run's scope was determined (the team accepted its count): some
-- clocks run from the determination, not from awareness.
ALTER TABLE breachctl.runs ADD COLUMN determined_at timestamptz;

-- A person's notices across runs: what updates, corrections and the
-- reconciliation of runs look up (without it, joining a run's notices to the
-- other runs' by person scans the case's whole ledger once per person).
CREATE INDEX notices_user ON breachctl.notices (case_id, user_id);

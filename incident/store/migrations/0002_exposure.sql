-- Exposure events are written in bulk (COPY): millions per run. The primary
-- key and the per-row foreign-key check made the COPY several times slower
-- (runs are never deleted, so the cascade is not needed). Kinds gain "unresolved": the owner's identity
-- matches no user record, so they cannot be notified.
ALTER TABLE breachctl.exposure_events DROP CONSTRAINT exposure_events_pkey;
ALTER TABLE breachctl.exposure_events DROP CONSTRAINT exposure_events_case_id_run_fkey;
ALTER TABLE breachctl.exposure_events DROP CONSTRAINT exposure_events_kind_check;
ALTER TABLE breachctl.exposure_events ADD CONSTRAINT exposure_events_kind_check
    CHECK (kind IN ('exposure', 'unattributed', 'empty', 'unresolved'));
-- A b-tree on the victim doubled the cost of every COPY; rows of a run are
-- written together, so a BRIN index on (case_id, run) finds a run's blocks
-- at almost no cost, and a person's events are read from those blocks.
DROP INDEX breachctl.exposure_events_victim;
CREATE INDEX exposure_events_run_brin ON breachctl.exposure_events USING brin (case_id, run);

-- Exposure events are written in bulk (COPY): millions per run. The primary
-- key and the per-row foreign-key check made the COPY several times slower;
-- rows are read per run or per victim through exposure_events_victim
-- (case_id, run, victim_user_id); runs are never deleted. Kinds gain "unresolved": the owner's identity
-- matches no user record, so they cannot be notified.
ALTER TABLE breachctl.exposure_events DROP CONSTRAINT exposure_events_pkey;
ALTER TABLE breachctl.exposure_events DROP CONSTRAINT exposure_events_case_id_run_fkey;
ALTER TABLE breachctl.exposure_events DROP CONSTRAINT exposure_events_kind_check;
ALTER TABLE breachctl.exposure_events ADD CONSTRAINT exposure_events_kind_check
    CHECK (kind IN ('exposure', 'unattributed', 'empty', 'unresolved'));

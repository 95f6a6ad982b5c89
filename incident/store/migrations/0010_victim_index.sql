-- One person's exposure events (disclose, breachctl serve's person page):
-- without this, each lookup scans every event of the run (36 ms for the
-- demo's 215,000 events; the support desk's load check needs thousands of
-- lookups a second). Ingest pays for it while storing events (measured in
-- the README's Performance section).
CREATE INDEX exposure_events_victim ON breachctl.exposure_events (case_id, run, victim_user_id)
    WHERE victim_user_id IS NOT NULL;

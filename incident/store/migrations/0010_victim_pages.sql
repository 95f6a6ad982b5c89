-- One person's exposure page by page (disclose, breachctl serve's person
-- page), summed when the run is stored: a lookup reads a few rows instead
-- of scanning every exposure event of the run (36 ms for the demo's 215,000
-- events; the support desk's load check asks for thousands a second). An
-- index on exposure_events (case_id, run, victim_user_id) would do too, but
-- costs ingest about 1.4 µs an event (+0.3 s for the demo's run, some 3 s
-- for 2.25 M events); summing as the events are written costs a fraction.
--
-- A row sums a person's events of kind 'exposure' on one path under one
-- rule: views by level, the first and last, and the first event's
-- categories. runs.victim_pages says the run has them (runs stored before
-- are summed from their events on demand).
CREATE TABLE breachctl.victim_pages (
    case_id    text NOT NULL,
    run        integer NOT NULL,
    user_id    text NOT NULL,
    rule       text NOT NULL,
    path       text NOT NULL,
    confirmed  integer NOT NULL,
    possible   integer NOT NULL,
    first      timestamptz NOT NULL,
    last       timestamptz NOT NULL,
    categories text[] NOT NULL,
    PRIMARY KEY (case_id, run, user_id, rule, path),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);
ALTER TABLE breachctl.runs ADD COLUMN victim_pages boolean NOT NULL DEFAULT false;

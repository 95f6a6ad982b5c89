-- A run stopped by an interrupt (SIGINT, SIGTERM: a cancelled context) is
-- "interrupted", told apart from one that failed; neither is ever read as a
-- result.
ALTER TABLE breachctl.runs DROP CONSTRAINT runs_state_check;
ALTER TABLE breachctl.runs ADD CONSTRAINT runs_state_check
    CHECK (state IN ('running', 'done', 'failed', 'interrupted'));

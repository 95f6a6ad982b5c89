-- Exposure rules (issue 15): every event records the rule that produced it,
-- every affected row the rules that found the person. Rows written before
-- rules existed are cache runs: the defaults say so.
ALTER TABLE breachctl.exposure_events ADD COLUMN rule text NOT NULL DEFAULT 'cache';
ALTER TABLE breachctl.affected ADD COLUMN rules text[] NOT NULL DEFAULT '{cache}';

-- What triage shows beyond the counts (timeline, top viewers, breakdowns),
-- computed once by ingest.
ALTER TABLE breachctl.runs ADD COLUMN summary jsonb NOT NULL DEFAULT '{}';

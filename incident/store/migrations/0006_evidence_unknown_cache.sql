-- Cache results a file held that its format's vocabulary (and the case
-- file's cache_values) does not know: value -> lines. They are neither hits
-- nor fills, so triage shows them with the file (issue 14).
ALTER TABLE breachctl.evidence ADD COLUMN unknown_cache jsonb NOT NULL DEFAULT '{}';

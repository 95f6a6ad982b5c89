package correlate

// The cache lineage as SQL (issue 18, under way): the same candidates as
// merged.lineage (rule_cache.go) computed by PostgreSQL, or by Citus on its
// workers when the records table is distributed by the lineage key, so that
// the correlation can run where the records are when one machine is not
// enough. Not wired into ingest yet: the SQL is tested equal to the Go
// lineage (sqllineage_test.go) on a single server and on a real cluster.

// RecordsTableSQL creates the records table: the cache rule's FILL and
// CACHED responses of private routes, one row each. key is the lineage
// key (pop + cache key, interned); t is Unix ns; coarse marks a timestamp
// that stands for its whole second; ident is the requester's identity (0:
// anonymous); ev numbers the response.
const RecordsTableSQL = `CREATE TABLE %s (
	key    bigint  NOT NULL,
	ev     bigint  NOT NULL,
	t      bigint  NOT NULL,
	coarse boolean NOT NULL,
	file   integer NOT NULL,
	line   bigint  NOT NULL,
	ident  bigint  NOT NULL,
	status integer NOT NULL,
	route  integer NOT NULL,
	fill   boolean NOT NULL
)`

// CandidatesSQL gives, for every CACHED response that may have shown
// someone else's page, its candidate objects — DESIGN.md's one-second rule
// as merged.lineage reads it: the object of the last FILL before the
// response's tick and of every FILL in that FILL's own tick before the
// response's, plus the objects of every FILL within the response's tick;
// -1 (unknownObj) when no FILL precedes it; 0 a page with no personal data.
// An object is the FILL's requester when the FILL is inside the window
// [$1, $2) (Unix ns) with a status in $3, by an identified requester.
// Every join is on key, the distribution column: on Citus each shard's
// responses are placed among its own FILLs on its worker.
const CandidatesSQL = `
WITH f AS NOT MATERIALIZED (
	SELECT key, t, file, line,
		CASE WHEN coarse THEN t - mod(mod(t, 1000000000) + 1000000000, 1000000000) ELSE t END AS tick_from,
		CASE WHEN ident <> 0 AND t >= $1 AND t < $2 AND status = ANY($3::int[]) THEN ident ELSE 0 END AS obj
	FROM %[1]s WHERE fill
), c AS NOT MATERIALIZED (
	SELECT key, ev, ident,
		CASE WHEN coarse THEN t - mod(mod(t, 1000000000) + 1000000000, 1000000000) ELSE t END AS tick_from,
		CASE WHEN coarse THEN t - mod(mod(t, 1000000000) + 1000000000, 1000000000) + 1000000000 ELSE t + 1 END AS tick_to
	FROM %[1]s WHERE NOT fill
), cand AS (
	SELECT c.key, c.ev, c.ident,
		CASE WHEN l.t IS NULL THEN ARRAY[-1]::bigint[] ELSE '{}'::bigint[] END ||
		coalesce((SELECT array_agg(DISTINCT f.obj) FROM f
			WHERE f.key = c.key AND ((l.t IS NOT NULL AND f.t >= l.tick_from AND f.t < c.tick_from) OR (f.t >= c.tick_from AND f.t < c.tick_to))),
			'{}'::bigint[]) AS cands
	FROM c LEFT JOIN LATERAL (
		SELECT f.t, f.tick_from FROM f WHERE f.key = c.key AND f.t < c.tick_from
		ORDER BY f.t DESC, f.file DESC, f.line DESC LIMIT 1) l ON true
)
SELECT key, ev, cands FROM cand
WHERE EXISTS (SELECT 1 FROM unnest(cands) x WHERE x = -1 OR (x <> 0 AND x <> ident))`

// StoredSQL gives every person's page stored in the cache: the object and
// route of each FILL that stored one (same window and statuses as
// CandidatesSQL).
const StoredSQL = `
SELECT DISTINCT ident AS obj, route FROM %s
WHERE fill AND ident <> 0 AND t >= $1 AND t < $2 AND status = ANY($3::int[])`

package correlate

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

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

// RecordsIndexSQL indexes the FILLs by key and time, after the COPY.
const RecordsIndexSQL = `CREATE INDEX ON %s (key, t, file, line) WHERE fill`

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

// Engines: where the cache lineage is computed.
const (
	EngineStreaming = "streaming" // in this process (the default)
	EnginePostgres  = "postgres"  // as SQL in the case database
	EngineCitus     = "citus"     // as SQL on the workers of a Citus cluster (the case database is its coordinator)
)

// Engines lists them.
var Engines = []string{EngineStreaming, EnginePostgres, EngineCitus}

// SQLEngine computes the cache lineage as SQL in a database: the
// responses are COPYed into a table of their own (distributed by the
// lineage key on Citus), CandidatesSQL and StoredSQL run there, the table
// is dropped. Identities, levels, categories and viewers then follow in
// this process as with the streaming engine, so both give the same run.
type SQLEngine struct {
	DB    *sqlx.DB
	Citus bool
	// Table is the records table's name (schema-qualified), unique to the
	// run.
	Table string
}

// SetSQLEngine makes Run compute the lineage with e (nil: in process).
func (col *Collector) SetSQLEngine(e *SQLEngine) { col.sqlEngine = e }

func (e *SQLEngine) lineage(ctx context.Context, m *merged, r *rules) (ln *lineage, err error) {
	if _, err := e.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+e.Table); err != nil {
		return nil, fmt.Errorf("records table: %w", err)
	}
	if _, err := e.DB.ExecContext(ctx, fmt.Sprintf(RecordsTableSQL, e.Table)); err != nil {
		return nil, fmt.Errorf("records table: %w", err)
	}
	defer func() {
		if _, derr := e.DB.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+e.Table); derr != nil && err == nil {
			err = fmt.Errorf("drop the records table: %w", derr)
		}
	}()
	if e.Citus {
		if _, err := e.DB.ExecContext(ctx, `SELECT create_distributed_table($1, 'key')`, e.Table); err != nil {
			return nil, fmt.Errorf("distribute the records table by lineage key: %w", err)
		}
	}
	if err := e.copyEvents(ctx, m); err != nil {
		return nil, err
	}
	// Each response is placed among its key's FILLs by index lookups.
	if _, err := e.DB.ExecContext(ctx, fmt.Sprintf(RecordsIndexSQL, e.Table)); err != nil {
		return nil, fmt.Errorf("index the records: %w", err)
	}
	if _, err := e.DB.ExecContext(ctx, "ANALYZE "+e.Table); err != nil {
		return nil, fmt.Errorf("analyze the records: %w", err)
	}
	var cacheable []int64
	for s, ok := range r.cacheable {
		if ok {
			cacheable = append(cacheable, int64(s))
		}
	}
	args := []any{r.start, r.end, pq.Array(cacheable)}
	rows, err := e.DB.QueryContext(ctx, fmt.Sprintf(CandidatesSQL, e.Table)+" ORDER BY ev", args...)
	if err != nil {
		return nil, fmt.Errorf("cache lineage (SQL): %w", err)
	}
	defer rows.Close()
	ln = &lineage{}
	for rows.Next() {
		var key, ev int64
		var cs pq.Int64Array
		if err := rows.Scan(&key, &ev, &cs); err != nil {
			return nil, fmt.Errorf("cache lineage (SQL): %w", err)
		}
		ln.cached = append(ln.cached, cached{ev: int32(ev), off: uint32(len(ln.cands)), n: uint32(len(cs))})
		for _, o := range cs {
			if o < 0 {
				ln.cands = append(ln.cands, unknownObj)
			} else {
				ln.cands = append(ln.cands, uint32(o))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cache lineage (SQL): %w", err)
	}
	var stored []struct {
		Obj   int64 `db:"obj"`
		Route int   `db:"route"`
	}
	if err := sqlx.SelectContext(ctx, e.DB, &stored, fmt.Sprintf(StoredSQL, e.Table), args...); err != nil {
		return nil, fmt.Errorf("stored pages (SQL): %w", err)
	}
	n := m.idents.len()
	for _, s := range stored {
		ln.store(storedKey{uint32(s.Obj), uint16(s.Route)}, n)
	}
	return ln, nil
}

// copyEvents COPYs every response (its index in m.events as ev).
func (e *SQLEngine) copyEvents(ctx context.Context, m *merged) error {
	tx, err := e.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	schema, name, _ := strings.Cut(e.Table, ".")
	if name == "" {
		schema, name = "", schema
	}
	var copyIn string
	if schema != "" {
		copyIn = pq.CopyInSchema(schema, name, "key", "ev", "t", "coarse", "file", "line", "ident", "status", "route", "fill")
	} else {
		copyIn = pq.CopyIn(name, "key", "ev", "t", "coarse", "file", "line", "ident", "status", "route", "fill")
	}
	stmt, err := tx.PrepareContext(ctx, copyIn)
	if err != nil {
		return fmt.Errorf("copy the records: %w", err)
	}
	for i := range m.events {
		ev := &m.events[i]
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := stmt.ExecContext(ctx, int64(ev.key), int64(i), ev.t, ev.coarse, int64(ev.file), ev.line, int64(ev.ident),
			int64(ev.status), int64(ev.route), ev.fill); err != nil {
			return fmt.Errorf("copy the records: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy the records: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

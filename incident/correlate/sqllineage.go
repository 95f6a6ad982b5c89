package correlate

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The cache lineage as SQL (issue 18): the same candidates as
// merged.lineage (rule_cache.go), computed by PostgreSQL, or by Citus on
// its workers when the records table is distributed by the lineage key, so
// that the correlation runs where the records are when one machine is not
// enough. The records are the cache rule's FILL and CACHED responses with
// their strings as bytes (not this process's interned numbers), so that
// several machines can load their share of the logs into one table
// (breachctl load) and the correlation read it whole. Only the responses
// that may have shown someone else's page come back to this process, with
// their candidates; identities, levels, categories on file and viewers
// then follow here as with the streaming engine (they need the user
// records, which stay in the users' database).

// RecordsTableSQL creates a records table. load numbers the load (0 for a
// plain ingest); key is the lineage key (pop + cache key, each part
// length-prefixed: appendKeyPart); t is Unix ns; coarse marks a timestamp
// that stands for its whole second; file numbers the file within its load
// (0-based); ident is the requester's identity (empty: anonymous); ip the
// client address of an anonymous requester (empty otherwise).
const RecordsTableSQL = `CREATE TABLE IF NOT EXISTS %s (
	load   integer NOT NULL,
	key    bytea   NOT NULL,
	t      bigint  NOT NULL,
	coarse boolean NOT NULL,
	file   integer NOT NULL,
	line   bigint  NOT NULL,
	ident  bytea   NOT NULL,
	ip     bytea   NOT NULL,
	status integer NOT NULL,
	route  integer NOT NULL,
	fill   boolean NOT NULL
)`

// HitsTableSQL creates the table of the other rules' requests (object,
// owner and actor rules: rule.go's hit, with its strings), for a load.
const HitsTableSQL = `CREATE TABLE IF NOT EXISTS %s (
	load   integer NOT NULL,
	part   integer NOT NULL,
	t      bigint  NOT NULL,
	file   integer NOT NULL,
	line   bigint  NOT NULL,
	ident  bytea   NOT NULL,
	ip     bytea   NOT NULL,
	ref    bytea   NOT NULL,
	key    bytea   NOT NULL,
	status integer NOT NULL,
	route  integer NOT NULL,
	flags  integer NOT NULL
)`

// RecordsIndexSQL indexes the FILLs by key and time (its name is the
// table's plus _fills).
const RecordsIndexSQL = `CREATE INDEX IF NOT EXISTS %s_fills ON %s (key, t, load, file, line) WHERE fill`

// CandidatesSQL gives, for every CACHED response of the loads $4 that may
// have shown someone else's page, the response and its candidate objects —
// DESIGN.md's one-second rule as merged.lineage reads it: the object of the
// last FILL before the response's tick and of every FILL in that FILL's own
// tick before the response's, plus the objects of every FILL within the
// response's tick; unknown when no FILL precedes it; an empty object is a
// page with no personal data. An object is the FILL's requester when the
// FILL is inside the window [$1, $2) (Unix ns) with a status in $3, by an
// identified requester. Every join is on key, the distribution column: on
// Citus each shard's responses are placed among its own FILLs on its worker.
// Each response costs two or three index lookups (about 7 µs on one core):
// the two ranges are separate scans (one scan with OR between them could
// not use the index as a range, and cost twice as much), and the objects
// are aggregated once (in a lateral join, not in both the output and the
// filter).
const CandidatesSQL = `
WITH f AS NOT MATERIALIZED (
	SELECT key, t, load, file, line,
		CASE WHEN coarse THEN t - mod(mod(t, 1000000000) + 1000000000, 1000000000) ELSE t END AS tick_from,
		CASE WHEN ident <> '' AND t >= $1 AND t < $2 AND status = ANY($3::int[]) THEN ident ELSE ''::bytea END AS obj
	FROM %[1]s WHERE fill AND load = ANY($4::int[])
), c AS NOT MATERIALIZED (
	SELECT key, t, coarse, load, file, line, ident, ip, status, route,
		CASE WHEN coarse THEN t - mod(mod(t, 1000000000) + 1000000000, 1000000000) ELSE t END AS tick_from,
		CASE WHEN coarse THEN t - mod(mod(t, 1000000000) + 1000000000, 1000000000) + 1000000000 ELSE t + 1 END AS tick_to
	FROM %[1]s WHERE NOT fill AND load = ANY($4::int[])
)
SELECT c.key, c.t, c.coarse, c.load, c.file, c.line, c.ident, c.ip, c.status, c.route, l.t IS NULL AS unknown, o.objs
FROM c LEFT JOIN LATERAL (
		SELECT f.t, f.tick_from FROM f WHERE f.key = c.key AND f.t < c.tick_from
		ORDER BY f.t DESC, f.load DESC, f.file DESC, f.line DESC LIMIT 1) l ON true
	CROSS JOIN LATERAL (SELECT coalesce(array_agg(DISTINCT obj), '{}'::bytea[]) AS objs FROM (
		SELECT f.obj FROM f WHERE l.t IS NOT NULL AND f.key = c.key AND f.t >= l.tick_from AND f.t < c.tick_from
		UNION ALL
		SELECT f.obj FROM f WHERE f.key = c.key AND f.t >= c.tick_from AND f.t < c.tick_to) u) o
WHERE l.t IS NULL OR EXISTS (SELECT 1 FROM unnest(o.objs) x WHERE x <> '' AND x <> c.ident)`

// StoredSQL gives every person's page stored in the cache by the loads $4:
// the object and route of each FILL that stored one (same window and
// statuses as CandidatesSQL).
const StoredSQL = `
SELECT DISTINCT ident AS obj, route FROM %s
WHERE fill AND ident <> '' AND t >= $1 AND t < $2 AND status = ANY($3::int[]) AND load = ANY($4::int[])`

// Engines: where the cache lineage is computed.
const (
	EngineStreaming = "streaming" // in this process (the default)
	EnginePostgres  = "postgres"  // as SQL in the case database
	EngineCitus     = "citus"     // as SQL on the workers of a Citus cluster (the case database is its coordinator)
)

// Engines lists them.
var Engines = []string{EngineStreaming, EnginePostgres, EngineCitus}

// SQLEngine computes the cache lineage as SQL in a database. A plain
// ingest uploads its responses into a table of its own (Temporary, load 0)
// and reads the lineage back; breachctl load uploads one machine's share
// into the case's table (Load, with the other rules' requests in
// HitsTable); ingest --loaded reads the lineage of every load (Loads).
type SQLEngine struct {
	DB    *sqlx.DB
	Citus bool
	// Table is the records table's name (schema-qualified); HitsTable the
	// other rules' requests' (breachctl load only).
	Table, HitsTable string
	// Temporary: the table is the run's own, dropped after the lineage.
	Temporary bool
	// Load is the number the uploaded records get.
	Load int
	// Loads are the loads the lineage reads; nil: Load alone.
	Loads []LoadRef
}

// LoadRef is one load the lineage reads: its files' evidence numbers (0-based,
// by the load's own file number) and its private responses the lineage
// does not use.
type LoadRef struct {
	ID             int
	Files          []int32
	Origin, Unknwn int64
	// Records and Hits are what the load sent: the tables must hold as
	// many of its rows (a load cut short is refused, never half read).
	Records, Hits int64
}

// UploadStats is what Upload sent.
type UploadStats struct {
	Records, Hits   int64
	Origin, Unknown int64 // route-matched responses the lineage does not use
}

// SetSQLEngine makes Run compute the lineage with e (nil: in process).
func (col *Collector) SetSQLEngine(e *SQLEngine) { col.sqlEngine = e }

// Create makes the engine's tables when they do not exist (distributed by
// the lineage key on Citus); a temporary table is made anew.
func (e *SQLEngine) Create(ctx context.Context) error {
	tx, err := e.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Two machines may begin loading at once: one creates, the other waits.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "breachctl "+e.Table); err != nil {
		return fmt.Errorf("records table: %w", err)
	}
	if e.Temporary {
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+e.Table); err != nil {
			return fmt.Errorf("records table: %w", err)
		}
	}
	tables := []struct{ name, ddl, col string }{{e.Table, RecordsTableSQL, "key"}}
	if e.HitsTable != "" {
		// On Citus the requests are spread by what they name (the victim
		// or the object): each worker holds whole victims.
		tables = append(tables, struct{ name, ddl, col string }{e.HitsTable, HitsTableSQL, "ref"})
	}
	for _, t := range tables {
		var exists bool
		if err := tx.GetContext(ctx, &exists, `SELECT to_regclass($1) IS NOT NULL`, t.name); err != nil {
			return fmt.Errorf("records table %s: %w", t.name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(t.ddl, t.name)); err != nil {
			return fmt.Errorf("records table %s: %w", t.name, err)
		}
		if e.Citus && t.col != "" && !exists {
			if _, err := tx.ExecContext(ctx, `SELECT create_distributed_table($1, $2)`, t.name, t.col); err != nil {
				return fmt.Errorf("distribute %s by %s: %w", t.name, t.col, err)
			}
		}
	}
	return tx.Commit()
}

// Drop removes the records of load (the whole tables when temporary).
func (e *SQLEngine) Drop(ctx context.Context, load int) error {
	if e.Temporary {
		for _, t := range []string{e.Table, e.HitsTable} {
			if t == "" {
				continue
			}
			if _, err := e.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return fmt.Errorf("drop %s: %w", t, err)
			}
		}
		return nil
	}
	for _, t := range []string{e.Table, e.HitsTable} {
		if t == "" {
			continue
		}
		var exists bool
		if err := e.DB.GetContext(ctx, &exists, `SELECT to_regclass($1) IS NOT NULL`, t); err != nil {
			return err
		}
		if !exists {
			continue
		}
		if _, err := e.DB.ExecContext(ctx, "DELETE FROM "+t+" WHERE load = $1", load); err != nil {
			return fmt.Errorf("remove load %d from %s: %w", load, t, err)
		}
	}
	return nil
}

// Upload COPYs every gathered response into the records table as load
// e.Load (each parsing worker's on its own connection), and the other
// rules' requests into HitsTable when it is set. The gathered responses
// are freed: Run then reads the lineage back from the table.
func (col *Collector) Upload(ctx context.Context, e *SQLEngine) (UploadStats, error) {
	var st UploadStats
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(col.sinks)+1)
	for w, s := range col.sinks {
		st.Origin += s.origin
		st.Unknown += s.unknown
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := copyRows(ctx, e.DB, e.Table, []string{"load", "key", "t", "coarse", "file", "line", "ident", "ip", "status", "route", "fill"},
				func(emit func(...any) error) error {
					for _, blk := range s.events {
						for i := range blk {
							ev := &blk[i]
							if err := emit(e.Load, s.keys.bytes(ev.key), ev.t, ev.coarse, ev.file, ev.line,
								nonNil(col.idents.bytes(ev.ident)), nonNil(s.ips.bytes(ev.ip)), int(ev.status), int(ev.route), ev.fill); err != nil {
								return err
							}
						}
					}
					return nil
				})
			mu.Lock()
			st.Records += n
			mu.Unlock()
			if err != nil {
				err = fmt.Errorf("copy the records to %s: %w", e.Table, err)
			}
			errs[w] = err
		}()
	}
	if e.HitsTable != "" && len(col.hitSinks) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := copyRows(ctx, e.DB, e.HitsTable, []string{"load", "part", "t", "file", "line", "ident", "ip", "ref", "key", "status", "route", "flags"},
				func(emit func(...any) error) error {
					for _, hs := range col.hitSinks {
						for _, blk := range hs.hits {
							for i := range blk {
								h := &blk[i]
								if err := emit(e.Load, int(h.part), h.t, h.file, h.line, nonNil(col.idents.bytes(h.ident)),
									nonNil(col.hits.ips.bytes(h.ip)), nonNil(col.refTable(h).bytes(h.ref)), nonNil(col.hits.keys.bytes(h.key)),
									int(h.status), int(h.route), int(h.flags)); err != nil {
									return err
								}
							}
						}
					}
					return nil
				})
			st.Hits = n
			if err != nil {
				err = fmt.Errorf("copy the other rules' requests to %s: %w", e.HitsTable, err)
			}
			errs[len(col.sinks)] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return st, err
		}
	}
	for _, s := range col.sinks {
		s.events = nil
	}
	return st, nil
}

// refTable is the table h.ref is an id of: an object rule's objects, or
// the user ids requests name.
func (col *Collector) refTable(h *hit) *sharedInterner {
	if h.flags&flagObject != 0 {
		if op, ok := col.parts[h.part].(*objectPart); ok {
			return op.objs
		}
	}
	return col.hits.refs
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// copyRows COPYs the rows rows emits into table in one transaction.
func copyRows(ctx context.Context, db *sqlx.DB, table string, cols []string, rows func(emit func(...any) error) error) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	schema, name, _ := strings.Cut(table, ".")
	var copyIn string
	if name == "" {
		copyIn = pq.CopyIn(schema, cols...)
	} else {
		copyIn = pq.CopyInSchema(schema, name, cols...)
	}
	stmt, err := tx.PrepareContext(ctx, copyIn)
	if err != nil {
		return 0, err
	}
	var n int64
	err = rows(func(v ...any) error {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		_, err := stmt.ExecContext(ctx, v...)
		return err
	})
	if err != nil {
		return 0, err
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return 0, err
	}
	if err := stmt.Close(); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// loads is the loads the lineage reads.
func (e *SQLEngine) loads() []LoadRef {
	if e.Loads != nil {
		return e.Loads
	}
	return []LoadRef{{ID: e.Load}}
}

func (e *SQLEngine) loadIDs() pq.Int64Array {
	var ids pq.Int64Array
	for _, l := range e.loads() {
		ids = append(ids, int64(l.ID))
	}
	return ids
}

// VerifyLoads checks that the tables hold every row each of e.Loads sent:
// a load cut short (or a drop cut short) is refused, never half read.
func (e *SQLEngine) VerifyLoads(ctx context.Context) error {
	if err := e.verify(ctx, e.Table, "responses", func(l *LoadRef) int64 { return l.Records }); err != nil {
		return err
	}
	return e.verify(ctx, e.HitsTable, "requests of the other rules", func(l *LoadRef) int64 { return l.Hits })
}

func (e *SQLEngine) verify(ctx context.Context, table, what string, sent func(*LoadRef) int64) error {
	if table == "" || e.Loads == nil {
		return nil
	}
	counts, err := e.countRows(ctx, table)
	if err != nil {
		return fmt.Errorf("count the loads' %s: %w", what, err)
	}
	for i := range e.Loads {
		l := &e.Loads[i]
		if counts[l.ID] != sent(l) {
			return loadShort(l.ID, what, sent(l), counts[l.ID])
		}
	}
	return nil
}

func loadShort(load int, what string, sent, held int64) error {
	return fmt.Errorf("load %d sent %d %s but the case database holds %d of them: drop it (breachctl load -f CASE --drop %d) and load again", load, sent, what, held, load)
}

// countRows counts table's rows of each load the lineage reads.
func (e *SQLEngine) countRows(ctx context.Context, table string) (map[int]int64, error) {
	var rows []struct {
		Load int   `db:"load"`
		N    int64 `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, e.DB, &rows, `SELECT load, count(*) AS n FROM `+table+` WHERE load = ANY($1::int[]) GROUP BY load`, e.loadIDs()); err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, r := range rows {
		out[r.Load] = r.N
	}
	return out, nil
}

// DownloadHits reads the other rules' requests of e.Loads back into col
// (ingest --loaded), as if this process had parsed them.
func (col *Collector) DownloadHits(ctx context.Context, e *SQLEngine) error {
	if len(col.parts) == 0 || e.HitsTable == "" {
		return nil
	}
	files := map[int][]int32{}
	for _, l := range e.loads() {
		files[l.ID] = l.Files
	}
	if err := e.verify(ctx, e.HitsTable, "requests of the other rules", func(l *LoadRef) int64 { return l.Hits }); err != nil {
		return err
	}
	rows, err := e.DB.QueryContext(ctx, `SELECT load, part, t, file, line, ident, ip, ref, key, status, route, flags FROM `+e.HitsTable+
		` WHERE load = ANY($1::int[])`, e.loadIDs())
	if err != nil {
		return fmt.Errorf("the other rules' requests: %w", err)
	}
	defer rows.Close()
	hs := &hitSink{col: col}
	col.hitSinks = append(col.hitSinks, hs)
	var ident, ip, ref, key []byte
	for rows.Next() {
		var load, part, file, status, route, flags int
		var h hit
		if err := rows.Scan(&load, &part, &h.t, &file, &h.line, &ident, &ip, &ref, &key, &status, &route, &flags); err != nil {
			return fmt.Errorf("the other rules' requests: %w", err)
		}
		fs := files[load]
		if part < 0 || part >= len(col.parts) || file < 0 || file >= len(fs) {
			return fmt.Errorf("the other rules' requests: load %d has a request of rule part %d, file %d that this case file does not have: load again", load, part, file)
		}
		h.part, h.file, h.status, h.route, h.flags = uint8(part), fs[file], uint16(status), uint16(route), uint8(flags)
		h.ident, h.ip, h.ref, h.key = col.idents.id(ident), col.hits.ips.id(ip), col.refTable(&h).id(ref), col.hits.keys.id(key)
		if n := len(hs.hits); n == 0 || len(hs.hits[n-1]) == eventBlock {
			hs.hits = append(hs.hits, make([]hit, 0, eventBlock))
		}
		blk := &hs.hits[len(hs.hits)-1]
		*blk = append(*blk, h)
		hs.n++
	}
	return rows.Err()
}

// lineage reads the lineage from the records table: only the CACHED
// responses that may have shown someone else's page, with their candidate
// objects, and the stored pages. What it returns is a merged holding just
// those responses (their strings interned here) and their lineage.
func (e *SQLEngine) lineage(ctx context.Context, col *Collector, r *rules) (m *merged, ln *lineage, err error) {
	if e.Temporary {
		defer func() {
			if derr := e.Drop(context.WithoutCancel(ctx), e.Load); derr != nil && err == nil {
				err = fmt.Errorf("drop the records table: %w", derr)
			}
		}()
	}
	// Each response is placed among its key's FILLs by index lookups.
	name := e.Table[strings.LastIndexByte(e.Table, '.')+1:]
	if _, err := e.DB.ExecContext(ctx, fmt.Sprintf(RecordsIndexSQL, name, e.Table)); err != nil {
		return nil, nil, fmt.Errorf("index the records: %w", err)
	}
	if _, err := e.DB.ExecContext(ctx, "ANALYZE "+e.Table); err != nil {
		return nil, nil, fmt.Errorf("analyze the records: %w", err)
	}
	var cacheable pq.Int64Array
	for s, ok := range r.cacheable {
		if ok {
			cacheable = append(cacheable, int64(s))
		}
	}
	args := []any{r.start, r.end, cacheable, e.loadIDs()}
	m = &merged{idents: col.idents, keys: newInterner(), ips: newInterner()}
	files := map[int][]int32{}
	for _, l := range e.loads() {
		files[l.ID] = l.Files
		m.origin += l.Origin
		m.unknwn += l.Unknwn
	}
	for _, s := range col.sinks { // a plain ingest: its own responses
		m.origin += s.origin
		m.unknwn += s.unknown
	}
	col.sinks = nil
	counts, err := e.countRows(ctx, e.Table)
	if err != nil {
		return nil, nil, fmt.Errorf("count the records: %w", err)
	}
	for _, l := range e.loads() {
		if e.Loads != nil && counts[l.ID] != l.Records {
			return nil, nil, loadShort(l.ID, "responses", l.Records, counts[l.ID])
		}
		m.responses += counts[l.ID]
	}
	rows, err := e.DB.QueryContext(ctx, fmt.Sprintf(CandidatesSQL, e.Table)+" ORDER BY c.t, c.load, c.file, c.line", args...)
	if err != nil {
		return nil, nil, fmt.Errorf("cache lineage (SQL): %w", err)
	}
	defer rows.Close()
	ln = &lineage{}
	var key, ident, ip []byte
	var objs pq.ByteaArray
	for rows.Next() {
		var load, file, status, route int
		var unknown bool
		var ev event
		if err := rows.Scan(&key, &ev.t, &ev.coarse, &load, &file, &ev.line, &ident, &ip, &status, &route, &unknown, &objs); err != nil {
			return nil, nil, fmt.Errorf("cache lineage (SQL): %w", err)
		}
		fs, ok := files[load]
		if e.Loads == nil {
			ok = true // a plain ingest: file numbers are the run's
		} else if ok = file >= 0 && file < len(fs); ok {
			file = int(fs[file])
		}
		if !ok {
			return nil, nil, fmt.Errorf("cache lineage (SQL): load %d has a response in file %d it did not record: load again", load, file)
		}
		ev.file, ev.status, ev.route = int32(file), uint16(status), uint16(route)
		ev.key, ev.ident = m.keys.id(key), m.idents.id(ident)
		if ev.ident == 0 {
			ev.ip = m.ips.id(ip)
		}
		ln.cached = append(ln.cached, cached{ev: int32(len(m.events)), off: uint32(len(ln.cands))})
		m.events = append(m.events, ev)
		if unknown {
			ln.cands = append(ln.cands, unknownObj)
		}
		for _, o := range objs {
			ln.cands = append(ln.cands, m.idents.id(o))
		}
		ln.cached[len(ln.cached)-1].n = uint32(len(ln.cands)) - ln.cached[len(ln.cached)-1].off
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("cache lineage (SQL): %w", err)
	}
	var stored []struct {
		Obj   []byte `db:"obj"`
		Route int    `db:"route"`
	}
	if err := sqlx.SelectContext(ctx, e.DB, &stored, fmt.Sprintf(StoredSQL, e.Table), args...); err != nil {
		return nil, nil, fmt.Errorf("stored pages (SQL): %w", err)
	}
	ids := make([]uint32, len(stored))
	for i, s := range stored {
		ids[i] = m.idents.id(s.Obj)
	}
	n := m.idents.len()
	for i, s := range stored {
		ln.store(storedKey{ids[i], uint16(s.Route)}, n)
	}
	return m, ln, nil
}

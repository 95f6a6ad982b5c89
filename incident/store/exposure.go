package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/incident/logs"
)

// ExposureEvent is a row of breachctl.exposure_events.
type ExposureEvent struct {
	EventNo      int64          `db:"event_no"`
	Kind         string         `db:"kind"`
	At           time.Time      `db:"at"`
	Pop          string         `db:"pop"`
	CacheKey     string         `db:"cache_key"`
	Path         string         `db:"path"`
	Status       int            `db:"status"`
	Victim       sql.NullString `db:"victim_user_id"`
	Level        sql.NullString `db:"level"`
	Viewer       string         `db:"viewer"`
	Categories   pq.StringArray `db:"categories"`
	EvidenceFile sql.NullInt64  `db:"evidence_file"`
	EvidenceLine sql.NullInt64  `db:"evidence_line"`
	// Rule names the exposure rule that produced the event; "" is
	// written as "cache" (runs before rules were cache runs).
	Rule string `db:"rule"`
}

// AffectedAccount is a row of breachctl.affected.
type AffectedAccount struct {
	UserID         string          `db:"user_id"`
	Level          string          `db:"level"`
	Categories     pq.StringArray  `db:"categories"`
	CategoryLevels json.RawMessage `db:"category_levels"`
	Views          int             `db:"views"`
	Viewers        int             `db:"viewers"`
	FirstExposed   sql.NullTime    `db:"first_exposed"`
	LastExposed    sql.NullTime    `db:"last_exposed"`
	Locale         string          `db:"locale"`
	Country        string          `db:"country"`
	Region         string          `db:"region"`
	// Rules names the exposure rules that found the person, sorted; none
	// is written as {cache}.
	Rules pq.StringArray `db:"rules"`
}

// DefaultRule is the rule of an event or affected row written without one:
// a run before exposure rules existed was a cache run.
const DefaultRule = "cache"

func ruleText(r string) string {
	if r == "" {
		return DefaultRule
	}
	return text(r)
}

// rulesText renders a text[] literal of rule names, quoting each (a rule
// name is the user's own text).
func rulesText(rs pq.StringArray) string {
	if len(rs) == 0 {
		return "{" + DefaultRule + "}"
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, c := range text(r) {
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// SaveExposure writes a run's exposure events and affected accounts with
// COPY. Events are streamed: event(i, row) fills row for i in [0, n) (it is
// called from two goroutines at once for large runs), so millions of events
// are never held twice. Rows go straight to the driver's COPY statement as
// text, several times faster than database/sql's per-row path, and a large
// run is written over two connections so the server uses both cores. Either
// every row is stored, or the run's rows are deleted and the error returned.
func (s *Store) SaveExposure(ctx context.Context, caseID string, run int, n int, event func(i int, row *ExposureEvent), affected []AffectedAccount) error {
	parts := 1
	if n >= 200_000 {
		parts = 2
	}
	errs := make(chan error, parts)
	sums := make([]pageSums, parts)
	for p := 0; p < parts; p++ {
		lo, hi := n*p/parts, n*(p+1)/parts
		var aff []AffectedAccount
		if p == 0 {
			aff = affected
		}
		sums[p] = pageSums{}
		go func() { errs <- s.copyExposure(ctx, caseID, run, lo, hi, event, aff, sums[p]) }()
	}
	var first error
	for p := 0; p < parts; p++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first == nil {
		for _, m := range sums[1:] {
			sums[0].merge(m)
		}
		first = s.savePages(ctx, caseID, run, sums[0])
	}
	if first != nil {
		// A stream may have committed: remove its rows.
		dctx := context.WithoutCancel(ctx)
		_, _ = s.DB.ExecContext(dctx, `DELETE FROM breachctl.exposure_events WHERE case_id = $1 AND run = $2`, caseID, run)
		_, _ = s.DB.ExecContext(dctx, `DELETE FROM breachctl.affected WHERE case_id = $1 AND run = $2`, caseID, run)
	}
	return first
}

// pageSum sums a person's exposure events on one page under one rule
// (rule, path and categories as stored: text()).
type pageSum struct {
	rule, path          string
	confirmed, possible int
	first, last         time.Time
	firstNo             int64
	categories          string // the first event's, as a text[] literal
}

// pageSums is VictimPages' table, summed while the events are written: by
// person (one short key to hash per event), then their few pages.
type pageSums map[string][]pageSum

func (m pageSums) add(user, rule, path string, at time.Time, no int64, confirmed bool, categories string) {
	ps := m[user]
	i := 0
	for i < len(ps) && (ps[i].path != path || ps[i].rule != rule) {
		i++
	}
	if i == len(ps) {
		m[user] = append(ps, pageSum{rule: rule, path: path, first: at, last: at, firstNo: no, categories: categories})
		ps = m[user]
	} else {
		p := &ps[i]
		if at.Before(p.first) || at.Equal(p.first) && no < p.firstNo {
			p.first, p.firstNo, p.categories = at, no, categories
		}
		if at.After(p.last) {
			p.last = at
		}
	}
	if confirmed {
		ps[i].confirmed++
	} else {
		ps[i].possible++
	}
}

func (m pageSums) merge(o pageSums) {
	for user, qs := range o {
		for _, q := range qs {
			ps := m[user]
			i := 0
			for i < len(ps) && (ps[i].path != q.path || ps[i].rule != q.rule) {
				i++
			}
			if i == len(ps) {
				m[user] = append(ps, q)
				continue
			}
			p := &ps[i]
			if q.first.Before(p.first) || q.first.Equal(p.first) && q.firstNo < p.firstNo {
				p.first, p.firstNo, p.categories = q.first, q.firstNo, q.categories
			}
			if q.last.After(p.last) {
				p.last = q.last
			}
			p.confirmed += q.confirmed
			p.possible += q.possible
		}
	}
}

// savePages writes the run's page sums and marks the run as having them.
func (s *Store) savePages(ctx context.Context, caseID string, run int, sums pageSums) error {
	type row struct {
		user string
		p    *pageSum
	}
	var rows []row
	for user, ps := range sums {
		for i := range ps {
			rows = append(rows, row{user, &ps[i]})
		}
	}
	return s.rawTx(ctx, func(exec driver.ExecerContext, prep driver.ConnPrepareContext) error {
		runS := strconv.Itoa(run)
		err := copyRows(ctx, prep, `COPY breachctl.victim_pages (case_id, run, user_id, rule, path, confirmed, possible, first, last, categories) FROM STDIN`,
			len(rows), func(i int, vals []driver.Value) {
				p := rows[i].p
				vals[0], vals[1], vals[2], vals[3], vals[4] = caseID, runS, rows[i].user, p.rule, p.path
				vals[5], vals[6] = int64(p.confirmed), int64(p.possible)
				vals[7] = p.first.UTC().Format("2006-01-02 15:04:05.999999999Z07:00")
				vals[8] = p.last.UTC().Format("2006-01-02 15:04:05.999999999Z07:00")
				vals[9] = p.categories
			}, 10)
		if err != nil {
			return fmt.Errorf("store the people's pages: %w", err)
		}
		if _, err := exec.ExecContext(ctx, `UPDATE breachctl.runs SET victim_pages = true WHERE case_id = $1 AND run = $2`,
			[]driver.NamedValue{{Ordinal: 1, Value: caseID}, {Ordinal: 2, Value: int64(run)}}); err != nil {
			return fmt.Errorf("store the people's pages: %w", err)
		}
		return nil
	})
}

// rawTx runs fn in one transaction on one connection, with the driver's
// own connection (COPY goes through it): committed when fn returns nil,
// rolled back otherwise.
func (s *Store) rawTx(ctx context.Context, fn func(exec driver.ExecerContext, prep driver.ConnPrepareContext) error) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		exec, ok1 := dc.(driver.ExecerContext)
		prep, ok2 := dc.(driver.ConnPrepareContext)
		if !ok1 || !ok2 {
			return fmt.Errorf("store exposure: the PostgreSQL driver lacks ExecContext/PrepareContext")
		}
		if _, err := exec.ExecContext(ctx, "BEGIN", nil); err != nil {
			return err
		}
		if err := fn(exec, prep); err != nil {
			_, _ = exec.ExecContext(context.WithoutCancel(ctx), "ROLLBACK", nil)
			return err
		}
		if _, err := exec.ExecContext(ctx, "COMMIT", nil); err != nil {
			_, _ = exec.ExecContext(context.WithoutCancel(ctx), "ROLLBACK", nil)
			return err
		}
		return nil
	})
}

// copyExposure writes events [lo, hi) and the given affected accounts in one
// transaction on one connection.
func (s *Store) copyExposure(ctx context.Context, caseID string, run, lo, hi int, event func(i int, row *ExposureEvent), affected []AffectedAccount, sums pageSums) error {
	return s.rawTx(ctx, func(exec driver.ExecerContext, prep driver.ConnPrepareContext) error {
		runS := strconv.Itoa(run)
		err := copyRows(ctx, prep, `COPY breachctl.exposure_events (case_id, run, event_no, kind, at, pop, cache_key, path,
			status, victim_user_id, level, viewer, categories, evidence_file, evidence_line, rule) FROM STDIN`, hi-lo, func(i int, vals []driver.Value) {
			var row ExposureEvent
			event(lo+i, &row)
			vals[0], vals[1], vals[2], vals[3] = caseID, runS, row.EventNo, row.Kind
			vals[4] = row.At.UTC().Format("2006-01-02 15:04:05.999999999Z07:00")
			vals[5], vals[6], vals[7], vals[8] = text(row.Pop), text(row.CacheKey), text(row.Path), int64(row.Status)
			vals[9], vals[10], vals[11] = nullable(row.Victim), nullable(row.Level), text(row.Viewer)
			vals[12] = arrayText(row.Categories)
			vals[13], vals[14] = nullInt(row.EvidenceFile), nullInt(row.EvidenceLine)
			vals[15] = ruleText(row.Rule)
			if row.Kind == "exposure" && row.Victim.Valid {
				sums.add(vals[9].(string), vals[15].(string), vals[7].(string), row.At, row.EventNo,
					row.Level.String == "confirmed", vals[12].(string))
			}
		}, 16)
		if err != nil {
			return fmt.Errorf("store exposure events: %w", err)
		}
		if len(affected) > 0 {
			err = copyRows(ctx, prep, `COPY breachctl.affected (case_id, run, user_id, level, categories, category_levels,
				views, viewers, first_exposed, last_exposed, locale, country, region, rules) FROM STDIN`, len(affected), func(i int, vals []driver.Value) {
				a := &affected[i]
				vals[0], vals[1], vals[2], vals[3] = caseID, runS, text(a.UserID), a.Level
				vals[4], vals[5] = arrayText(a.Categories), string(a.CategoryLevels)
				vals[6], vals[7] = int64(a.Views), int64(a.Viewers)
				vals[8], vals[9] = nullTimeText(a.FirstExposed), nullTimeText(a.LastExposed)
				vals[10], vals[11], vals[12] = text(a.Locale), text(a.Country), text(a.Region)
				vals[13] = rulesText(a.Rules)
			}, 14)
			if err != nil {
				return fmt.Errorf("store affected accounts: %w", err)
			}
		}
		return nil
	})
}

// copyRows runs one COPY ... FROM STDIN with n rows filled by fill.
func copyRows(ctx context.Context, prep driver.ConnPrepareContext, query string, n int, fill func(i int, vals []driver.Value), cols int) error {
	stmt, err := prep.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	vals := make([]driver.Value, cols)
	for i := 0; i < n; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		fill(i, vals)
		if _, err := stmt.Exec(vals); err != nil { //nolint:staticcheck // the COPY statement only implements Exec
			return err
		}
	}
	_, err = stmt.Exec(nil) //nolint:staticcheck // an empty Exec ends the COPY
	return err
}

func nullable(v sql.NullString) driver.Value {
	if !v.Valid {
		return nil
	}
	return text(v.String)
}

// text is the last guard before PostgreSQL, whose text type takes neither
// invalid UTF-8 nor NUL: a value that reached here with either (the engine
// shows logged bytes as logs.Text already) is escaped the same way rather
// than failing the whole run. Text that is already clean is returned as it
// is, without allocating.
func text(s string) string { return logs.TextString(s) }

func nullInt(v sql.NullInt64) driver.Value {
	if !v.Valid {
		return nil
	}
	return v.Int64
}

func nullTimeText(v sql.NullTime) driver.Value {
	if !v.Valid {
		return nil
	}
	return v.Time.UTC().Format("2006-01-02 15:04:05.999999999Z07:00")
}

// arrayText renders a text[] literal; category names need no quoting.
func arrayText(a pq.StringArray) string {
	if len(a) == 0 {
		return "{}"
	}
	return "{" + strings.Join(a, ",") + "}"
}

const affectedColumns = `user_id, level, categories, category_levels, views, viewers, first_exposed, last_exposed, locale, country, region, rules`

// ListAffected returns a run's affected accounts ordered by user id.
func (s *Store) ListAffected(ctx context.Context, caseID string, run int) ([]AffectedAccount, error) {
	var out []AffectedAccount
	err := s.DB.SelectContext(ctx, &out, `SELECT `+affectedColumns+` FROM breachctl.affected
		WHERE case_id = $1 AND run = $2 ORDER BY length(user_id), user_id`, caseID, run)
	if err != nil {
		return nil, fmt.Errorf("affected accounts of run %d: %w", run, err)
	}
	return out, nil
}

// GetAffected returns one person's row, or ErrNotFound when they are not affected.
func (s *Store) GetAffected(ctx context.Context, caseID string, run int, userID string) (*AffectedAccount, error) {
	var a AffectedAccount
	stmt, err := s.prepared(ctx, getAffectedSQL)
	if err != nil {
		return nil, fmt.Errorf("user %s in run %d: %w", userID, run, err)
	}
	err = stmt.GetContext(ctx, &a, caseID, run, userID)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("user %s in run %d: %w", userID, run, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

const eventColumns = `event_no, kind, at, pop, cache_key, path, status, victim_user_id, level, viewer, categories, evidence_file, evidence_line, rule`

// VictimEvents returns the events of one person, in time order.
func (s *Store) VictimEvents(ctx context.Context, caseID string, run int, userID string) ([]ExposureEvent, error) {
	var out []ExposureEvent
	stmt, err := s.prepared(ctx, victimEventsSQL)
	if err != nil {
		return nil, err
	}
	err = stmt.SelectContext(ctx, &out, caseID, run, userID)
	return out, err
}

// VictimPage sums up one person's exposure events on one page under one
// rule: views by level, the first and last, and the categories of the
// first event.
type VictimPage struct {
	Rule       string         `db:"rule"`
	Path       string         `db:"path"`
	Confirmed  int            `db:"confirmed"`
	Possible   int            `db:"possible"`
	First      time.Time      `db:"first"`
	Last       time.Time      `db:"last"`
	Categories pq.StringArray `db:"categories"`
}

// VictimPages sums up one person's exposure events (kind exposure) by rule
// and page, in the database: a person viewed a thousand times is a few
// rows, not a thousand.
func (s *Store) VictimPages(ctx context.Context, caseID string, run int, userID string) ([]VictimPage, error) {
	stmt, err := s.prepared(ctx, storedPagesSQL)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Stored bool `db:"stored"`
		VictimPage
		Rule sql.NullString `db:"rule"`
	}
	if err := stmt.SelectContext(ctx, &rows, caseID, run, userID); err != nil {
		return nil, fmt.Errorf("pages of user %s in run %d: %w", userID, run, err)
	}
	out := []VictimPage{}
	if len(rows) > 0 && !rows[0].Stored {
		// Stored before the sums were: summed from the run's events (a
		// separate statement, so the common case never plans a scan).
		stmt, err := s.prepared(ctx, summedPagesSQL)
		if err == nil {
			err = stmt.SelectContext(ctx, &out, caseID, run, userID)
		}
		if err != nil {
			return nil, fmt.Errorf("pages of user %s in run %d: %w", userID, run, err)
		}
		return out, nil
	}
	for _, r := range rows {
		if r.Rule.Valid {
			r.VictimPage.Rule = r.Rule.String
			out = append(out, r.VictimPage)
		}
	}
	return out, nil
}

var (
	// storedPagesSQL reads the sums stored with the run: a row per page,
	// or one row of NULLs when the person has none; stored says whether
	// the run has sums at all.
	storedPagesSQL = `SELECT r.victim_pages AS stored, p.rule, coalesce(p.path, '') AS path,
		coalesce(p.confirmed, 0) AS confirmed, coalesce(p.possible, 0) AS possible,
		coalesce(p.first, 'epoch') AS first, coalesce(p.last, 'epoch') AS last, coalesce(p.categories, '{}') AS categories
		FROM breachctl.runs r LEFT JOIN breachctl.victim_pages p ON p.case_id = r.case_id AND p.run = r.run AND p.user_id = $3
		WHERE r.case_id = $1 AND r.run = $2`
	// summedPagesSQL sums a run's events for one person (runs stored
	// before the sums: no index, so slower).
	summedPagesSQL = `SELECT rule, path,
		count(*) FILTER (WHERE level = 'confirmed') AS confirmed,
		count(*) FILTER (WHERE level IS DISTINCT FROM 'confirmed') AS possible,
		min(at) AS first, max(at) AS last,
		string_to_array((array_agg(array_to_string(categories, ',') ORDER BY at, event_no))[1], ',') AS categories
		FROM breachctl.exposure_events
		WHERE case_id = $1 AND run = $2 AND victim_user_id = $3 AND kind = 'exposure'
		GROUP BY rule, path`
	getAffectedSQL = `SELECT ` + affectedColumns + ` FROM breachctl.affected
		WHERE case_id = $1 AND run = $2 AND user_id = $3`
	victimEventsSQL = `SELECT ` + eventColumns + ` FROM breachctl.exposure_events
		WHERE case_id = $1 AND run = $2 AND victim_user_id = $3 ORDER BY at, event_no`
)

// EachEvent streams a run's events in time order.
func (s *Store) EachEvent(ctx context.Context, caseID string, run int, fn func(*ExposureEvent) error) error {
	rows, err := s.DB.QueryxContext(ctx, `SELECT `+eventColumns+` FROM breachctl.exposure_events
		WHERE case_id = $1 AND run = $2 ORDER BY at, event_no`, caseID, run)
	if err != nil {
		return err
	}
	defer rows.Close()
	var e ExposureEvent
	for rows.Next() {
		if err := rows.StructScan(&e); err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Levels decodes category_levels (category -> confirmed | possible); an
// empty value is an empty map.
func (a *AffectedAccount) Levels() (map[string]string, error) {
	m := map[string]string{}
	if len(a.CategoryLevels) == 0 {
		return m, nil
	}
	err := json.Unmarshal(a.CategoryLevels, &m)
	return m, err
}

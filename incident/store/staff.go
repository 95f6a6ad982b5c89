package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Staff roles for breachctl serve: support sees lookups only, analysts the
// case, admins manage accounts (each role has what the one before has).
const (
	RoleSupport = "support"
	RoleAnalyst = "analyst"
	RoleAdmin   = "admin"
)

// Roles lists the roles from least to most allowed.
var Roles = []string{RoleSupport, RoleAnalyst, RoleAdmin}

// RoleRank orders roles: 0 for an unknown one.
func RoleRank(role string) int {
	for i, r := range Roles {
		if r == role {
			return i + 1
		}
	}
	return 0
}

// ErrExists is returned when a staff account of that name exists already.
var ErrExists = errors.New("exists already")

var staffName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// ValidStaffName reports whether name can be an account name: 1 to 64 of
// letters, digits and . _ @ -.
func ValidStaffName(name string) bool { return staffName.MatchString(name) }

// Staff is a breachctl serve account.
type Staff struct {
	Name         string    `db:"name" json:"name"`
	Role         string    `db:"role" json:"role"`
	PasswordHash string    `db:"password_hash" json:"-"`
	Disabled     bool      `db:"disabled" json:"disabled"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time `db:"updated_at" json:"updated_at"`
}

func checkStaff(name, role string) error {
	if !ValidStaffName(name) {
		return fmt.Errorf("account name %q: use 1 to 64 letters, digits and . _ @ -", name)
	}
	if RoleRank(role) == 0 {
		return fmt.Errorf("role %q: use support, analyst or admin", role)
	}
	return nil
}

// AddStaff creates an account with a password hash (never a password).
func (s *Store) AddStaff(ctx context.Context, name, role, passwordHash string) error {
	if err := checkStaff(name, role); err != nil {
		return err
	}
	_, err := s.DB.ExecContext(ctx, `INSERT INTO breachctl.staff (name, role, password_hash) VALUES ($1, $2, $3)`, name, role, passwordHash)
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("account %s: %w", name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add account %s: %w", name, err)
	}
	return nil
}

// GetStaff returns an account or ErrNotFound.
func (s *Store) GetStaff(ctx context.Context, name string) (*Staff, error) {
	var a Staff
	err := s.DB.GetContext(ctx, &a, `SELECT name, role, password_hash, disabled, created_at, updated_at FROM breachctl.staff WHERE name = $1`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", name, err)
	}
	return &a, nil
}

// ListStaff lists every account by name.
func (s *Store) ListStaff(ctx context.Context) ([]Staff, error) {
	var as []Staff
	if err := s.DB.SelectContext(ctx, &as, `SELECT name, role, password_hash, disabled, created_at, updated_at FROM breachctl.staff ORDER BY name`); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return as, nil
}

// UpdateStaff changes an account's role, disabled flag and, when hash is
// not empty, password. Disabling an account or changing its role or
// password ends its sessions. ErrNotFound when there is no such account.
func (s *Store) UpdateStaff(ctx context.Context, name, role string, disabled bool, passwordHash string) error {
	if err := checkStaff(name, role); err != nil {
		return err
	}
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE breachctl.staff SET role = $2, disabled = $3,
		password_hash = CASE WHEN $4 = '' THEN password_hash ELSE $4 END, updated_at = now() WHERE name = $1`,
		name, role, disabled, passwordHash)
	if err != nil {
		return fmt.Errorf("update account %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("account %s: %w", name, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM breachctl.staff_sessions WHERE staff = $1`, name); err != nil {
		return fmt.Errorf("end the sessions of %s: %w", name, err)
	}
	return tx.Commit()
}

// StaffSession is a signed-in browser, with its account.
type StaffSession struct {
	TokenSHA256 string    `db:"token_sha256"`
	Staff       string    `db:"staff"`
	Role        string    `db:"role"`
	CSRF        string    `db:"csrf"`
	CreatedAt   time.Time `db:"created_at"`
	ExpiresAt   time.Time `db:"expires_at"`
}

// CreateSession records a session (the token's SHA-256, never the token).
func (s *Store) CreateSession(ctx context.Context, tokenSHA256, staff, csrf, remote string, expires time.Time) error {
	// Expired sessions go as new ones come.
	_, err := s.DB.ExecContext(ctx, `WITH gone AS (DELETE FROM breachctl.staff_sessions WHERE expires_at <= now())
		INSERT INTO breachctl.staff_sessions (token_sha256, staff, csrf, expires_at, remote) VALUES ($1, $2, $3, $4, $5)`,
		tokenSHA256, staff, csrf, expires, remote)
	if err != nil {
		return fmt.Errorf("create session for %s: %w", staff, err)
	}
	return nil
}

// GetSession returns a live session of an enabled account, or ErrNotFound.
func (s *Store) GetSession(ctx context.Context, tokenSHA256 string) (*StaffSession, error) {
	var ss StaffSession
	err := s.DB.GetContext(ctx, &ss, `SELECT x.token_sha256, x.staff, a.role, x.csrf, x.created_at, x.expires_at
		FROM breachctl.staff_sessions x JOIN breachctl.staff a ON a.name = x.staff
		WHERE x.token_sha256 = $1 AND x.expires_at > now() AND NOT a.disabled`, tokenSHA256)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return &ss, nil
}

// DeleteSession ends a session (signing out); expired sessions go too.
func (s *Store) DeleteSession(ctx context.Context, tokenSHA256 string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM breachctl.staff_sessions WHERE token_sha256 = $1 OR expires_at <= now()`, tokenSHA256)
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// AuditEntry is one look at a person's data.
type AuditEntry struct {
	CaseID string    `db:"case_id" json:"case"`
	No     int64     `db:"audit_no" json:"no"`
	At     time.Time `db:"at" json:"at"`
	// Actor is the staff account, or ActorSelfCheck.
	Actor  string `db:"actor" json:"actor"`
	Role   string `db:"role" json:"role"`
	Action string `db:"action" json:"action"`
	// UserID is the person looked at (empty when a lookup found nobody).
	UserID string `db:"user_id" json:"user_id"`
	Remote string `db:"remote" json:"remote"`
	// Detail says how (no personal data: never an e-mail address).
	Detail string `db:"detail" json:"detail"`
}

// ActorSelfCheck is the audit actor of a self-check: the person, through
// the company's own site.
const ActorSelfCheck = "self-check"

// Audit actions.
const (
	AuditLookupID    = "lookup-id"
	AuditLookupEmail = "lookup-email"
	AuditPerson      = "person"
	AuditNotice      = "notice"
	AuditSelfCheck   = "self-check"
)

// AddAudit records entries in one transaction, durably: a lookup is
// answered only once its audit row is committed.
func (s *Store) AddAudit(ctx context.Context, es []AuditEntry) error {
	if err := addAudit(ctx, s.DB, es); err != nil {
		return fmt.Errorf("record %d audit entries: %w", len(es), err)
	}
	return nil
}

func addAudit(ctx context.Context, db sqlx.ExecerContext, es []AuditEntry) error {
	if len(es) == 0 {
		return nil
	}
	cols := make([][]string, 7)
	ats := make([]time.Time, len(es))
	for i, e := range es {
		for j, v := range []string{e.CaseID, e.Actor, e.Role, e.Action, e.UserID, e.Remote, e.Detail} {
			cols[j] = append(cols[j], v)
		}
		ats[i] = e.At
		if e.At.IsZero() {
			ats[i] = time.Now()
		}
	}
	_, err := db.ExecContext(ctx, `INSERT INTO breachctl.audit (case_id, at, actor, role, action, user_id, remote, detail)
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
		pq.Array(cols[0]), pq.Array(ats), pq.Array(cols[1]), pq.Array(cols[2]), pq.Array(cols[3]), pq.Array(cols[4]), pq.Array(cols[5]), pq.Array(cols[6]))
	return err
}

// AuditFilter narrows AuditLog.
type AuditFilter struct {
	UserID string // only this person
	Actor  string // only this account
	Since  time.Time
	Limit  int // 0: all
}

// AuditLog lists a case's audit entries, oldest first (the newest Limit
// when Limit is set).
func (s *Store) AuditLog(ctx context.Context, caseID string, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT case_id, audit_no, at, actor, role, action, user_id, remote, detail FROM breachctl.audit
		WHERE case_id = $1 AND ($2 = '' OR user_id = $2) AND ($3 = '' OR actor = $3) AND at >= $4
		ORDER BY audit_no DESC`
	args := []any{caseID, f.UserID, f.Actor, f.Since}
	if f.Limit > 0 {
		q += ` LIMIT $5`
		args = append(args, f.Limit)
	}
	var es []AuditEntry
	if err := s.DB.SelectContext(ctx, &es, q, args...); err != nil {
		return nil, fmt.Errorf("audit log of case %s: %w", caseID, err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es, nil
}

// SelfCheckUse is one self-check token's use, with its audit row.
type SelfCheckUse struct {
	TokenSHA256 string
	Expires     time.Time
	Audit       AuditEntry
}

// UseSelfCheckToken records a self-check token's use: fresh is false when
// it was used before (a replay). When audit is not nil it is recorded in
// the same transaction. Expired tokens are removed by
// PruneSelfCheckTokens.
func (s *Store) UseSelfCheckToken(ctx context.Context, caseID, tokenSHA256 string, expires time.Time, audit *AuditEntry) (fresh bool, err error) {
	u := SelfCheckUse{TokenSHA256: tokenSHA256, Expires: expires}
	if audit != nil {
		u.Audit = *audit
	}
	fs, err := s.UseSelfCheckTokens(ctx, caseID, []SelfCheckUse{u}, audit != nil)
	if err != nil {
		return false, err
	}
	return fs[0], nil
}

// UseSelfCheckTokens records many tokens' uses in one transaction (a group
// commit), each fresh one with its audit row when audit is set; fresh[i]
// is false for a replay (a token used before, or earlier in uses).
func (s *Store) UseSelfCheckTokens(ctx context.Context, caseID string, uses []SelfCheckUse, audit bool) (fresh []bool, err error) {
	fresh = make([]bool, len(uses))
	if len(uses) == 0 {
		return fresh, nil
	}
	hashes := make([]string, len(uses))
	exps := make([]time.Time, len(uses))
	for i, u := range uses {
		hashes[i], exps[i] = u.TokenSHA256, u.Expires
	}
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("self-check tokens: %w", err)
	}
	defer tx.Rollback()
	var inserted []string
	if err := tx.SelectContext(ctx, &inserted, `INSERT INTO breachctl.selfcheck_tokens (token_sha256, case_id, expires_at)
		SELECT h, $1, e FROM unnest($2::text[], $3::timestamptz[]) AS u(h, e)
		ON CONFLICT (token_sha256) DO NOTHING RETURNING token_sha256`, caseID, pq.Array(hashes), pq.Array(exps)); err != nil {
		return nil, fmt.Errorf("self-check tokens: %w", err)
	}
	new := make(map[string]bool, len(inserted))
	for _, h := range inserted {
		new[h] = true
	}
	var es []AuditEntry
	for i, u := range uses {
		if new[u.TokenSHA256] {
			fresh[i] = true
			delete(new, u.TokenSHA256) // a second use in the same batch is a replay
			if audit {
				es = append(es, u.Audit)
			}
		}
	}
	if len(es) > 0 {
		if err := addAudit(ctx, tx, es); err != nil {
			return nil, fmt.Errorf("self-check audit: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("self-check tokens: %w", err)
	}
	return fresh, nil
}

// PruneSelfCheckTokens removes used tokens that expired before before: a
// replay of one is refused as expired anyway, provided before comes from
// the clock that checks expiry (the server's, not the database's).
func (s *Store) PruneSelfCheckTokens(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM breachctl.selfcheck_tokens WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune self-check tokens: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// CountSelfCheckRefusals adds n refusals for a reason, on today's count.
func (s *Store) CountSelfCheckRefusals(ctx context.Context, caseID, reason string, n int) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO breachctl.selfcheck_refusals (case_id, day, reason, count) VALUES ($1, current_date, $2, $3)
		ON CONFLICT (case_id, day, reason) DO UPDATE SET count = breachctl.selfcheck_refusals.count + EXCLUDED.count`, caseID, reason, n)
	if err != nil {
		return fmt.Errorf("count self-check refusals: %w", err)
	}
	return nil
}

// SelfCheckRefusal is a count of refused self-checks on a day.
type SelfCheckRefusal struct {
	Day    time.Time `db:"day" json:"day"`
	Reason string    `db:"reason" json:"reason"`
	Count  int64     `db:"count" json:"count"`
}

// SelfCheckRefusals lists a case's refusal counts, newest day first.
func (s *Store) SelfCheckRefusals(ctx context.Context, caseID string) ([]SelfCheckRefusal, error) {
	var rs []SelfCheckRefusal
	if err := s.DB.SelectContext(ctx, &rs, `SELECT day, reason, count FROM breachctl.selfcheck_refusals WHERE case_id = $1 ORDER BY day DESC, reason`, caseID); err != nil {
		return nil, fmt.Errorf("self-check refusals: %w", err)
	}
	return rs, nil
}

// PersonNotices lists every notice of one person in a case, oldest run
// first.
func (s *Store) PersonNotices(ctx context.Context, caseID, userID string) ([]Notice, error) {
	var ns []Notice
	stmt, err := s.prepared(ctx, personNoticesSQL)
	if err == nil {
		err = stmt.SelectContext(ctx, &ns, caseID, userID)
	}
	if err != nil {
		return nil, fmt.Errorf("notices of user %s: %w", userID, err)
	}
	return ns, nil
}

const personNoticesSQL = `SELECT case_id, run, user_id, channel, state, attempts, message_id, last_error,
	smtp_reply, next_attempt_at, created_at, updated_at, sending_at, sent_at, uncertain_count, kind, refers_to, basis_run,
	message_sha256, message_date
	FROM breachctl.notices WHERE case_id = $1 AND user_id = $2 ORDER BY run, channel`

package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/breachctl/breachctl/incident/store"
)

// The self-check API: GET /api/v1/self-check with Authorization: Bearer
// <token> (token.go says how a token is made) answers for the one person
// the token names, once.
//
// A request goes: per-address limit → token present and at most 4 KiB →
// per-token limit → signature, expiry → Data.SelfCheck (a read) →
// store.UseSelfCheckToken (records the use and the audit row in one
// transaction; a used token is a replay) → the answer. Limits come before
// the signature so a flood of forged tokens is limited too. When the use
// cannot be recorded the answer is 500 with no data.
//
// Every refusal is counted by reason in memory (SelfCheckStats) and, in
// batches, in the case database (store.CountSelfCheckRefusals): Background
// writes them every few seconds and when it ends.

const (
	selfCheckFlushEvery = 5 * time.Second
	selfCheckPruneEvery = time.Minute
	// selfCheckMaxKeys bounds each limiter's memory.
	selfCheckMaxKeys = 100_000
)

// selfCheckState: the self-check API's secret, limits and counters.
type selfCheckState struct {
	secret   []byte
	maxTTL   time.Duration
	perToken *limiter
	perAddr  *limiter
	answered atomic.Int64
	refused  map[string]*atomic.Int64 // by reason; the map is never written after start
	// uses group-commits the tokens' uses with their audit rows.
	uses      *batcher[store.SelfCheckUse, bool]
	flushMu   sync.Mutex
	persisted map[string]int64 // by reason: what the case database has of refused
}

func newSelfCheckState(s *Server) (*selfCheckState, error) {
	c := &s.cfg
	if len(c.SelfCheckSecret) > 0 {
		if err := CheckSelfCheckSecret(c.SelfCheckSecret); err != nil {
			return nil, err
		}
	}
	if c.SelfCheckMaxTTL <= 0 {
		c.SelfCheckMaxTTL = DefaultSelfCheckMaxTTL
	}
	if c.SelfCheckTokenRate == 0 {
		c.SelfCheckTokenRate = rate.Every(time.Minute / 5)
	}
	if c.SelfCheckTokenBurst <= 0 {
		c.SelfCheckTokenBurst = 5
	}
	if c.SelfCheckAddrRate == 0 {
		c.SelfCheckAddrRate = 20
	}
	if c.SelfCheckAddrBurst <= 0 {
		c.SelfCheckAddrBurst = 40
	}
	sc := &selfCheckState{
		secret:    append([]byte(nil), c.SelfCheckSecret...),
		maxTTL:    c.SelfCheckMaxTTL,
		perToken:  newLimiter(c.SelfCheckTokenRate, c.SelfCheckTokenBurst, selfCheckMaxKeys),
		perAddr:   newLimiter(c.SelfCheckAddrRate, c.SelfCheckAddrBurst, selfCheckMaxKeys),
		refused:   map[string]*atomic.Int64{},
		persisted: map[string]int64{},
	}
	sc.perToken.now = s.now
	sc.perAddr.now = s.now
	sc.uses = newBatcher(func(ctx context.Context, us []store.SelfCheckUse) ([]bool, error) {
		return s.st.UseSelfCheckTokens(ctx, s.data.CaseID(), us, true)
	})
	for _, r := range refusalReasons {
		sc.refused[r] = new(atomic.Int64)
	}
	return sc, nil
}

// SelfCheckStats counts the self-check API's answers ("answered") and its
// refusals by reason (the Reason constants) since the server started.
func (s *Server) SelfCheckStats() map[string]int64 {
	m := map[string]int64{"answered": s.self.answered.Load()}
	for r, n := range s.self.refused {
		m[r] = n.Load()
	}
	return m
}

// Background does the self-check API's housekeeping until ctx ends: it
// writes the refusal counts to the case database every few seconds and
// removes expired tokens from the replay list every minute; when ctx ends
// it writes the last counts and returns. `breachctl serve` runs it beside
// the HTTP server for as long as it serves.
func (s *Server) Background(ctx context.Context) error {
	if s.st == nil {
		<-ctx.Done()
		return nil
	}
	s.pruneSelfCheckTokens(ctx)
	flush := time.NewTicker(selfCheckFlushEvery)
	defer flush.Stop()
	prune := time.NewTicker(selfCheckPruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.flushSelfCheckRefusals(fctx); err != nil {
				s.log.Error("self-check: last write of the refusal counts", "err", err)
				return err
			}
			return nil
		case <-flush.C:
			if err := s.flushSelfCheckRefusals(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("self-check: write the refusal counts (kept for the next try)", "err", err)
			}
		case <-prune.C:
			s.pruneSelfCheckTokens(ctx)
		}
	}
}

func (s *Server) pruneSelfCheckTokens(ctx context.Context) {
	n, err := s.st.PruneSelfCheckTokens(ctx, s.now().Add(-time.Minute))
	if err != nil && ctx.Err() == nil {
		s.log.Warn("self-check: prune used tokens", "err", err)
		return
	}
	if n > 0 {
		s.log.Debug("self-check: pruned used tokens", "count", n)
	}
}

// flushSelfCheckRefusals writes the refusals counted since the last write:
// one write per reason that has new ones. What fails is kept for the next.
func (s *Server) flushSelfCheckRefusals(ctx context.Context) error {
	if s.st == nil {
		return nil
	}
	sc := s.self
	sc.flushMu.Lock()
	defer sc.flushMu.Unlock()
	var errs []error
	for _, r := range refusalReasons {
		n := sc.refused[r].Load()
		d := n - sc.persisted[r]
		if d <= 0 {
			continue
		}
		if d > math.MaxInt32 {
			d = math.MaxInt32
		}
		if err := s.st.CountSelfCheckRefusals(ctx, s.data.CaseID(), r, int(d)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r, err))
			continue
		}
		sc.persisted[r] += d
	}
	return errors.Join(errs...)
}

func (s *Server) selfCheckHandler() http.Handler {
	return http.HandlerFunc(s.selfCheck)
}

func (s *Server) selfCheck(w http.ResponseWriter, r *http.Request) {
	sc := s.self
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		selfCheckError(w, http.StatusMethodNotAllowed, "method not allowed: use GET")
		return
	}
	if len(sc.secret) == 0 || s.st == nil || s.data == nil {
		selfCheckError(w, http.StatusServiceUnavailable, "the self-check is not configured on this server")
		return
	}
	remote := hostOf(r.RemoteAddr)
	if ok, retry := sc.perAddr.allow(addressKey(r.RemoteAddr)); !ok {
		s.selfCheckTooMany(w, remote, retry)
		return
	}
	token, ok := bearerToken(r)
	if !ok {
		s.selfCheckRefuse(w, remote, ReasonMalformed)
		return
	}
	if token == "" {
		s.selfCheckRefuse(w, remote, ReasonMissing)
		return
	}
	if len(token) > MaxSelfCheckTokenLen {
		s.selfCheckRefuse(w, remote, ReasonMalformed)
		return
	}
	tokenHash := tokenSHA256(token)
	if ok, retry := sc.perToken.allow(tokenHash); !ok {
		s.selfCheckTooMany(w, remote, retry)
		return
	}
	now := s.now()
	userID, expiry, err := VerifySelfCheck(sc.secret, token, now, sc.maxTTL)
	if err != nil {
		reason := reasonOf(err)
		if reason == "" {
			reason = ReasonMalformed
		}
		s.selfCheckRefuse(w, remote, reason)
		return
	}
	ctx := r.Context()
	res, err := s.data.SelfCheck(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The token stays unused: it can be tried again once a run is done.
		w.Header().Set("Retry-After", "60")
		selfCheckError(w, http.StatusServiceUnavailable, "the case has no completed run yet")
		return
	case err != nil:
		s.log.Error("self-check: read the answer", "user_id", userID, "err", err)
		selfCheckError(w, http.StatusInternalServerError, "internal error")
		return
	case res == nil || res.UserID != "" && res.UserID != userID:
		// Fail closed: never send an answer that may be about someone else.
		s.log.Error("self-check: the answer is not about the token's person", "user_id", userID)
		selfCheckError(w, http.StatusInternalServerError, "internal error")
		return
	}
	body, err := selfCheckJSON(res, s.data.CaseID(), userID)
	if err != nil {
		s.log.Error("self-check: encode the answer", "user_id", userID, "err", err)
		selfCheckError(w, http.StatusInternalServerError, "internal error")
		return
	}
	fresh, err := sc.uses.do(ctx, store.SelfCheckUse{TokenSHA256: tokenHash, Expires: expiry, Audit: store.AuditEntry{
		CaseID: s.data.CaseID(),
		At:     now,
		Actor:  store.ActorSelfCheck,
		Action: store.AuditSelfCheck,
		UserID: userID,
		Remote: remote,
		Detail: "run " + strconv.Itoa(res.Run),
	}})
	if err != nil {
		s.log.Error("self-check: record the token's use", "user_id", userID, "err", err)
		selfCheckError(w, http.StatusInternalServerError, "internal error")
		return
	}
	if !fresh[0] {
		s.selfCheckRefuse(w, remote, ReasonReplayed)
		return
	}
	sc.answered.Add(1)
	s.log.Info("self-check answered", "user_id", userID, "remote", remote, "run", res.Run)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// selfCheckJSON is the answer: only the fields of SelfCheck, for userID.
// encoding/json escapes <, > and & so no user id reads as markup.
func selfCheckJSON(res *SelfCheck, caseID, userID string) ([]byte, error) {
	out := *res
	out.Case = caseID
	out.UserID = userID
	if out.Categories == nil {
		out.Categories = []string{}
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(&out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// bearerToken reads Authorization: Bearer <token>. ok is false when the
// header is there but is not one bearer token; token is "" when there is
// no header.
func bearerToken(r *http.Request) (token string, ok bool) {
	vs := r.Header.Values("Authorization")
	if len(vs) == 0 {
		return "", true
	}
	if len(vs) > 1 {
		return "", false
	}
	scheme, tok, found := strings.Cut(strings.TrimSpace(vs[0]), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false
	}
	return tok, true
}

// selfCheckRefuse answers 401, the same for every reason (an attacker is
// not told which check failed), and counts the reason.
func (s *Server) selfCheckRefuse(w http.ResponseWriter, remote, reason string) {
	s.self.refused[reason].Add(1)
	s.log.Debug("self-check refused", "reason", reason, "remote", remote)
	if reason == ReasonMissing {
		w.Header().Set("WWW-Authenticate", `Bearer`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	selfCheckError(w, http.StatusUnauthorized, "invalid token")
}

func (s *Server) selfCheckTooMany(w http.ResponseWriter, remote string, retry time.Duration) {
	s.self.refused[ReasonRateLimited].Add(1)
	s.log.Debug("self-check refused", "reason", ReasonRateLimited, "remote", remote)
	secs := int64(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	if retry == 0 { // never: tell the client to come back much later
		secs = 3600
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	selfCheckError(w, http.StatusTooManyRequests, "too many requests")
}

// selfCheckError writes {"error": msg}.
func selfCheckError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(b)
}

// Command loadcheck drives `breachctl serve` with many concurrent clients
// and reports how fast it answered:
//
//	BREACHCTL_SELFCHECK_SECRET=... go run ./internal/loadcheck -url http://127.0.0.1:8080 -mode selfcheck -ids u-1,u-2
//	BREACHCTL_LOAD_PASSWORD=... go run ./internal/loadcheck -url http://127.0.0.1:8080 -mode lookup -user desk1 -ids-file ids.txt
//
// -mode selfcheck mints a fresh token (random nonce) for every request, so
// none is a replay; -mode lookup signs in once as a staff account and asks
// for person pages. It prints requests, errors (a non-2xx status or a
// transport error), requests a second and latency percentiles, and exits 1
// when there was any error or a -min-rps / -max-p99 target was missed (2 on
// a usage error).
//
// The server's self-check rate limits (20 a second per address by default)
// refuse most of a load test from one machine with 429: raise them for the
// run (serve.Config.SelfCheckAddrRate).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/breachctl/breachctl/serve"
)

func main() {
	// The load generator shares the machine with the server and the
	// database: it collects garbage less often (GOGC=800) so that it takes
	// less of the CPU it is measuring, unless GOGC says otherwise.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(800)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

type options struct {
	base        string
	mode        string
	clients     int
	duration    time.Duration
	timeout     time.Duration
	ids         []string
	selfPath    string
	ttl         time.Duration
	secret      []byte
	user        string
	password    string
	loginPath   string
	personPath  string
	minRPS      float64
	maxP99      time.Duration
	maxRequests int64 // stop after this many (0: no limit; tests)
}

// run is the whole command: exit code 0 (targets met), 1 (errors or a
// missed target) or 2 (usage).
func run(ctx context.Context, args []string, out, errw io.Writer, getenv func(string) string) int {
	o, err := parseFlags(args, errw, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(errw, "loadcheck:", err)
		return 2
	}
	client := newClient(o.clients, o.timeout)
	var req func(ctx context.Context, id string) (*http.Request, error)
	switch o.mode {
	case "selfcheck":
		req = selfCheckRequest(o)
	case "lookup":
		if err := signIn(ctx, client, o); err != nil {
			fmt.Fprintln(errw, "loadcheck:", err)
			return 1
		}
		req = personRequest(o)
	}
	fmt.Fprintf(out, "loadcheck: %s, %d clients for %s against %s\n", o.mode, o.clients, o.duration, o.base)
	res := drive(ctx, client, o, req)
	return report(out, o, res)
}

func parseFlags(args []string, errw io.Writer, getenv func(string) string) (*options, error) {
	fs := flag.NewFlagSet("loadcheck", flag.ContinueOnError)
	fs.SetOutput(errw)
	o := &options{}
	var ids, idsFile string
	fs.StringVar(&o.base, "url", "http://127.0.0.1:8080", "the server's base URL")
	fs.StringVar(&o.mode, "mode", "selfcheck", "selfcheck (GET the self-check API with fresh tokens) or lookup (staff person pages)")
	fs.IntVar(&o.clients, "c", 50, "concurrent clients")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to run")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "one request's time limit")
	fs.StringVar(&ids, "ids", "", "user ids to ask about, comma-separated")
	fs.StringVar(&idsFile, "ids-file", "", "a file of user ids, one a line (# starts a comment)")
	fs.StringVar(&o.selfPath, "path", "/api/v1/self-check", "selfcheck: the API's path")
	fs.DurationVar(&o.ttl, "ttl", 5*time.Minute, "selfcheck: how long each token is valid")
	fs.StringVar(&o.user, "user", "", "lookup: the staff account (its password in BREACHCTL_LOAD_PASSWORD)")
	fs.StringVar(&o.loginPath, "login-path", "/login", "lookup: the sign-in page (a form with a hidden csrf input)")
	fs.StringVar(&o.personPath, "person-path", "/person/{id}", "lookup: the person page; {id} is the user id")
	fs.Float64Var(&o.minRPS, "min-rps", 0, "fail below this many requests a second")
	fs.DurationVar(&o.maxP99, "max-p99", 0, "fail when the 99th percentile latency is above this")
	fs.Usage = func() {
		fmt.Fprintln(errw, "usage: loadcheck [flags]  (secret in BREACHCTL_SELFCHECK_SECRET, password in BREACHCTL_LOAD_PASSWORD)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	u, err := url.Parse(o.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-url %q: want http(s)://host[:port]", o.base)
	}
	o.base = strings.TrimRight(o.base, "/")
	if o.clients < 1 || o.duration <= 0 || o.timeout <= 0 {
		return nil, errors.New("-c, -d and -timeout must be positive")
	}
	for _, id := range strings.Split(ids, ",") {
		if id = strings.TrimSpace(id); id != "" {
			o.ids = append(o.ids, id)
		}
	}
	if idsFile != "" {
		more, err := readIDs(idsFile)
		if err != nil {
			return nil, err
		}
		o.ids = append(o.ids, more...)
	}
	if len(o.ids) == 0 {
		return nil, errors.New("no user ids: give -ids or -ids-file")
	}
	switch o.mode {
	case "selfcheck":
		o.secret = []byte(getenv("BREACHCTL_SELFCHECK_SECRET"))
		if err := serve.CheckSelfCheckSecret(o.secret); err != nil {
			return nil, err
		}
	case "lookup":
		o.password = getenv("BREACHCTL_LOAD_PASSWORD")
		if o.user == "" || o.password == "" {
			return nil, errors.New("lookup: give -user and the password in BREACHCTL_LOAD_PASSWORD")
		}
		if !strings.Contains(o.personPath, "{id}") {
			return nil, fmt.Errorf("-person-path %q has no {id}", o.personPath)
		}
	default:
		return nil, fmt.Errorf("-mode %q: use selfcheck or lookup", o.mode)
	}
	return o, nil
}

func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ids, nil
}

// newClient keeps a connection alive per client and follows no redirects
// (a redirect to the sign-in page is an error, not a success).
func newClient(clients int, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = clients
	tr.MaxIdleConnsPerHost = clients
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport:     tr,
		Jar:           jar,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func selfCheckRequest(o *options) func(context.Context, string) (*http.Request, error) {
	return func(ctx context.Context, id string) (*http.Request, error) {
		nonce := make([]byte, 16)
		rand.Read(nonce)
		tok := serve.SignSelfCheck(o.secret, id, time.Now().Add(o.ttl), nonce)
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+o.selfPath, nil)
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		return r, nil
	}
}

func personRequest(o *options) func(context.Context, string) (*http.Request, error) {
	return func(ctx context.Context, id string) (*http.Request, error) {
		p := strings.ReplaceAll(o.personPath, "{id}", url.PathEscape(id))
		return http.NewRequestWithContext(ctx, http.MethodGet, o.base+p, nil)
	}
}

var (
	csrfInput = regexp.MustCompile(`(?is)<input\b[^>]*\bname\s*=\s*["']?csrf["'\s>][^>]*>`)
	valueAttr = regexp.MustCompile(`(?is)\bvalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))`)
)

// csrfToken finds the value of the hidden input named csrf.
func csrfToken(page []byte) (string, bool) {
	in := csrfInput.Find(page)
	if in == nil {
		return "", false
	}
	m := valueAttr.FindSubmatch(in)
	if m == nil {
		return "", false
	}
	return html.UnescapeString(string(m[1]) + string(m[2]) + string(m[3])), true
}

// signIn gets the sign-in form (its cookie and csrf token), posts the
// account's name and password, and checks the session works.
func signIn(ctx context.Context, c *http.Client, o *options) error {
	login := o.base + o.loginPath
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, login, nil)
	resp, err := c.Do(r)
	if err != nil {
		return fmt.Errorf("sign in: GET %s: %w", login, err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sign in: GET %s: %s %v", login, resp.Status, err)
	}
	csrf, ok := csrfToken(page)
	if !ok {
		return fmt.Errorf("sign in: GET %s: no hidden input named csrf", login)
	}
	form := url.Values{"name": {o.user}, "password": {o.password}, "csrf": {csrf}}
	r, _ = http.NewRequestWithContext(ctx, http.MethodPost, login, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(r)
	if err != nil {
		return fmt.Errorf("sign in as %s: POST %s: %w", o.user, login, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("sign in as %s: POST %s: %s", o.user, login, resp.Status)
	}
	// The first person page proves the session.
	r, _ = personRequest(o)(ctx, o.ids[0])
	resp, err = c.Do(r)
	if err != nil {
		return fmt.Errorf("sign in as %s: %s: %w", o.user, r.URL.Path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sign in as %s failed: %s answers %s (Location %q)", o.user, r.URL.Path, resp.Status, resp.Header.Get("Location"))
	}
	return nil
}

type result struct {
	requests  int64
	errors    int64
	statuses  map[string]int64 // "200", "429", "transport"
	latencies []time.Duration
	elapsed   time.Duration
}

// drive runs the clients until the duration is over (or ctx ends); a
// request started before the end runs to its own time limit.
func drive(ctx context.Context, c *http.Client, o *options, mk func(context.Context, string) (*http.Request, error)) *result {
	start := time.Now()
	end := start.Add(o.duration)
	var next atomic.Int64
	var mu sync.Mutex
	res := &result{statuses: map[string]int64{}}
	var wg sync.WaitGroup
	for range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			statuses := map[string]int64{}
			var errs int64
			for ctx.Err() == nil && time.Now().Before(end) {
				n := next.Add(1)
				if o.maxRequests > 0 && n > o.maxRequests {
					break
				}
				id := o.ids[int((n-1)%int64(len(o.ids)))]
				r, err := mk(context.WithoutCancel(ctx), id)
				if err != nil {
					statuses["request"]++
					errs++
					continue
				}
				t0 := time.Now()
				resp, err := c.Do(r)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat = append(lat, time.Since(t0))
				switch {
				case err != nil:
					statuses["transport"]++
					errs++
				default:
					statuses[fmt.Sprint(resp.StatusCode)]++
					if resp.StatusCode/100 != 2 {
						errs++
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			for k, v := range statuses {
				res.statuses[k] += v
				res.requests += v
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}

// percentile is the nearest-rank p-th percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func report(out io.Writer, o *options, res *result) int {
	rps := float64(res.requests) / res.elapsed.Seconds()
	p99 := percentile(res.latencies, 99)
	var maxLat time.Duration
	if n := len(res.latencies); n > 0 {
		maxLat = res.latencies[n-1]
	}
	fmt.Fprintf(out, "requests    %d in %s\n", res.requests, res.elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "errors      %d\n", res.errors)
	fmt.Fprintf(out, "requests/s  %.1f\n", rps)
	fmt.Fprintf(out, "latency     p50 %s  p90 %s  p99 %s  max %s\n", rnd(percentile(res.latencies, 50)), rnd(percentile(res.latencies, 90)), rnd(p99), rnd(maxLat))
	keys := make([]string, 0, len(res.statuses))
	for k := range res.statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, res.statuses[k]))
	}
	fmt.Fprintf(out, "statuses    %s\n", strings.Join(parts, ", "))
	code := 0
	if res.requests == 0 {
		fmt.Fprintln(out, "FAIL  no request was made")
		code = 1
	}
	if res.errors > 0 {
		fmt.Fprintf(out, "FAIL  %d errors\n", res.errors)
		if res.statuses["429"] > 0 {
			fmt.Fprintln(out, "      429: the server's rate limits refused requests (raise them for a load test)")
		}
		code = 1
	}
	if o.minRPS > 0 && rps < o.minRPS {
		fmt.Fprintf(out, "FAIL  %.1f requests/s, target at least %.1f\n", rps, o.minRPS)
		code = 1
	}
	if o.maxP99 > 0 && p99 > o.maxP99 {
		fmt.Fprintf(out, "FAIL  p99 %s, target at most %s\n", rnd(p99), o.maxP99)
		code = 1
	}
	if code == 0 {
		fmt.Fprintln(out, "ok")
	}
	return code
}

func rnd(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

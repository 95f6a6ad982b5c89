package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"golang.org/x/time/rate"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/serve"
)

type serveOptions struct {
	caseFile   string
	listen     string
	tlsCert    string
	tlsKey     string
	templates  string
	sessionTTL time.Duration
	insecure   bool
	addrRate   float64
	proxies    []string
}

const serveLong = `Serve the case in a browser for the team, and the self-check API for the
company's own site.

Staff pages (sign in first; accounts: 'breachctl serve users add'):
  support   look a person up by user id or e-mail address: their disclosure
            (as 'disclose' gives it), every notice sent to them (when, in
            which run, its delivery state) and the notice as they received it
  analyst   all that, and the case: the live triage, runs and their diff,
            the delivery ledger, the obligations with what is due next, and
            the audit log
  admin     all that, and the accounts

Every look at one person's data is written to the case database's audit log
before it is shown ('breachctl audit -f CASE' prints it). A lookup by e-mail
address runs the case file's users.lookup_query, read-only; the address is
never stored or logged.

Self-check: GET /api/v1/self-check with "Authorization: Bearer TOKEN" answers
for one person, in JSON (level, categories, dates, the notice's state), when
the company's backend signed TOKEN with the secret in
$BREACHCTL_SELFCHECK_SECRET (at least 32 bytes; without it the API answers
503). A token is

  base64url(user id) "." expiry (Unix seconds) ["." nonce] "." base64url(HMAC-SHA256(secret, the part before the last "."))

(base64url without padding). A token answers once, and only until it
expires (at most 15 minutes ahead); invalid, expired and replayed tokens get
401 and are counted. 'breachctl serve token USER_ID' makes one for testing.

Listening on anything but a loopback address needs HTTPS (--tls-cert and
--tls-key), or --trusted-proxy ADDR behind a TLS-terminating reverse proxy
(the client's address is then read from its X-Forwarded-For, and cookies
are Secure), or --insecure-http (plain HTTP, cookies not Secure: only on a
network nobody else is on). SIGTERM or
Ctrl-C stops it gracefully: requests in flight finish. GET /healthz says
whether the case database answers.`

func newServeCmd(d *deps) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve -f incident.yaml [--listen 127.0.0.1:8080]",
		Short: `The support desk's "was I affected?" and the live case, in a browser`,
		Long:  serveLong,
		Example: `  breachctl serve users add alice --role admin
  breachctl serve -f incident.yaml
  breachctl serve -f incident.yaml --listen :8443 --tls-cert cert.pem --tls-key key.pem`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), d, o, nil)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	f.StringVar(&o.templates, "templates", "", "the notice templates directory notify send used (--templates), to show notices as sent")
	f.DurationVar(&o.sessionTTL, "session-ttl", 8*time.Hour, "how long a sign-in lasts")
	f.Float64Var(&o.addrRate, "selfcheck-rate", 20, "self-check requests a second allowed from one client address (burst twice that); the company's backend calling server-to-server is one address")
	f.StringArrayVar(&o.proxies, "trusted-proxy", nil, "a TLS-terminating reverse proxy in front (address or CIDR; repeatable): its X-Forwarded-For gives the client's address, and cookies are Secure as the browser speaks HTTPS to it")
	f.BoolVar(&o.insecure, "insecure-http", false, "allow plain HTTP on a non-loopback address (cookies not Secure; prefer --trusted-proxy behind a TLS proxy)")
	cmd.AddCommand(newServeUsersCmd(d), newServeTokenCmd(d))
	return cmd
}

// selfCheckSecret reads $BREACHCTL_SELFCHECK_SECRET: nil when unset.
func (d *deps) selfCheckSecret() ([]byte, error) {
	v := d.env("BREACHCTL_SELFCHECK_SECRET")
	if v == "" {
		return nil, nil
	}
	if err := serve.CheckSelfCheckSecret([]byte(v)); err != nil {
		return nil, usageErrorf("$BREACHCTL_SELFCHECK_SECRET: %v", err)
	}
	return []byte(v), nil
}

// runServe serves until ctx ends. ready, when set, is told the address
// once the server listens (demo --serve and tests).
func runServe(ctx context.Context, d *deps, o serveOptions, ready func(addr string)) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErrorf("--tls-cert and --tls-key go together")
	}
	tls := o.tlsCert != ""
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usageErrorf("--listen %q: give host:port, e.g. 127.0.0.1:8080", o.listen)
	}
	var proxies []netip.Prefix
	for _, p := range o.proxies {
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return usageErrorf("--trusted-proxy %q: give an address or a CIDR (e.g. 10.0.0.5 or 10.0.0.0/24)", p)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		proxies = append(proxies, pf.Masked())
	}
	if !tls && !o.insecure && len(proxies) == 0 && !isLoopback(host) {
		return usageErrorf("--listen %s is not a loopback address: staff passwords and personal data would cross the network in clear; "+
			"give --tls-cert and --tls-key, or --trusted-proxy ADDR behind a TLS-terminating proxy", o.listen)
	}
	if o.addrRate <= 0 {
		o.addrRate = 20
	}
	if o.sessionTTL < time.Minute {
		return usageErrorf("--session-ttl %s: give a minute or more", o.sessionTTL)
	}
	secret, err := d.selfCheckSecret()
	if err != nil {
		return err
	}
	c, err := d.loadCase(o.caseFile)
	if err != nil {
		return err
	}
	caseURL, err := d.caseDBURL()
	if err != nil {
		return err
	}
	// Parameters go with the query in one round trip (lib/pq's
	// binary_parameters): a lookup's reads take half the round trips.
	// serve sends no []byte parameter that would change meaning.
	st, err := d.openStore(ctx, withBinaryParameters(caseURL))
	if err != nil {
		return err
	}
	defer st.Close()
	udb, err := d.connectUsers(ctx, c.Users.DatabaseURL)
	if err != nil {
		return fmt.Errorf("user database %s: %w", store.Redact(c.Users.DatabaseURL), err)
	}
	defer udb.Close()
	st.DB.SetMaxOpenConns(32)
	st.DB.SetMaxIdleConns(32)
	udb.SetMaxOpenConns(8)
	defer tuneGC()()
	data := &caseData{c: c, st: st, udb: udb, templates: o.templates}
	srv, err := serve.New(serve.Config{Data: data, Store: st, TLS: tls || len(proxies) > 0, TrustedProxies: proxies, SelfCheckSecret: secret, SessionTTL: o.sessionTTL,
		Logger: d.serveLogger(), SelfCheckAddrRate: rate.Limit(o.addrRate), SelfCheckAddrBurst: int(2 * o.addrRate)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	addr := scheme + "://" + ln.Addr().String() + "/"
	accounts, err := st.ListStaff(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(d.io.Err, "breachctl serve: case %s on %s (%d staff %s", c.ID, addr, len(accounts), plural(len(accounts), "account", "accounts"))
	if secret == nil {
		fmt.Fprint(d.io.Err, "; self-check API off: $BREACHCTL_SELFCHECK_SECRET is not set")
	}
	fmt.Fprintln(d.io.Err, ")")
	if len(accounts) == 0 {
		fmt.Fprintln(d.io.Err, "breachctl serve: no staff account yet: add one with 'breachctl serve users add NAME --role admin'")
	}
	if ready != nil {
		ready(addr)
	}
	// The self-check API's upkeep (refusal counts written, expired tokens
	// pruned), until the server has stopped.
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan error, 1)
	go func() { bgDone <- srv.Background(bgCtx) }()
	err = srv.Run(ctx, ln, o.tlsCert, o.tlsKey)
	stopBg()
	if bgErr := <-bgDone; err == nil && bgErr != nil && !errors.Is(bgErr, context.Canceled) {
		err = bgErr
	}
	if err == nil {
		fmt.Fprintln(d.io.Err, "breachctl serve: stopped")
	}
	return err
}

// serveLogger logs requests at Info (route, status, account; never query
// strings or personal data), everything with -v.
func (d *deps) serveLogger() *slog.Logger {
	level := slog.LevelInfo
	if d.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(d.io.Err, &slog.HandlerOptions{Level: level}))
}

// tuneGC lets a server's small heap grow 8x between collections (GOGC=800)
// under a 1 GiB soft limit, unless GOGC or GOMEMLIMIT say otherwise: every
// request allocates a little, and at the default the collector took a
// quarter of the lookups a second the load check measures.
// It returns what puts the previous settings back.
func tuneGC() (restore func()) {
	percent, limit := -2, int64(-1)
	if _, set := os.LookupEnv("GOGC"); !set {
		percent = debug.SetGCPercent(800)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		limit = debug.SetMemoryLimit(1 << 30)
	}
	return func() {
		if percent != -2 {
			debug.SetGCPercent(percent)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}

// withBinaryParameters adds lib/pq's binary_parameters=yes to a URL or a
// key=value connection string that does not set it.
func withBinaryParameters(u string) string {
	if strings.Contains(u, "binary_parameters") {
		return u
	}
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		if strings.Contains(u, "?") {
			return u + "&binary_parameters=yes"
		}
		return u + "?binary_parameters=yes"
	}
	return u + " binary_parameters=yes"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func newServeUsersCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Staff accounts for breachctl serve",
		Long: `Staff accounts for breachctl serve, kept in the case database (every case in
it). Roles: support (lookups only), analyst (the case and lookups), admin
(all that, and the accounts). Passwords are stored as bcrypt hashes; give one
on standard input with --password-stdin, at the prompt on a terminal, or let
--generate make one (printed once).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newServeUsersAddCmd(d), newServeUsersListCmd(d), newServeUsersSetCmd(d))
	return cmd
}

type staffFlags struct {
	role          string
	passwordStdin bool
	generate      bool
}

func newServeUsersAddCmd(d *deps) *cobra.Command {
	var o staffFlags
	cmd := &cobra.Command{
		Use:   "add NAME --role support|analyst|admin",
		Short: "Add a staff account",
		Example: `  breachctl serve users add alice --role admin
  printf '%s\n' "$PASSWORD" | breachctl serve users add bob --role support --password-stdin
  breachctl serve users add carol --role analyst --generate`,
		Args: exactArgs(1, "the account NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if store.RoleRank(o.role) == 0 {
				return usageErrorf("--role %q: use support, analyst or admin", o.role)
			}
			if !store.ValidStaffName(args[0]) {
				return usageErrorf("account name %q: use 1 to 64 letters, digits and . _ @ -", args[0])
			}
			hash, err := d.newPassword(o)
			if err != nil {
				return err
			}
			st, err := d.store(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.AddStaff(ctx, args[0], o.role, hash); err != nil {
				if errors.Is(err, store.ErrExists) {
					return usageErrorf("account %s exists already: 'breachctl serve users set %s' changes it", args[0], args[0])
				}
				return err
			}
			fmt.Fprintf(d.io.Err, "added account %s (%s)\n", args[0], o.role)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.role, "role", "", "support, analyst or admin (required)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	f.BoolVar(&o.generate, "generate", false, "generate a password and print it once")
	return cmd
}

func newServeUsersSetCmd(d *deps) *cobra.Command {
	var o staffFlags
	var disable, enable, password bool
	cmd := &cobra.Command{
		Use:   "set NAME [--role R] [--disable|--enable] [--password [--password-stdin|--generate]]",
		Short: "Change a staff account (its sessions end)",
		Args:  exactArgs(1, "the account NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if disable && enable {
				return usageErrorf("--disable and --enable: give one")
			}
			if o.role != "" && store.RoleRank(o.role) == 0 {
				return usageErrorf("--role %q: use support, analyst or admin", o.role)
			}
			st, err := d.store(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := st.GetStaff(ctx, args[0])
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return usageErrorf("no account %s ('breachctl serve users list' lists them)", args[0])
				}
				return err
			}
			role, disabled, hash := a.Role, a.Disabled, ""
			if o.role != "" {
				role = o.role
			}
			if disable || enable {
				disabled = disable
			}
			if password || o.passwordStdin || o.generate {
				if hash, err = d.newPassword(o); err != nil {
					return err
				}
			}
			if err := st.UpdateStaff(ctx, a.Name, role, disabled, hash); err != nil {
				return err
			}
			state := "enabled"
			if disabled {
				state = "disabled"
			}
			fmt.Fprintf(d.io.Err, "account %s: %s, %s%s; its sessions are ended\n", a.Name, role, state, map[bool]string{true: ", new password", false: ""}[hash != ""])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.role, "role", "", "new role: support, analyst or admin")
	f.BoolVar(&disable, "disable", false, "disable the account (it cannot sign in)")
	f.BoolVar(&enable, "enable", false, "enable it again")
	f.BoolVar(&password, "password", false, "set a new password (prompted on a terminal)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the new password from the first line of standard input")
	f.BoolVar(&o.generate, "generate", false, "generate a new password and print it once")
	return cmd
}

func newServeUsersListCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the staff accounts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := d.store(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			as, err := st.ListStaff(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(d.io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tCREATED")
			for _, a := range as {
				state := "enabled"
				if a.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, a.Role, state, a.CreatedAt.UTC().Format("2006-01-02 15:04Z"))
			}
			return tw.Flush()
		},
	}
}

// newPassword reads or generates a password and returns its hash.
func (d *deps) newPassword(o staffFlags) (string, error) {
	var pw string
	switch {
	case o.generate && o.passwordStdin:
		return "", usageErrorf("--generate and --password-stdin: give one")
	case o.generate:
		pw = generatePassword()
		fmt.Fprintf(d.io.Out, "password: %s\n(shown once: keep it in your password manager)\n", pw)
	case o.passwordStdin:
		line, err := bufio.NewReader(d.io.In).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	default:
		f, ok := d.io.In.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return "", usageErrorf("no password: give it on standard input with --password-stdin, or --generate one")
		}
		fmt.Fprint(d.io.Err, "password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(d.io.Err)
		if err != nil {
			return "", err
		}
		fmt.Fprint(d.io.Err, "again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(d.io.Err)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", usageErrorf("the two passwords differ")
		}
		pw = string(a)
	}
	if len([]rune(pw)) < serve.MinPasswordLen {
		return "", usageErrorf("the password is too short: use %d characters or more (or --generate)", serve.MinPasswordLen)
	}
	return serve.HashPassword(pw)
}

// generatePassword is 20 random characters (120 bits).
func generatePassword() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newServeTokenCmd(d *deps) *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token USER_ID [--ttl 5m]",
		Short: "Make a self-check token for one person (for testing the company's integration)",
		Long: `Print a self-check token for USER_ID, signed with $BREACHCTL_SELFCHECK_SECRET,
as the company's backend would make one (see 'breachctl serve --help' for
the format). It answers once, until it expires.`,
		Example: `  curl -H "Authorization: Bearer $(breachctl serve token 100197)" http://127.0.0.1:8080/api/v1/self-check`,
		Args:    exactArgs(1, "one USER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			secret, err := d.selfCheckSecret()
			if err != nil {
				return err
			}
			if secret == nil {
				return usageErrorf("$BREACHCTL_SELFCHECK_SECRET is not set: the token is signed with it")
			}
			if ttl <= 0 || ttl > serve.DefaultSelfCheckMaxTTL {
				return usageErrorf("--ttl %s: give a duration up to %s", ttl, serve.DefaultSelfCheckMaxTTL)
			}
			var nonce [16]byte
			_, _ = rand.Read(nonce[:])
			fmt.Fprintln(d.io.Out, serve.SignSelfCheck(secret, args[0], d.now().Add(ttl), nonce[:]))
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 5*time.Minute, "how long the token is valid")
	return cmd
}

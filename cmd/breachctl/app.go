package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// Exit codes, documented in the root command's help.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// IO is where a command reads and writes; tests inject buffers.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// ErrIsTerminal enables progress bars on Err.
	ErrIsTerminal bool
}

func systemIO() IO {
	return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, ErrIsTerminal: term.IsTerminal(int(os.Stderr.Fd()))}
}

// deps reaches every command; connections are built lazily so --help opens none.
type deps struct {
	io     IO
	getenv incident.Getenv
	now    func() time.Time

	// Set from global flags.
	dbURL      string
	verbose    bool
	cpuProfile string
	traceFile  string

	stopProfile func()

	openStore    func(ctx context.Context, url string) (*store.Store, error)
	connectUsers func(ctx context.Context, url string) (*sqlx.DB, error)
}

func newDeps(io IO, getenv incident.Getenv) *deps {
	return &deps{
		io:           io,
		getenv:       getenv,
		now:          time.Now,
		openStore:    store.Open,
		connectUsers: store.Connect,
	}
}

func (d *deps) env(name string) string {
	v, _ := d.getenv(name)
	return v
}

// caseDBURL resolves --db, then BREACHCTL_DATABASE_URL, then DATABASE_URL.
func (d *deps) caseDBURL() (string, error) {
	for _, u := range []string{d.dbURL, d.env("BREACHCTL_DATABASE_URL"), d.env("DATABASE_URL")} {
		if u != "" {
			return u, nil
		}
	}
	return "", usageErrorf("no case database: pass --db URL or set BREACHCTL_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/breachctl?sslmode=disable)")
}

// store opens the case database (migrating it).
func (d *deps) store(ctx context.Context) (*store.Store, error) {
	u, err := d.caseDBURL()
	if err != nil {
		return nil, err
	}
	return d.openStore(ctx, u)
}

func (d *deps) logger() *slog.Logger {
	level := slog.LevelWarn
	if d.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(d.io.Err, &slog.HandlerOptions{Level: level}))
}

// loadCase reads and validates a case file.
func (d *deps) loadCase(path string) (*incident.Case, error) {
	if path == "" {
		return nil, usageErrorf("no case file: pass -f incident.yaml")
	}
	return incident.Load(path, d.getenv, logs.CaseProblems)
}

// openCase loads the case file and opens (migrating) the case database.
// The caller closes the store.
func (d *deps) openCase(ctx context.Context, file string) (*incident.Case, *store.Store, error) {
	c, err := d.loadCase(file)
	if err != nil {
		return nil, nil, err
	}
	st, err := d.store(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, st, nil
}

// openRun is openCase plus the run to read: run n, or the latest completed
// one when n is 0. The caller closes the store.
func (d *deps) openRun(ctx context.Context, file string, n int) (*incident.Case, *store.Store, *store.Run, error) {
	c, st, err := d.openCase(ctx, file)
	if err != nil {
		return nil, nil, nil, err
	}
	run, err := st.DoneRun(ctx, c.ID, n)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return c, st, run, nil
}

// usageError is bad usage: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// errorText is err for the terminal. Errors name files, log values and
// servers' replies: a case file's list of problems keeps its lines (each
// escaped but for them), any other error is shown on one line with every
// control escaped, so a value in it cannot forge a line or drive the
// terminal.
func errorText(err error) string {
	var ve *incident.ValidationError
	if errors.As(err, &ve) {
		return textsafe.Block(err.Error())
	}
	return textsafe.Term(err.Error())
}

// exitCode maps an error to the process exit code, in this one place.
func exitCode(err error) int {
	var ue *usageError
	var ve *incident.ValidationError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.As(err, &ve):
		return exitUsage
	}
	return exitFailure
}

// Main runs breachctl with args and returns the exit code.
func Main(ctx context.Context, args []string, io IO, getenv incident.Getenv) int {
	d := newDeps(io, getenv)
	root := newRootCmd(d)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if d.stopProfile != nil {
		d.stopProfile()
	}
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		err = &usageError{fmt.Errorf("%v; run 'breachctl --help' for the list", err)}
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintf(io.Err, "breachctl: %s\n", errorText(err))
	}
	return exitCode(err)
}

const rootLong = `breachctl finds who was affected by a personal-data exposure, tells each of
them, and produces the regulator reports.

It correlates web-server or CDN access logs for the exposure window with the
organisation's user records: every cached private page served to somebody
other than its owner is an exposure event. Start with a case file
(incident.yaml, see 'breachctl validate --help'), then:

  breachctl validate -f incident.yaml                 check the case file, databases and logs
  breachctl ingest   -f incident.yaml                 parse, correlate, resolve; store a numbered run
  breachctl triage   -f incident.yaml                 the summary a security lead reads first
  breachctl affected -f incident.yaml                 the affected accounts (CSV or JSONL)
  breachctl disclose -f incident.yaml ID              one person's exposure, for the support desk
  breachctl runs     -f incident.yaml                 every run: evidence, counts, notices, reports
  breachctl diff     -f incident.yaml                 what changed between the two latest runs
  breachctl notify render -f incident.yaml --out DIR  one notice per person, nothing sent
  breachctl notify send -f incident.yaml --smtp URL   deliver them from a resumable ledger
  breachctl obligations -f incident.yaml              which laws, for whom, by when
  breachctl report -f incident.yaml --kind K          a regulator report (APPI, GDPR, CA, HIPAA)
  breachctl serve -f incident.yaml                    the support desk and the live case in a browser
  breachctl audit -f incident.yaml                    who looked at whose data in serve

To see it all on a realistic simulated incident first: breachctl demo
(or 'make demo' in the source tree).

The case database (all case state) is taken from --db, else
BREACHCTL_DATABASE_URL, else DATABASE_URL.

Exit codes:
  0  success
  1  failure (a database, a file or a server failed; the message says which)
  2  bad usage or a bad case file (every problem is listed with its field and line)`

func newRootCmd(d *deps) *cobra.Command {
	root := &cobra.Command{
		Use:           "breachctl",
		Short:         "Find, notify and report the people affected by a data exposure",
		Long:          rootLong,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(d.io.In)
	root.SetOut(d.io.Out)
	root.SetErr(d.io.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%v (see '%s --help')", err, c.CommandPath())}
	})
	root.PersistentFlags().StringVar(&d.dbURL, "db", "", "case database URL (default $BREACHCTL_DATABASE_URL, then $DATABASE_URL)")
	root.PersistentFlags().BoolVarP(&d.verbose, "verbose", "v", false, "log what is being done to stderr (user ids only, never personal data)")
	root.PersistentFlags().StringVar(&d.cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for performance work)")
	root.PersistentFlags().StringVar(&d.traceFile, "trace", "", "write an execution trace to this file (for performance work; go tool trace)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	_ = root.PersistentFlags().MarkHidden("trace")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		var stops []func()
		d.stopProfile = func() {
			for _, stop := range stops {
				stop()
			}
		}
		// record starts writing a profile to a file when its flag is set.
		record := func(flag, path string, start func(io.Writer) error, stop func()) error {
			if path == "" {
				return nil
			}
			f, err := os.Create(path)
			if err == nil {
				if err = start(f); err != nil {
					f.Close()
				}
			}
			if err != nil {
				return fmt.Errorf("--%s: %w", flag, err)
			}
			stops = append(stops, func() { stop(); f.Close() })
			return nil
		}
		if err := record("cpuprofile", d.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile); err != nil {
			return err
		}
		return record("trace", d.traceFile, trace.Start, trace.Stop)
	}
	root.AddCommand(
		newVersionCmd(d),
		newDBCmd(d),
		newValidateCmd(d),
		newSimulateCmd(d),
		newIngestCmd(d),
		newLoadCmd(d),
		newTriageCmd(d),
		newAffectedCmd(d),
		newDiscloseCmd(d),
		newRunsCmd(d),
		newDiffCmd(d),
		newNotifyCmd(d),
		newObligationsCmd(d),
		newReportCmd(d),
		newDemoCmd(d),
		newLogsCmd(d),
		newServeCmd(d),
		newAuditCmd(d),
	)
	return root
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q (see '%s --help')", cmd.CommandPath(), args[0], cmd.CommandPath())
	}
	return nil
}

// exactArgs requires n positional arguments.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s needs %s (see '%s --help')", cmd.CommandPath(), what, cmd.CommandPath())
		}
		return nil
	}
}

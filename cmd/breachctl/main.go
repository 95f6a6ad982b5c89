// Command breachctl finds the people affected by a personal-data exposure in
// access logs, tells each of them, and produces the regulator reports.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/breachctl/breachctl/incident"
)

func main() {
	os.Exit(mainWithSignals(os.Args[1:], systemIO(), os.LookupEnv))
}

// mainWithSignals runs Main under a context that the first SIGINT or SIGTERM
// cancels: every stage stops and says so (an ingest marks its run
// interrupted). A second signal ends the process at once, the default.
func mainWithSignals(args []string, io IO, getenv incident.Getenv) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	return Main(ctx, args, io, getenv)
}

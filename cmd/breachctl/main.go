// Command breachctl finds the people affected by a personal-data exposure in
// access logs, tells each of them, and produces the regulator reports.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], systemIO(), os.LookupEnv)
	stop()
	os.Exit(code)
}

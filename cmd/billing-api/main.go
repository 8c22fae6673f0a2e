// Command billing-api serves the Billing and Usage API and carries the
// operator commands that work on the same store.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	handleSignals(cancel)
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "billing-api:", err)
		os.Exit(1)
	}
}

// handleSignals cancels the command's context at the first SIGTERM or
// SIGINT, so it can finish cleanly, and exits at once at the second: an
// operator who repeats the signal does not want to wait.
func handleSignals(cancel context.CancelCauseFunc) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(fmt.Errorf("signal %v", s))
		s = <-sigs
		// The default logger is the configured one once a command has built it.
		slog.Error("second signal: exiting at once", "signal", s.String())
		os.Exit(1)
	}()
}

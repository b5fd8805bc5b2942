// Command irisha is the irisha CLI, also usable as the kubectl plugin
// `kubectl irisha` (install it on PATH as kubectl-irisha).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/irisha/irisha/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewRootCommand(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "irisha:", err)
		os.Exit(1)
	}
}

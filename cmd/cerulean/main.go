// Command cerulean is the one Cerulean binary: `serve` runs the registry server, `gc`
// collects garbage in its data directory, `bench` measures a server beside baselines; the
// management and identity verbs are clients of a running server. It only wires flags to
// the packages that do the work.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal shuts down gracefully; a second one kills at once
	}()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "cerulean:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "cerulean",
		Short: "An OCI and Azure Container Registry compatible registry",
		// main prints the error once; usage would bury it.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.AddCommand(newServeCmd(), newGCCmd(), newBenchCmd(), newAuditCmd())
	root.AddCommand(managementCommands()...)
	root.AddCommand(identityCommands()...)
	root.AddCommand(connectCommand())
	root.AddCommand(newInventoryCmd())
	return root
}

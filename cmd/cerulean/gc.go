package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/server"
)

func newGCCmd() *cobra.Command {
	var (
		stores server.Stores
		opts   registry.GCOptions
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove blobs (and, with --untagged, manifests) that nothing references",
		Long: `Remove blobs that no manifest references and, with --untagged, manifests that no tag
reaches. Safe while a server runs on the same data directory, or while replicas serve the
same shared stores (--metadata, --blobs): blobs pushed or linked within --grace are kept, so
pushes in progress keep theirs, and a blob is released in one transaction that re-checks
that no manifest references it. On shared stores only one run at a time: a second exits
with an error while the first holds the stores' GC lock. Flags also read CERULEAN_<FLAG>.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := server.Resolve(cmd.Flags(), os.LookupEnv); err != nil {
				return err
			}
			log := server.NewLogger(cmd.ErrOrStderr(), "auto", "info")
			return server.GC(cmd.Context(), stores, opts, cmd.OutOrStdout(), log)
		},
	}
	cmd.Flags().StringVar(&stores.DataDir, "data", "./data", "data `dir`ectory of the server")
	server.BindStoreFlags(cmd.Flags(), &stores)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be removed, remove nothing")
	cmd.Flags().BoolVar(&opts.Untagged, "untagged", false, "also remove manifests that no tag reaches")
	cmd.Flags().DurationVar(&opts.Grace, "grace", time.Hour, "keep blobs pushed or linked within this `duration`")
	cmd.Flags().DurationVar(&opts.UploadTTL, "upload-ttl", 24*time.Hour, "end upload sessions idle for longer than this `duration` (0: keep all)")
	return cmd
}

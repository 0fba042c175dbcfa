package main

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/bench"
)

func newBenchCmd() *cobra.Command {
	var (
		opts   bench.Options
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure push, pull and manifest GET throughput beside same-run baselines",
		Long: `Start this binary as a server on a scratch data directory and measure: a big blob
pushed and pulled, small images pushed and pulled by concurrent clients, and manifest GETs
in a repository with one tag and with many, each beside a baseline measured in the same run
(Go's file server for pulls, raw write + SHA-256 + fsync for pushes), and the server's peak
memory. Exits non-zero when the peak RSS exceeds 50 MB.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			opts.Binary = self
			rep, err := bench.Run(cmd.Context(), opts, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			}
			if !rep.WithinRSSLimit() {
				return errors.New("server peak RSS over the 50 MB limit")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.WorkDir, "work-dir", "", "`dir`ectory for the scratch data (default: the system temp dir; use the disk to measure)")
	f.Int64Var(&opts.BigBlob, "big-blob", 512<<20, "size of the big blob in `bytes`")
	f.IntVar(&opts.SmallImages, "images", 1000, "small (4 KiB) images to push and pull")
	f.IntVar(&opts.Concurrency, "concurrency", 16, "concurrent clients for small images")
	f.IntVar(&opts.ManifestConns, "connections", 32, "connections for manifest GETs")
	f.DurationVar(&opts.ManifestDuration, "duration", 0, "length of each manifest GET measurement (default 5s)")
	f.IntVar(&opts.Tags, "tags", 10000, "tags in the large repository")
	f.IntVar(&opts.Rounds, "rounds", 3, "rounds of every measurement, each of the baseline and then Cerulean; figures are their medians (the server and the baseline each keep 4 × rounds big blobs)")
	f.BoolVar(&opts.Keep, "keep", false, "keep the scratch directory (server data and log)")
	f.BoolVar(&asJSON, "json", false, "also print the report as JSON")
	cmd.AddCommand(newBenchFilesCmd())
	return cmd
}

// newBenchFilesCmd is the pull baseline's file server, which the bench starts as a
// process of its own.
func newBenchFilesCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "files",
		Short:  "Serve a directory with Go's file server over TLS (the bench's pull baseline)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.ServeFiles(cmd.Context(), dir, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "`directory` to serve")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

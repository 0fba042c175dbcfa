package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/server"
)

func newServeCmd() *cobra.Command {
	var cfg server.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry server",
		Long: `Run the registry server on one HTTPS listener.

Every flag can also be set with CERULEAN_<FLAG> (e.g. CERULEAN_DATA, CERULEAN_TLS_CERT) or in
the YAML file given by --config, keyed by flag name; a flag beats the environment, which
beats the file. On first start it creates the data directory and a local CA in DIR/tls.
While it serves, DIR/run/serve.json names the actual addresses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := server.Resolve(cmd.Flags(), os.LookupEnv); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			return server.Serve(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cfg.Flags(cmd.Flags())
	return cmd
}

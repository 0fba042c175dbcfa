package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/server"
)

func newAuditCmd() *cobra.Command {
	audit := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log: every allow and deny of the data plane",
		Args:  cobra.NoArgs,
	}
	var (
		stores server.Stores
		opts   server.AuditListOptions
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
		Long: `List the data plane's decisions (every allow and deny of a /v2 or /acr/v1 request), newest
first, from the metadata store of a data directory. Safe while a server runs on it; a
decision reaches the store within a second. --data also reads CERULEAN_DATA.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v, ok := os.LookupEnv(server.EnvName("data")); ok && !cmd.Flags().Changed("data") {
				stores.DataDir = v
			}
			return server.AuditList(cmd.Context(), stores, opts, cmd.OutOrStdout())
		},
	}
	f := list.Flags()
	f.StringVar(&stores.DataDir, "data", "./data", "data `dir`ectory of the server")
	server.BindStoreFlags(f, &stores)
	f.StringVar(&opts.Registry, "registry", "", "only this registry (`name or id`)")
	f.StringVar(&opts.Principal, "principal", "", "only this `principal` (admin:<name>, token:<name>, entra:<tenant>/<object id>, anonymous)")
	f.StringVar(&opts.Repository, "repository", "", "only this `repository`")
	f.BoolVar(&opts.Denied, "denied", false, "only denials")
	f.StringVar(&opts.Since, "since", "", "only events since this `time` (RFC 3339) or this long ago (1h)")
	f.StringVar(&opts.Until, "until", "", "only events before this `time` (RFC 3339) or this long ago")
	f.IntVar(&opts.Limit, "limit", 100, "at most `n` events (0: all)")
	f.StringVarP(&opts.Output, "output", "o", "table", "output `format`: table or json")
	audit.AddCommand(list)
	return audit
}

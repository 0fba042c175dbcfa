package main

import (
	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/management/cli"
)

// managementCommands are the `az acr`-like verbs of the management plane (package
// management/cli), with `token generate` (connect.go) added to their `token` command.
func managementCommands() []*cobra.Command {
	cmds := cli.Commands()
	for _, c := range cmds {
		if c.Name() == "token" {
			c.AddCommand(tokenGenerateCmd())
		}
	}
	return cmds
}

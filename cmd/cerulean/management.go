package main

import (
	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/management/cli"
)

// managementCommands are the `az acr`-like verbs of the management plane (package
// management/cli).
func managementCommands() []*cobra.Command { return cli.Commands() }

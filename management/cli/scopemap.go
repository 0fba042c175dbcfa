package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/spf13/cobra"
)

var scopeMapColumns = []column{
	{"NAME", "name"}, {"TYPE", "properties.type"}, {"CREATION DATE", "properties.creationDate"},
	{"DESCRIPTION", "properties.description"}, {"ACTIONS", "properties.actions"},
}

// repositoryActions turns --repository REPO=ACTION[,ACTION…] values (the Azure CLI's
// "--repository REPO ACTION…") into scope-map actions: repositories/REPO/ACTION.
func repositoryActions(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		repo, actions, ok := strings.Cut(v, "=")
		if !ok || repo == "" || actions == "" {
			return nil, fmt.Errorf("--repository %q: want REPOSITORY=ACTION[,ACTION...], e.g. samples/hello=content/read,metadata/read", v)
		}
		for _, a := range strings.Split(actions, ",") {
			out = append(out, "repositories/"+repo+"/"+strings.TrimSpace(a))
		}
	}
	return out, nil
}

func scopeMapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "scope-map", Short: "Manage scope maps: what repository tokens may do (az acr scope-map)"}
	cmd.AddCommand(scopeMapWriteCmd(g, true), scopeMapWriteCmd(g, false))
	help := childHelp{list: "List a registry's scope maps, system-defined ones included", show: "Show a scope map", del: "Delete a scope map no token uses"}
	cmd.AddCommand(childCmds(g, help, scopeMapColumns, func(c *conn) childCalls {
		maps := c.acr.NewScopeMapsClient()
		return bindChild(maps.NewListPager, maps.Get, maps.BeginDelete)
	})...)
	return cmd
}

// scopeMapWriteCmd is `scope-map create` or `scope-map update`.
func scopeMapWriteCmd(g *globals, create bool) *cobra.Command {
	var (
		m                       child
		description             string
		repos, removed, actions []string
	)
	use, short := "update -n NAME -r REGISTRY [--add-repository REPO=ACTIONS] [--remove-repository REPO=ACTIONS]", "Change a scope map's actions or description"
	if create {
		use, short = "create -n NAME -r REGISTRY --repository REPO=ACTIONS …", "Create a scope map"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: g.show(&m.reg, scopeMapColumns, func(ctx context.Context, cmd *cobra.Command, c *conn) error {
			add, err := repositoryActions(repos)
			if err != nil {
				return err
			}
			remove, err := repositoryActions(removed)
			if err != nil {
				return err
			}
			add = append(add, actions...)
			maps := c.acr.NewScopeMapsClient()
			if create {
				p, err := maps.BeginCreate(ctx, m.reg.group, m.reg.name, m.name, armcontainerregistry.ScopeMap{
					Properties: &armcontainerregistry.ScopeMapProperties{Description: &description, Actions: to.SliceOfPtrs(add...)}}, nil)
				return done(ctx, p, err)
			}
			current, err := maps.Get(ctx, m.reg.group, m.reg.name, m.name, nil)
			if err != nil {
				return err
			}
			var next []string
			for _, a := range current.Properties.Actions {
				if !slices.Contains(remove, *a) && !slices.Contains(add, *a) {
					next = append(next, *a)
				}
			}
			u := armcontainerregistry.ScopeMapPropertiesUpdateParameters{Actions: to.SliceOfPtrs(append(next, add...)...)}
			if cmd.Flags().Changed("description") {
				u.Description = &description
			}
			p, err := maps.BeginUpdate(ctx, m.reg.group, m.reg.name, m.name, armcontainerregistry.ScopeMapUpdateParameters{Properties: &u}, nil)
			return done(ctx, p, err)
		}),
	}
	m.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&description, "description", "", "`text` describing the scope map")
	f.StringArrayVar(&actions, "action", nil, "a scope-map `action` as ARM writes it, e.g. repositories/samples/*/content/read (repeatable)")
	if create {
		f.StringArrayVar(&repos, "repository", nil, "`REPO=ACTIONS`: a repository (or prefix/*) and its comma-separated actions: content/read, content/write, content/delete, metadata/read, metadata/write (repeatable)")
	} else {
		f.StringArrayVar(&repos, "add-repository", nil, "`REPO=ACTIONS` to add (repeatable)")
		f.StringArrayVar(&removed, "remove-repository", nil, "`REPO=ACTIONS` to remove (repeatable)")
	}
	return cmd
}

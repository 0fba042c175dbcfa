package cli

import (
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

// child names a scope map or token of a registry: -n, -r and optionally -g.
type child struct {
	name string
	reg  target
}

func (c *child) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&c.name, "name", "n", "", "`name`")
	cmd.Flags().StringVarP(&c.reg.name, "registry", "r", "", "registry `name`")
	cmd.Flags().StringVarP(&c.reg.group, "resource-group", "g", "", "resource `group` (default: found by the registry's name)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("registry")
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
	cmd.AddCommand(scopeMapWriteCmd(g, true), scopeMapWriteCmd(g, false), scopeMapListCmd(g), scopeMapShowCmd(g), scopeMapDeleteCmd(g))
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := c.resolve(ctx, &m.reg); err != nil {
				return err
			}
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
			cctx, resp := capture(ctx)
			if create {
				p, err := maps.BeginCreate(cctx, m.reg.group, m.reg.name, m.name, armcontainerregistry.ScopeMap{
					Properties: &armcontainerregistry.ScopeMapProperties{Description: &description, Actions: to.SliceOfPtrs(add...)}}, nil)
				if err == nil {
					_, err = p.PollUntilDone(cctx, nil)
				}
				if err != nil {
					return err
				}
				return c.printCaptured(*resp, scopeMapColumns)
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
			p, err := maps.BeginUpdate(cctx, m.reg.group, m.reg.name, m.name, armcontainerregistry.ScopeMapUpdateParameters{Properties: &u}, nil)
			if err == nil {
				_, err = p.PollUntilDone(cctx, nil)
			}
			if err != nil {
				return err
			}
			return c.printCaptured(*resp, scopeMapColumns)
		},
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

func scopeMapListCmd(g *globals) *cobra.Command {
	var reg target
	cmd := &cobra.Command{
		Use: "list -r REGISTRY", Short: "List a registry's scope maps, system-defined ones included", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect(cmd)
			if err != nil {
				return err
			}
			if err := c.resolve(cmd.Context(), &reg); err != nil {
				return err
			}
			items, err := collect(cmd.Context(), c.acr.NewScopeMapsClient().NewListPager(reg.group, reg.name, nil))
			if err != nil {
				return err
			}
			return c.out.list(items, scopeMapColumns)
		},
	}
	reg.flags(cmd, "registry")
	return cmd
}

func scopeMapShowCmd(g *globals) *cobra.Command {
	var m child
	cmd := &cobra.Command{
		Use: "show -n NAME -r REGISTRY", Short: "Show a scope map", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect(cmd)
			if err != nil {
				return err
			}
			if err := c.resolve(cmd.Context(), &m.reg); err != nil {
				return err
			}
			ctx, resp := capture(cmd.Context())
			if _, err := c.acr.NewScopeMapsClient().Get(ctx, m.reg.group, m.reg.name, m.name, nil); err != nil {
				return err
			}
			return c.printCaptured(*resp, scopeMapColumns)
		},
	}
	m.flags(cmd)
	return cmd
}

func scopeMapDeleteCmd(g *globals) *cobra.Command {
	var m child
	cmd := &cobra.Command{
		Use: "delete -n NAME -r REGISTRY", Short: "Delete a scope map no token uses", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect(cmd)
			if err != nil {
				return err
			}
			if err := c.resolve(cmd.Context(), &m.reg); err != nil {
				return err
			}
			p, err := c.acr.NewScopeMapsClient().BeginDelete(cmd.Context(), m.reg.group, m.reg.name, m.name, nil)
			if err == nil {
				_, err = p.PollUntilDone(cmd.Context(), nil)
			}
			return err
		},
	}
	m.flags(cmd)
	return cmd
}

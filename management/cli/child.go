package cli

import (
	"context"
	"encoding/json"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/spf13/cobra"
)

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

// childCalls are the SDK calls that the list, show and delete verbs of a registry's
// scope maps or tokens make: the same three calls, on clients of different types.
type childCalls struct {
	list func(ctx context.Context, reg target) ([]json.RawMessage, error)
	get  func(ctx context.Context, m child) error
	del  func(ctx context.Context, m child) error
}

// bindChild makes the childCalls of a client from its NewListPager, Get and BeginDelete
// methods, whose option and response types are the client's own.
func bindChild[LO, L, GO, G, DO, D any](
	list func(group, registry string, opts *LO) *runtime.Pager[L],
	get func(ctx context.Context, group, registry, name string, opts *GO) (G, error),
	del func(ctx context.Context, group, registry, name string, opts *DO) (*runtime.Poller[D], error),
) childCalls {
	return childCalls{
		list: func(ctx context.Context, reg target) ([]json.RawMessage, error) {
			return collect(ctx, list(reg.group, reg.name, nil))
		},
		get: func(ctx context.Context, m child) error {
			_, err := get(ctx, m.reg.group, m.reg.name, m.name, nil)
			return err
		},
		del: func(ctx context.Context, m child) error {
			p, err := del(ctx, m.reg.group, m.reg.name, m.name, nil)
			return done(ctx, p, err)
		},
	}
}

// childHelp is the short help of a child kind's list, show and delete verbs.
type childHelp struct{ list, show, del string }

// childCmds returns the list, show and delete verbs of a registry's scope maps or
// tokens; calls binds the kind's SDK client once connected.
func childCmds(g *globals, help childHelp, cols []column, calls func(*conn) childCalls) []*cobra.Command {
	var reg target
	list := &cobra.Command{
		Use: "list -r REGISTRY", Short: help.list, Args: cobra.NoArgs,
		RunE: g.verb(&reg, func(cmd *cobra.Command, c *conn) error {
			items, err := calls(c).list(cmd.Context(), reg)
			if err != nil {
				return err
			}
			return c.out.list(items, cols)
		}),
	}
	reg.flags(list, "registry")
	var shown child
	show := &cobra.Command{
		Use: "show -n NAME -r REGISTRY", Short: help.show, Args: cobra.NoArgs,
		RunE: g.show(&shown.reg, cols, func(ctx context.Context, _ *cobra.Command, c *conn) error {
			return calls(c).get(ctx, shown)
		}),
	}
	shown.flags(show)
	var deleted child
	del := &cobra.Command{
		Use: "delete -n NAME -r REGISTRY", Short: help.del, Args: cobra.NoArgs,
		RunE: g.verb(&deleted.reg, func(cmd *cobra.Command, c *conn) error {
			return calls(c).del(cmd.Context(), deleted)
		}),
	}
	deleted.flags(del)
	return []*cobra.Command{list, show, del}
}

package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

var groupColumns = []column{{"NAME", "name"}, {"LOCATION", "location"}, {"STATUS", "properties.provisioningState"}}

// groupCmd manages resource groups through the SDK's ARM pipeline (raw requests: the
// resources SDK module is not worth its weight for three calls).
func groupCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage resource groups (az group)"}
	var (
		name, location string
		tags           map[string]string
	)
	create := &cobra.Command{
		Use: "create -n NAME [-l LOCATION]", Short: "Create a resource group, or change its tags", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.run(cmd, http.MethodPut, "/resourcegroups/"+url.PathEscape(name), map[string]any{"location": location, "tags": tags}, false)
		},
	}
	create.Flags().StringVarP(&name, "name", "n", "", "resource group `name`")
	create.Flags().StringVarP(&location, "location", "l", "local", "`location`")
	create.Flags().StringToStringVar(&tags, "tags", nil, "`key=value` tags")
	_ = create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use: "list", Short: "List resource groups", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.run(cmd, http.MethodGet, "/resourcegroups", nil, true)
		},
	}
	var del string
	remove := &cobra.Command{
		Use: "delete -n NAME", Short: "Delete a resource group with its registries and their content", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.run(cmd, http.MethodDelete, "/resourcegroups/"+url.PathEscape(del), nil, false)
		},
	}
	remove.Flags().StringVarP(&del, "name", "n", "", "resource group `name`")
	_ = remove.MarkFlagRequired("name")
	cmd.AddCommand(create, list, remove)
	return cmd
}

// run sends a raw request under the subscription and prints the answer.
func (g *globals) run(cmd *cobra.Command, method, path string, body any, isList bool) error {
	c, err := g.connect(cmd)
	if err != nil {
		return err
	}
	out, err := c.send(cmd.Context(), method, "/subscriptions/"+c.subscription+path, body)
	if err != nil || len(out) == 0 {
		return err
	}
	if isList {
		items, err := values(out)
		if err != nil {
			return err
		}
		return c.out.list(items, groupColumns)
	}
	return c.out.item(out, groupColumns)
}

func activityLogCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "activity-log", Short: "List management writes, allowed and refused (az monitor activity-log)"}
	var (
		offset                           time.Duration
		group, resource, correlation, at string
	)
	list := &cobra.Command{
		Use: "list [--offset 6h] [-g GROUP] [--resource-id ID]", Short: "List the activity log, newest first", Args: cobra.NoArgs,
		RunE: g.verb(nil, func(cmd *cobra.Command, c *conn) error {
			start := time.Now().Add(-offset).UTC()
			if at != "" {
				var err error
				if start, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--start-time: %w", err)
				}
			}
			filter := "eventTimestamp ge '" + start.Format(time.RFC3339Nano) + "'"
			for _, f := range []struct{ field, v string }{{"resourceGroupName", group}, {"resourceUri", resource}, {"correlationId", correlation}} {
				if f.v != "" {
					filter += " and " + f.field + " eq '" + f.v + "'"
				}
			}
			body, err := c.send(cmd.Context(), http.MethodGet, "/subscriptions/"+c.subscription+
				"/providers/Microsoft.Insights/eventtypes/management/values?$filter="+url.QueryEscape(filter), nil)
			if err != nil {
				return err
			}
			items, err := values(body)
			if err != nil {
				return err
			}
			return c.out.list(items, []column{{"TIME", "eventTimestamp"}, {"STATUS", "status.value"}, {"OPERATION", "operationName.value"},
				{"CALLER", "caller"}, {"RESOURCE", "resourceId"}})
		}),
	}
	f := list.Flags()
	f.DurationVar(&offset, "offset", 6*time.Hour, "how far back to list")
	f.StringVar(&at, "start-time", "", "list from this RFC 3339 `time` instead of --offset")
	f.StringVarP(&group, "resource-group", "g", "", "only this resource `group`")
	f.StringVar(&resource, "resource-id", "", "only this resource (`id`) and those below it")
	f.StringVar(&correlation, "correlation-id", "", "only this operation (`id`)")
	cmd.AddCommand(list)
	return cmd
}

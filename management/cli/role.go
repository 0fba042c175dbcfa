package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/internal/guid"
)

var assignmentColumns = []column{
	{"PRINCIPAL", "properties.principalId"}, {"ROLE", "properties.roleDefinitionId"}, {"SCOPE", "properties.scope"},
	{"NAME", "name"}, {"CONDITION", "properties.condition"},
}

func roleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage role assignments and list role definitions (az role)"}
	assignment := &cobra.Command{Use: "assignment", Short: "Grant, list and revoke roles"}
	assignment.AddCommand(assignmentCreateCmd(g), assignmentListCmd(g), assignmentDeleteCmd(g))
	definition := &cobra.Command{Use: "definition", Short: "List the built-in roles"}
	definition.AddCommand(definitionListCmd(g))
	cmd.AddCommand(assignment, definition)
	return cmd
}

// scopeFlags are --scope, or --registry (-g) as a shorthand for a registry's scope.
type scopeFlags struct {
	scope string
	reg   target
}

func (s *scopeFlags) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.scope, "scope", "", "`scope`: a subscription, resource group or registry id (default: the subscription)")
	cmd.Flags().StringVarP(&s.reg.name, "registry", "r", "", "registry `name`: its id as the scope")
	cmd.Flags().StringVarP(&s.reg.group, "resource-group", "g", "", "resource `group` of --registry, or the scope itself without --registry")
}

func (s *scopeFlags) resolve(cmd *cobra.Command, c *conn) (string, error) {
	switch {
	case s.scope != "" && (s.reg.name != "" || s.reg.group != ""):
		return "", fmt.Errorf("--scope excludes --registry and --resource-group")
	case s.scope != "":
		return s.scope, nil
	case s.reg.name != "":
		if err := c.resolve(cmd.Context(), &s.reg); err != nil {
			return "", err
		}
		return registryPath(c.subscription, s.reg), nil
	case s.reg.group != "":
		return "/subscriptions/" + c.subscription + "/resourceGroups/" + s.reg.group, nil
	}
	return "/subscriptions/" + c.subscription, nil
}

// roleID resolves a role name (AcrPull) or id to the role definition id, as
// `az role assignment create --role` does: by listing role definitions at the scope.
func (c *conn) roleID(cmd *cobra.Command, scope, role string) (string, error) {
	defs := c.authz.NewRoleDefinitionsClient()
	if guid.Valid(role) {
		d, err := defs.Get(cmd.Context(), scope, role, nil)
		if err != nil {
			return "", err
		}
		return *d.ID, nil
	}
	page, err := defs.NewListPager(scope, &armauthorization.RoleDefinitionsClientListOptions{
		Filter: to.Ptr(roleNameFilter(role))}).NextPage(cmd.Context())
	if err != nil {
		return "", err
	}
	if len(page.Value) != 1 {
		return "", fmt.Errorf("role %q not found (cerulean role definition list shows them)", role)
	}
	return *page.Value[0].ID, nil
}

// roleNameFilter is the OData filter on a role definition's name; OData escapes a quote
// by doubling it.
func roleNameFilter(name string) string {
	return "roleName eq '" + strings.ReplaceAll(name, "'", "''") + "'"
}

func assignmentCreateCmd(g *globals) *cobra.Command {
	var (
		sc                                             scopeFlags
		assignee, role, ptype, condition, cv, descript string
	)
	cmd := &cobra.Command{
		Use:   "create --assignee OBJECT_ID --role NAME|ID [--scope SCOPE | -r REGISTRY | -g GROUP]",
		Short: "Grant a role to a principal at a scope (only Owners and User Access Administrators may)",
		Args:  cobra.NoArgs,
		RunE: g.show(nil, assignmentColumns, func(ctx context.Context, cmd *cobra.Command, c *conn) error {
			if !guid.Valid(assignee) {
				return fmt.Errorf("--assignee %q: give the principal's object id", assignee)
			}
			scope, err := sc.resolve(cmd, c)
			if err != nil {
				return err
			}
			roleID, err := c.roleID(cmd, scope, role)
			if err != nil {
				return err
			}
			props := &armauthorization.RoleAssignmentProperties{RoleDefinitionID: &roleID, PrincipalID: &assignee,
				PrincipalType: to.Ptr(armauthorization.PrincipalType(ptype))}
			if condition != "" {
				props.Condition, props.ConditionVersion = &condition, to.Ptr(cmp.Or(cv, "2.0"))
			}
			if descript != "" {
				props.Description = &descript
			}
			_, err = c.authz.NewRoleAssignmentsClient().Create(ctx, scope, guid.New(), armauthorization.RoleAssignmentCreateParameters{
				Properties: props}, nil)
			return err
		}),
	}
	sc.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&assignee, "assignee", "", "object `id` of the principal")
	f.StringVar(&role, "role", "", "role `name` (AcrPull, AcrPush, Reader, Owner, …) or id")
	f.StringVar(&ptype, "assignee-principal-type", "ServicePrincipal", "`type` of the principal: ServicePrincipal, User or Group")
	f.StringVar(&condition, "condition", "", "ABAC `condition` on repository names (AbacRepositoryPermissions registries)")
	f.StringVar(&cv, "condition-version", "", "condition `version` (2.0)")
	f.StringVar(&descript, "description", "", "`text` describing the assignment")
	_ = cmd.MarkFlagRequired("assignee")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func assignmentListCmd(g *globals) *cobra.Command {
	var (
		sc       scopeFlags
		assignee string
		atScope  bool
	)
	cmd := &cobra.Command{
		Use:   "list [--scope SCOPE] [--assignee OBJECT_ID]",
		Short: "List the role assignments that apply at a scope, and those below it",
		Args:  cobra.NoArgs,
		RunE: g.verb(nil, func(cmd *cobra.Command, c *conn) error {
			scope, err := sc.resolve(cmd, c)
			if err != nil {
				return err
			}
			var filters []string
			if atScope {
				filters = append(filters, "atScope()")
			}
			if assignee != "" {
				filters = append(filters, "assignedTo('"+assignee+"')")
			}
			opts := &armauthorization.RoleAssignmentsClientListForScopeOptions{}
			if len(filters) > 0 {
				opts.Filter = to.Ptr(strings.Join(filters, " and "))
			}
			items, err := collect(cmd.Context(), c.authz.NewRoleAssignmentsClient().NewListForScopePager(scope, opts))
			if err != nil {
				return err
			}
			return c.out.list(items, assignmentColumns)
		}),
	}
	sc.flags(cmd)
	cmd.Flags().StringVar(&assignee, "assignee", "", "only this principal's (object `id`)")
	cmd.Flags().BoolVar(&atScope, "at-scope", false, "only those at the scope and above it")
	return cmd
}

func assignmentDeleteCmd(g *globals) *cobra.Command {
	var ids []string
	cmd := &cobra.Command{
		Use:   "delete --ids ASSIGNMENT_ID …",
		Short: "Revoke role assignments by id; the principal loses the role on its next request",
		Args:  cobra.NoArgs,
		RunE: g.verb(nil, func(cmd *cobra.Command, c *conn) error {
			var deleted []json.RawMessage
			for _, id := range ids {
				ctx, resp := capture(cmd.Context())
				if _, err := c.authz.NewRoleAssignmentsClient().DeleteByID(ctx, id, nil); err != nil {
					return err
				}
				if body, err := payload(*resp); err == nil && len(body) > 0 {
					deleted = append(deleted, body)
				}
			}
			return c.out.list(deleted, assignmentColumns)
		}),
	}
	cmd.Flags().StringSliceVar(&ids, "ids", nil, "role assignment `ids` (from role assignment list)")
	_ = cmd.MarkFlagRequired("ids")
	return cmd
}

func definitionListCmd(g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use: "list [--name ROLE]", Short: "List the built-in role definitions", Args: cobra.NoArgs,
		RunE: g.verb(nil, func(cmd *cobra.Command, c *conn) error {
			opts := &armauthorization.RoleDefinitionsClientListOptions{}
			if name != "" {
				opts.Filter = to.Ptr(roleNameFilter(name))
			}
			items, err := collect(cmd.Context(), c.authz.NewRoleDefinitionsClient().NewListPager("/subscriptions/"+c.subscription, opts))
			if err != nil {
				return err
			}
			return c.out.list(items, []column{{"NAME", "properties.roleName"}, {"ID", "name"}, {"DESCRIPTION", "properties.description"}})
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "only the role of this `name`")
	return cmd
}

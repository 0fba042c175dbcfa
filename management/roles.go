package management

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/internal/guid"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Role assignments and role definitions (Microsoft.Authorization 2022-04-01). Only the
// built-in roles of package access exist; assignments are made at a subscription, a
// resource group or a registry and apply to every scope below.

type roleAssignmentJSON struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Type       string              `json:"type"`
	Properties roleAssignmentProps `json:"properties"`
}

type roleAssignmentProps struct {
	RoleDefinitionID string  `json:"roleDefinitionId"`
	PrincipalID      string  `json:"principalId"`
	PrincipalType    string  `json:"principalType"`
	Scope            string  `json:"scope"`
	Condition        *string `json:"condition"`
	ConditionVersion *string `json:"conditionVersion"`
	Description      *string `json:"description"`
	CreatedOn        *string `json:"createdOn"`
	UpdatedOn        *string `json:"updatedOn"`
	CreatedBy        string  `json:"createdBy"`
	UpdatedBy        string  `json:"updatedBy"`
	// DelegatedManagedIdentityResourceID is always null: there are no delegated identities.
	DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId"`
}

type roleDefinitionJSON struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Type       string              `json:"type"`
	Properties roleDefinitionProps `json:"properties"`
}

type roleDefinitionProps struct {
	RoleName         string           `json:"roleName"`
	Type             string           `json:"type"`
	Description      string           `json:"description"`
	AssignableScopes []string         `json:"assignableScopes"`
	Permissions      []permissionJSON `json:"permissions"`
}

type permissionJSON struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// principalTypes are the principal types ARM accepts.
var principalTypes = []string{"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}

// roleDefinitionID is the id of a role definition as seen from sc: ARM puts it under the
// scope's subscription.
func roleDefinitionID(sc scope, id string) string {
	prefix := ""
	if sc.Sub != "" {
		prefix = subscriptionID(sc.Sub)
	}
	return prefix + "/providers/" + typeRoleDefinition + "/" + id
}

func assignmentID(sc string, name string) string {
	return strings.TrimRight(sc, "/") + "/providers/" + typeRoleAssignment + "/" + name
}

func toRoleAssignmentJSON(a *meta.RoleAssignment) roleAssignmentJSON {
	sc, _ := parseScope(a.Scope) // stored scopes were parsed when created
	j := roleAssignmentJSON{ID: assignmentID(a.Scope, a.Name), Name: a.Name, Type: typeRoleAssignment,
		Properties: roleAssignmentProps{RoleDefinitionID: roleDefinitionID(sc, a.RoleDefinitionID),
			PrincipalID: a.PrincipalID, PrincipalType: a.PrincipalType, Scope: a.Scope,
			CreatedOn: timestamp(a.Created.At), UpdatedOn: timestamp(a.Updated.At), CreatedBy: a.Created.By, UpdatedBy: a.Updated.By}}
	if a.Condition != "" {
		j.Properties.Condition, j.Properties.ConditionVersion = &a.Condition, &a.ConditionVersion
	}
	if a.Description != "" {
		j.Properties.Description = &a.Description
	}
	return j
}

func toRoleDefinitionJSON(sc scope, r access.RoleDefinition) roleDefinitionJSON {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return roleDefinitionJSON{ID: roleDefinitionID(sc, r.ID), Name: r.ID, Type: typeRoleDefinition,
		Properties: roleDefinitionProps{RoleName: r.Name, Type: "BuiltInRole", Description: r.Description,
			AssignableScopes: []string{"/"}, Permissions: []permissionJSON{{Actions: nonNil(r.Actions),
				NotActions: nonNil(r.NotActions), DataActions: nonNil(r.DataActions), NotDataActions: nonNil(r.NotDataActions)}}}}
}

func assignmentNotFound(name string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "RoleAssignmentNotFound",
		Message: fmt.Sprintf("The role assignment '%s' is not found.", name)}
}

// checkScopeExists answers 404 for an assignment scope whose resource group or registry
// does not exist (the subscription was checked with the request).
func (s *Service) checkScopeExists(ctx context.Context, sc scope) error {
	switch {
	case sc.Registry != "":
		_, err := s.loadRegistry(ctx, &params{sub: sc.Sub, group: sc.Group, registry: sc.Registry})
		return err
	case sc.Group != "":
		_, err := s.store.ResourceGroup(ctx, sc.Sub, sc.Group)
		return s.notFound(err, groupNotFound(sc.Group))
	}
	return nil
}

// assignmentAt returns the named assignment when it is at sc.
func (s *Service) assignmentAt(ctx context.Context, sc scope, name string) (*meta.RoleAssignment, error) {
	a, err := s.store.RoleAssignment(ctx, name)
	if err != nil {
		return nil, s.notFound(err, assignmentNotFound(name))
	}
	if scopeKey(a.Scope) != scopeKey(sc.String()) {
		return nil, assignmentNotFound(name)
	}
	return a, nil
}

func (s *Service) getRoleAssignment(ctx context.Context, c *call) (*reply, error) {
	a, err := s.assignmentAt(ctx, c.p.scope, c.p.name)
	if err != nil {
		return nil, err
	}
	return ok(toRoleAssignmentJSON(a))
}

// listRoleAssignments lists the assignments that apply at the scope (at it and above)
// and, unless $filter has atScope(), those below it, optionally of one principal
// ($filter principalId eq '…' or assignedTo('…')).
func (s *Service) listRoleAssignments(ctx context.Context, c *call) (*reply, error) {
	q := meta.RoleAssignmentQuery{AtScopes: c.p.scope.ancestors(), Under: c.p.scope.String()}
	for _, clause := range filterClauses(c.query.Get("$filter")) {
		switch lower := strings.ToLower(clause); {
		case lower == "atscope()":
			q.Under = ""
		case strings.HasPrefix(lower, "principalid eq "):
			q.PrincipalIDs = append(q.PrincipalIDs, unquote(clause[len("principalid eq "):]))
		case strings.HasPrefix(lower, "assignedto(") && strings.HasSuffix(lower, ")"):
			q.PrincipalIDs = append(q.PrincipalIDs, unquote(clause[len("assignedto("):len(clause)-1]))
		default:
			return nil, badFilter(clause)
		}
	}
	as, err := s.store.RoleAssignments(ctx, q)
	if err != nil {
		return nil, err
	}
	out := []roleAssignmentJSON{}
	for i := range as {
		out = append(out, toRoleAssignmentJSON(&as[i]))
	}
	return ok(list(out))
}

type roleAssignmentInput struct {
	Properties *struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Description      string `json:"description"`
		Condition        string `json:"condition"`
		ConditionVersion string `json:"conditionVersion"`
	} `json:"properties"`
}

// putRoleAssignment creates a role assignment. Assignments cannot be changed, as in ARM:
// delete and create again.
func (s *Service) putRoleAssignment(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = assignmentID(c.p.scope.String(), c.p.name)
	var in roleAssignmentInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !guid.Valid(c.p.name) {
		return nil, badRequest("InvalidRoleAssignmentId", fmt.Sprintf(
			"The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", c.p.name))
	}
	p := in.Properties
	if p == nil || p.RoleDefinitionID == "" || p.PrincipalID == "" {
		return nil, badRequest("InvalidRoleAssignmentRequest", "The role assignment needs properties.roleDefinitionId and properties.principalId.")
	}
	if c.p.scope == (scope{}) {
		return nil, badRequest("InvalidScope", "Role assignments are made at a subscription, a resource group or a registry, not at the root scope.")
	}
	role, known := access.BuiltInRole(lastSegment(p.RoleDefinitionID))
	if !known || !guid.Valid(lastSegment(p.RoleDefinitionID)) {
		return nil, badRequest("RoleDefinitionDoesNotExist", fmt.Sprintf("The specified role definition with ID '%s' does not exist.",
			lastSegment(p.RoleDefinitionID)))
	}
	if !guid.Valid(p.PrincipalID) {
		return nil, badRequest("InvalidPrincipalId", fmt.Sprintf("The principal ID '%s' is not valid. It must be a GUID.", p.PrincipalID))
	}
	ptype, err := s.principalType(ctx, c.caller.TenantID, p.PrincipalID, p.PrincipalType)
	if err != nil {
		return nil, err
	}
	if p.Condition != "" {
		if p.ConditionVersion == "" {
			p.ConditionVersion = "2.0"
		}
		if p.ConditionVersion != "2.0" {
			return nil, badRequest("InvalidCondition", "The given role assignment condition is invalid: conditionVersion must be 2.0.")
		}
		if _, err := access.ParseCondition(p.Condition); err != nil {
			return nil, badRequest("InvalidCondition", "The given role assignment condition is invalid: "+err.Error())
		}
	} else {
		p.ConditionVersion = ""
	}
	if err := s.checkScopeExists(ctx, c.p.scope); err != nil {
		return nil, err
	}
	ch := c.caller.change(c.now)
	a := &meta.RoleAssignment{Name: strings.ToLower(c.p.name), Scope: c.p.scope.String(), RoleDefinitionID: role.ID,
		PrincipalID: strings.ToLower(p.PrincipalID), PrincipalType: ptype, Description: p.Description,
		Condition: p.Condition, ConditionVersion: p.ConditionVersion, Created: ch, Updated: ch}
	if err := s.store.CreateRoleAssignment(ctx, a); isExists(err) {
		if prev, perr := s.store.RoleAssignment(ctx, a.Name); perr == nil &&
			(prev.PrincipalID != a.PrincipalID || prev.RoleDefinitionID != a.RoleDefinitionID || scopeKey(prev.Scope) != scopeKey(a.Scope)) {
			return nil, &Error{Status: http.StatusConflict, Code: "RoleAssignmentUpdateNotPermitted",
				Message: "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."}
		}
		return nil, &Error{Status: http.StatusConflict, Code: "RoleAssignmentExists", Message: "The role assignment already exists."}
	} else if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusCreated, body: toRoleAssignmentJSON(a)}, nil
}

// principalType checks the principal against the directory, when there is one, and
// returns its type; a type the request gives must match it.
func (s *Service) principalType(ctx context.Context, tenant, id, given string) (string, error) {
	if given != "" {
		var err error
		if given, err = oneOf("principalType", given, principalTypes...); err != nil {
			return "", err
		}
	}
	if s.dir == nil {
		return cmp.Or(given, "ServicePrincipal"), nil
	}
	typ, err := s.dir.PrincipalType(ctx, tenant, id)
	switch {
	case errors.Is(err, ErrPrincipalNotFound):
		return "", badRequest("PrincipalNotFound", fmt.Sprintf("Principal %s does not exist in the directory %s. "+
			"Check that you have the correct principal ID.", strings.ReplaceAll(id, "-", ""), tenant))
	case err != nil:
		return "", err
	case given != "" && given != typ:
		return "", badRequest("UnmatchedPrincipalType", fmt.Sprintf(
			"The PrincipalId '%s' has type '%s', which is different from specified PrincipalType '%s'.", id, typ, given))
	}
	return typ, nil
}

// deleteRoleAssignment removes an assignment and answers with it; 204 when there was none.
func (s *Service) deleteRoleAssignment(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = assignmentID(c.p.scope.String(), c.p.name)
	if _, err := s.assignmentAt(ctx, c.p.scope, c.p.name); err != nil {
		if e, ok := err.(*Error); ok && e.Status == http.StatusNotFound {
			return &reply{status: http.StatusNoContent}, nil
		}
		return nil, err
	}
	a, err := s.store.DeleteRoleAssignment(ctx, c.p.name)
	if isNotFound(err) {
		return &reply{status: http.StatusNoContent}, nil
	}
	if err != nil {
		return nil, err
	}
	return ok(toRoleAssignmentJSON(a))
}

// listRoleDefinitions lists the built-in roles, optionally those whose $filter
// roleName eq '…' or type eq 'BuiltInRole' match.
func (s *Service) listRoleDefinitions(_ context.Context, c *call) (*reply, error) {
	roles := access.BuiltInRoles()
	for _, clause := range filterClauses(c.query.Get("$filter")) {
		switch lower := strings.ToLower(clause); {
		case strings.HasPrefix(lower, "rolename eq "):
			name := unquote(clause[len("rolename eq "):])
			roles = slices.DeleteFunc(roles, func(r access.RoleDefinition) bool { return !strings.EqualFold(r.Name, name) })
		case strings.HasPrefix(lower, "type eq "):
			if !strings.EqualFold(unquote(clause[len("type eq "):]), "BuiltInRole") {
				roles = nil
			}
		default:
			return nil, badFilter(clause)
		}
	}
	out := []roleDefinitionJSON{}
	for _, r := range roles {
		out = append(out, toRoleDefinitionJSON(c.p.scope, r))
	}
	return ok(list(out))
}

func (s *Service) getRoleDefinition(_ context.Context, c *call) (*reply, error) {
	r, known := access.BuiltInRole(c.p.name)
	if !known || !strings.EqualFold(r.ID, c.p.name) {
		return nil, &Error{Status: http.StatusNotFound, Code: "RoleDefinitionDoesNotExist",
			Message: fmt.Sprintf("The specified role definition with ID '%s' does not exist.", c.p.name)}
	}
	return ok(toRoleDefinitionJSON(c.p.scope, r))
}

// filterClauses splits an OData $filter on its "and"s.
func filterClauses(f string) []string {
	if strings.TrimSpace(f) == "" {
		return nil
	}
	var out []string
	for _, c := range splitFold(f, " and ") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// splitFold splits s around each case-insensitive instance of sep.
func splitFold(s, sep string) []string {
	var out []string
	lower := strings.ToLower(s)
	for {
		i := strings.Index(lower, sep)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s, lower = s[i+len(sep):], lower[i+len(sep):]
	}
}

// unquote removes the single quotes of an OData string literal.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

func badFilter(clause string) *Error {
	return badRequest("InvalidFilterInQueryString", fmt.Sprintf("The $filter clause '%s' is not supported.", clause))
}

package management

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Scope maps (2025-11-01 ScopeMapCreate.json, ScopeMapList.json): the five system maps
// every registry has, which cannot be changed, and user maps whose actions
// access.ParseScopeMapActions validates.

type scopeMapJSON struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Type       string        `json:"type"`
	SystemData *systemData   `json:"systemData,omitempty"`
	Properties scopeMapProps `json:"properties"`
}

type scopeMapProps struct {
	Description       string   `json:"description,omitempty"`
	Type              string   `json:"type"`
	CreationDate      *string  `json:"creationDate"`
	ProvisioningState string   `json:"provisioningState"`
	Actions           []string `json:"actions"`
}

type scopeMapInput struct {
	Properties *scopeMapPropsInput `json:"properties"`
}

type scopeMapPropsInput struct {
	Description *string  `json:"description"`
	Actions     []string `json:"actions"`
}

// childName is ACR's rule for scope map and token names.
var childNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{5,50}$`)

func toScopeMapJSON(registry string, m *meta.ScopeMap) scopeMapJSON {
	j := scopeMapJSON{ID: registry + "/scopeMaps/" + m.Name, Name: m.Name, Type: typeScopeMaps,
		SystemData: newSystemData(m.Created, m.Updated),
		Properties: scopeMapProps{Description: m.Description, Type: "UserDefined", CreationDate: timestamp(m.Created.At),
			ProvisioningState: "Succeeded", Actions: m.Actions}}
	if m.System {
		j.Properties.Type = "SystemDefined"
	}
	if j.Properties.Actions == nil {
		j.Properties.Actions = []string{}
	}
	return j
}

func scopeMapNotFound(name, registry string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The scope map '%s' was not found in registry '%s'.", name, registry)}
}

func (s *Service) listScopeMaps(ctx context.Context, c *call) (*reply, error) {
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	maps, err := s.store.ScopeMaps(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	out := []scopeMapJSON{}
	for i := range maps {
		out = append(out, toScopeMapJSON(c.p.target(), &maps[i]))
	}
	return ok(list(out))
}

func (s *Service) getScopeMap(ctx context.Context, c *call) (*reply, error) {
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	m, err := s.store.ScopeMap(ctx, r.ID, c.p.name)
	if err != nil {
		return nil, s.notFound(err, scopeMapNotFound(c.p.name, r.Name))
	}
	return ok(toScopeMapJSON(c.p.target(), m))
}

// putScopeMap creates a scope map or replaces its description and actions.
func (s *Service) putScopeMap(ctx context.Context, c *call) (*reply, error) {
	return s.writeScopeMap(ctx, c, true)
}

func (s *Service) patchScopeMap(ctx context.Context, c *call) (*reply, error) {
	return s.writeScopeMap(ctx, c, false)
}

func (s *Service) writeScopeMap(ctx context.Context, c *call, put bool) (*reply, error) {
	var in scopeMapInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.resourceID = c.p.target() + "/scopeMaps/" + c.p.name
	if in.Properties == nil {
		in.Properties = &scopeMapPropsInput{}
	}
	props := in.Properties
	if props.Actions != nil || put {
		if len(props.Actions) == 0 {
			return nil, badRequest("InvalidParameter", "A scope map needs at least one action in properties.actions.")
		}
		if _, err := access.ParseScopeMapActions(props.Actions); err != nil {
			return nil, err
		}
	}
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	ch := c.caller.change(c.now)
	update := func(m *meta.ScopeMap) error {
		if m.System {
			return badRequest("InvalidParameter", fmt.Sprintf("The scope map '%s' is system-defined and cannot be changed.", m.Name))
		}
		if props.Description != nil || put {
			m.Description = deref(props.Description)
		}
		if props.Actions != nil {
			m.Actions = props.Actions
		}
		m.Updated = ch
		return nil
	}
	m, err := s.store.UpdateScopeMap(ctx, r.ID, c.p.name, update)
	switch {
	case err == nil:
		return ok(toScopeMapJSON(c.p.target(), m))
	case !isNotFound(err):
		return nil, err
	case !put:
		return nil, scopeMapNotFound(c.p.name, r.Name)
	case !childNamePattern.MatchString(c.p.name):
		return nil, badRequest("InvalidResourceName", fmt.Sprintf("The scope map name '%s' is not valid: "+
			"use 5 to 50 letters, digits, hyphens or underscores.", c.p.name))
	}
	m = &meta.ScopeMap{RegistryID: r.ID, Name: c.p.name, Description: deref(props.Description), Actions: props.Actions,
		Created: ch, Updated: ch}
	if err := s.store.CreateScopeMap(ctx, m); err != nil {
		return nil, err // a concurrent PUT created it: ErrResourceExists, 409
	}
	return &reply{status: http.StatusCreated, body: toScopeMapJSON(c.p.target(), m)}, nil
}

func (s *Service) deleteScopeMap(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = c.p.target() + "/scopeMaps/" + c.p.name
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	m, err := s.store.ScopeMap(ctx, r.ID, c.p.name)
	if isNotFound(err) {
		return &reply{status: http.StatusNoContent}, nil
	}
	if err != nil {
		return nil, err
	}
	if m.System {
		return nil, badRequest("InvalidParameter", fmt.Sprintf("The scope map '%s' is system-defined and cannot be deleted.", m.Name))
	}
	switch err := s.store.DeleteScopeMap(ctx, r.ID, c.p.name); {
	case isInUse(err):
		return nil, &Error{Status: http.StatusConflict, Code: "ScopeMapInUse", Message: fmt.Sprintf(
			"The scope map '%s' is used by tokens of registry '%s': delete them or give them another scope map first.",
			m.Name, r.Name)}
	case isNotFound(err):
		return &reply{status: http.StatusNoContent}, nil
	case err != nil:
		return nil, err
	}
	return &reply{status: http.StatusOK}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

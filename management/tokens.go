package management

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Repository-scoped tokens (2025-11-01 TokenCreate.json, TokenGet.json,
// RegistryGenerateCredentials.json). A password's value is returned once, by the call
// that generates it, and stored only as a hash.

// tokenPasswordNames are the names of a token's two passwords, in meta order.
var tokenPasswordNames = []string{"password1", "password2"}

type tokenJSON struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	SystemData *systemData `json:"systemData,omitempty"`
	Properties tokenProps  `json:"properties"`
}

type tokenProps struct {
	CreationDate      *string          `json:"creationDate"`
	ScopeMapID        string           `json:"scopeMapId"`
	ProvisioningState string           `json:"provisioningState"`
	Status            string           `json:"status"`
	Credentials       tokenCredentials `json:"credentials"`
}

type tokenCredentials struct {
	Certificates []struct{}     `json:"certificates"`
	Passwords    []passwordJSON `json:"passwords"`
}

type tokenInput struct {
	Properties *struct {
		ScopeMapID  *string `json:"scopeMapId"`
		Status      *string `json:"status"`
		Credentials *struct {
			Certificates []struct{} `json:"certificates"`
			Passwords    []struct {
				Name   string     `json:"name"`
				Expiry *time.Time `json:"expiry"`
			} `json:"passwords"`
		} `json:"credentials"`
	} `json:"properties"`
}

// toTokenJSON shows a token; values, when not nil, are the passwords just generated,
// by index, shown this once.
func toTokenJSON(registry string, t *meta.Token, values *[2]string) tokenJSON {
	j := tokenJSON{ID: registry + "/tokens/" + t.Name, Name: t.Name, Type: typeTokens,
		SystemData: newSystemData(t.Created, t.Updated),
		Properties: tokenProps{CreationDate: timestamp(t.Created.At), ScopeMapID: registry + "/scopeMaps/" + t.ScopeMap,
			ProvisioningState: "Succeeded", Status: tokenStatus(t.Enabled),
			Credentials: tokenCredentials{Certificates: []struct{}{}, Passwords: []passwordJSON{}}}}
	for i, p := range t.Passwords {
		if p.Hash == nil {
			continue
		}
		pj := passwordJSON{Name: tokenPasswordNames[i], CreationTime: timestamp(p.CreatedAt), Expiry: timestamp(p.Expiry)}
		if values != nil {
			pj.Value = values[i]
		}
		j.Properties.Credentials.Passwords = append(j.Properties.Credentials.Passwords, pj)
	}
	return j
}

func tokenStatus(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}

func tokenNotFound(name, registry string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The token '%s' was not found in registry '%s'.", name, registry)}
}

func (s *Service) listTokens(ctx context.Context, c *call) (*reply, error) {
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	tokens, err := s.store.Tokens(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	out := []tokenJSON{}
	for i := range tokens {
		out = append(out, toTokenJSON(c.p.target(), &tokens[i], nil))
	}
	return ok(list(out))
}

func (s *Service) getToken(ctx context.Context, c *call) (*reply, error) {
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	t, err := s.store.Token(ctx, r.ID, c.p.name)
	if err != nil {
		return nil, s.notFound(err, tokenNotFound(c.p.name, r.Name))
	}
	return ok(toTokenJSON(c.p.target(), t, nil))
}

func (s *Service) putToken(ctx context.Context, c *call) (*reply, error) {
	return s.writeToken(ctx, c, true)
}

func (s *Service) patchToken(ctx context.Context, c *call) (*reply, error) {
	return s.writeToken(ctx, c, false)
}

// writeToken creates or updates a token. Passwords named in properties.credentials are
// generated (without expiry unless given) and shown in this response only.
func (s *Service) writeToken(ctx context.Context, c *call, put bool) (*reply, error) {
	var in tokenInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	c.resourceID = c.p.target() + "/tokens/" + c.p.name
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	ch := c.caller.change(c.now)
	var scopeMap, status *string
	var gen []generate
	if p := in.Properties; p != nil {
		status = p.Status
		if p.ScopeMapID != nil {
			name, err := childName(*p.ScopeMapID, c.p.target(), "scopeMaps")
			if err != nil {
				return nil, err
			}
			scopeMap = &name
		}
		if cr := p.Credentials; cr != nil {
			if len(cr.Certificates) > 0 {
				return nil, notSupported("token certificates")
			}
			for _, pw := range cr.Passwords {
				g, err := newGenerate(pw.Name, pw.Expiry, c.now)
				if err != nil {
					return nil, err
				}
				gen = append(gen, g...)
			}
		}
	}
	enabled := true
	if status != nil {
		v, err := oneOf("properties.status", *status, "enabled", "disabled")
		if err != nil {
			return nil, err
		}
		enabled = v == "enabled"
	}
	var values [2]string
	update := func(t *meta.Token) error {
		if scopeMap != nil {
			t.ScopeMap = *scopeMap
		}
		if status != nil {
			t.Enabled = enabled
		}
		values = apply(t, gen)
		t.Updated = ch
		return nil
	}
	t, err := s.store.UpdateToken(ctx, r.ID, c.p.name, update)
	if err == nil {
		return ok(toTokenJSON(c.p.target(), t, &values))
	}
	if !isNotFound(err) {
		return nil, err
	}
	// Either the token or the scope map it was to get is missing.
	if _, terr := s.store.Token(ctx, r.ID, c.p.name); terr == nil && scopeMap != nil {
		return nil, scopeMapNotFound(*scopeMap, r.Name)
	}
	if !put {
		return nil, tokenNotFound(c.p.name, r.Name)
	}
	if scopeMap == nil {
		return nil, badRequest("InvalidParameter", "A new token needs properties.scopeMapId.")
	}
	if !childNamePattern.MatchString(c.p.name) {
		return nil, badRequest("InvalidResourceName", fmt.Sprintf("The token name '%s' is not valid: "+
			"use 5 to 50 letters, digits, hyphens or underscores.", c.p.name))
	}
	t = &meta.Token{RegistryID: r.ID, Name: c.p.name, ScopeMap: *scopeMap, Enabled: enabled, Created: ch, Updated: ch}
	values = apply(t, gen)
	if err := s.store.CreateToken(ctx, t); err != nil {
		return nil, s.notFound(err, scopeMapNotFound(*scopeMap, r.Name))
	}
	if t, err = s.store.Token(ctx, r.ID, c.p.name); err != nil {
		return nil, err
	}
	return &reply{status: http.StatusCreated, body: toTokenJSON(c.p.target(), t, &values)}, nil
}

// generate is one password to generate for a token.
type generate struct {
	index  int
	expiry time.Time
	now    time.Time
}

// newGenerate parses a password name ("" for both) and expiry into what to generate.
func newGenerate(name string, expiry *time.Time, now time.Time) ([]generate, error) {
	names := tokenPasswordNames
	if name != "" {
		n, err := oneOf("name", name, tokenPasswordNames...)
		if err != nil {
			return nil, err
		}
		names = []string{n}
	}
	var out []generate
	for _, n := range names {
		g := generate{index: slices.Index(tokenPasswordNames, n), now: now}
		if expiry != nil {
			g.expiry = expiry.UTC()
		}
		out = append(out, g)
	}
	return out, nil
}

// apply generates the passwords of gen into t and returns their values by index.
func apply(t *meta.Token, gen []generate) [2]string {
	var values [2]string
	for _, g := range gen {
		values[g.index] = newPassword()
		t.Passwords[g.index] = meta.TokenPassword{Hash: meta.HashSecret(values[g.index]), CreatedAt: g.now, Expiry: g.expiry}
	}
	return values
}

// generateCredentials generates one or both passwords of a token, optionally expiring.
// Replacing a password revokes the old one at once (the token's generation changes).
func (s *Service) generateCredentials(ctx context.Context, c *call) (*reply, error) {
	var in struct {
		TokenID string     `json:"tokenId"`
		Expiry  *time.Time `json:"expiry"`
		Name    string     `json:"name"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, err := childName(in.TokenID, c.p.target(), "tokens")
	if err != nil {
		return nil, err
	}
	c.resourceID = c.p.target() + "/tokens/" + name
	gen, err := newGenerate(in.Name, in.Expiry, c.now)
	if err != nil {
		return nil, err
	}
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	var values [2]string
	t, err := s.store.UpdateToken(ctx, r.ID, name, func(t *meta.Token) error {
		values = apply(t, gen)
		t.Updated = c.caller.change(c.now)
		return nil
	})
	if err != nil {
		return nil, s.notFound(err, tokenNotFound(name, r.Name))
	}
	out := credentialsJSON{Username: t.Name}
	for _, g := range gen {
		p := t.Passwords[g.index]
		out.Passwords = append(out.Passwords, passwordJSON{Name: tokenPasswordNames[g.index], Value: values[g.index],
			CreationTime: timestamp(p.CreatedAt), Expiry: timestamp(p.Expiry)})
	}
	return ok(out)
}

func (s *Service) deleteToken(ctx context.Context, c *call) (*reply, error) {
	c.resourceID = c.p.target() + "/tokens/" + c.p.name
	r, err := s.loadRegistry(ctx, &c.p)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteToken(ctx, r.ID, c.p.name); isNotFound(err) {
		return &reply{status: http.StatusNoContent}, nil
	} else if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK}, nil
}

package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/spf13/cobra"
)

var tokenColumns = []column{
	{"NAME", "name"}, {"SCOPE MAP", "properties.scopeMapId"}, {"STATUS", "properties.status"},
	{"CREATION DATE", "properties.creationDate"}, {"PASSWORDS", "properties.credentials.passwords"},
}

var credentialColumns = []column{
	{"USERNAME", "username"}, {"PASSWORD1", "passwords.0.value"}, {"EXPIRY", "passwords.0.expiry"},
	{"PASSWORD2", "passwords.1.value"}, {"EXPIRY", "passwords.1.expiry"},
}

func tokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage repository-scoped tokens (az acr token)"}
	cmd.AddCommand(tokenWriteCmd(g, true), tokenWriteCmd(g, false), tokenCredentialCmd(g))
	help := childHelp{list: "List a registry's tokens", show: "Show a token (never its password values)", del: "Delete a token; its passwords stop working at once"}
	cmd.AddCommand(childCmds(g, help, tokenColumns, func(c *conn) childCalls {
		tokens := c.acr.NewTokensClient()
		return bindChild(tokens.NewListPager, tokens.Get, tokens.BeginDelete)
	})...)
	return cmd
}

func scopeMapID(sub string, reg target, name string) string {
	return registryPath(sub, reg) + "/scopeMaps/" + name
}

// expiry is the --expiration / --expiration-in-days pair.
type expiry struct {
	at   string
	days int
}

func (e *expiry) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.at, "expiration", "", "when the passwords expire (RFC 3339 `time`)")
	cmd.Flags().IntVar(&e.days, "expiration-in-days", 0, "`days` until the passwords expire (default: never)")
}

func (e *expiry) time() (*time.Time, error) {
	switch {
	case e.at != "" && e.days != 0:
		return nil, fmt.Errorf("--expiration and --expiration-in-days exclude each other")
	case e.at != "":
		t, err := time.Parse(time.RFC3339, e.at)
		if err != nil {
			return nil, fmt.Errorf("--expiration: %w", err)
		}
		return &t, nil
	case e.days > 0:
		return to.Ptr(time.Now().UTC().Add(time.Duration(e.days) * 24 * time.Hour)), nil
	}
	return nil, nil
}

// tokenWriteCmd is `token create` (with both passwords unless --no-passwords) or
// `token update`.
func tokenWriteCmd(g *globals, create bool) *cobra.Command {
	var (
		t                child
		scopeMap, status string
		repos            []string
		noPasswords      bool
		exp              expiry
	)
	use, short := "update -n NAME -r REGISTRY [--status enabled|disabled] [--scope-map NAME]", "Change a token's status or scope map"
	if create {
		use, short = "create -n NAME -r REGISTRY (--scope-map NAME | --repository REPO=ACTIONS …)", "Create a token and generate its passwords"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: g.verb(&t.reg, func(cmd *cobra.Command, c *conn) error {
			ctx := cmd.Context()
			if create && len(repos) > 0 {
				if scopeMap != "" {
					return fmt.Errorf("--scope-map and --repository exclude each other")
				}
				var err error
				if scopeMap, err = c.ownScopeMap(ctx, t, repos); err != nil {
					return err
				}
			}
			if create && scopeMap == "" {
				return fmt.Errorf("give --scope-map or --repository")
			}
			body, err := c.writeToken(ctx, t, create, scopeMap, status)
			if err != nil {
				return err
			}
			if !create || noPasswords {
				return c.out.item(body, tokenColumns)
			}
			return c.printNewToken(ctx, t, body, exp)
		}),
	}
	t.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&scopeMap, "scope-map", "", "scope map `name` of the registry")
	f.StringVar(&status, "status", "", "`status`: enabled or disabled (create: enabled)")
	if create {
		f.StringArrayVar(&repos, "repository", nil, "`REPO=ACTIONS` for a scope map of the token's own (repeatable)")
		f.BoolVar(&noPasswords, "no-passwords", false, "generate no passwords now")
		exp.flags(cmd)
	}
	return cmd
}

// ownScopeMap creates, as the Azure CLI does for `token create --repository`, a scope map
// of the token's own, "<token>-scope-map", and returns its name.
func (c *conn) ownScopeMap(ctx context.Context, t child, repos []string) (string, error) {
	actions, err := repositoryActions(repos)
	if err != nil {
		return "", err
	}
	name := t.name + "-scope-map"
	p, err := c.acr.NewScopeMapsClient().BeginCreate(ctx, t.reg.group, t.reg.name, name, armcontainerregistry.ScopeMap{
		Properties: &armcontainerregistry.ScopeMapProperties{Description: to.Ptr("Token " + t.name + "'s scope map"),
			Actions: to.SliceOfPtrs(actions...)}}, nil)
	return name, done(ctx, p, err)
}

// writeToken creates or updates a token and returns the server's answer. An update
// changes only what was given; a new token is enabled unless --status says otherwise.
func (c *conn) writeToken(ctx context.Context, t child, create bool, scopeMap, status string) (json.RawMessage, error) {
	tokens := c.acr.NewTokensClient()
	return answer(ctx, func(ctx context.Context) error {
		if create {
			props := &armcontainerregistry.TokenProperties{ScopeMapID: to.Ptr(scopeMapID(c.subscription, t.reg, scopeMap)),
				Status: to.Ptr(armcontainerregistry.TokenStatus(cmp.Or(status, "enabled")))}
			p, err := tokens.BeginCreate(ctx, t.reg.group, t.reg.name, t.name, armcontainerregistry.Token{Properties: props}, nil)
			return done(ctx, p, err)
		}
		props := &armcontainerregistry.TokenUpdateProperties{}
		if scopeMap != "" {
			props.ScopeMapID = to.Ptr(scopeMapID(c.subscription, t.reg, scopeMap))
		}
		if status != "" {
			props.Status = to.Ptr(armcontainerregistry.TokenStatus(status))
		}
		p, err := tokens.BeginUpdate(ctx, t.reg.group, t.reg.name, t.name, armcontainerregistry.TokenUpdateParameters{Properties: props}, nil)
		return done(ctx, p, err)
	})
}

// printNewToken generates both passwords of a new token and prints them, this once,
// inside the token (body) as the Azure CLI shows them; a table shows the credentials.
func (c *conn) printNewToken(ctx context.Context, t child, body json.RawMessage, exp expiry) error {
	when, err := exp.time()
	if err != nil {
		return err
	}
	gen, err := c.generate(ctx, t, nil, when)
	if err != nil {
		return err
	}
	var creds struct {
		Passwords []any `json:"passwords"`
	}
	if err := json.Unmarshal(gen, &creds); err != nil {
		return err
	}
	var tok map[string]any
	if err := json.Unmarshal(body, &tok); err != nil {
		return err
	}
	if props, ok := tok["properties"].(map[string]any); ok {
		props["credentials"] = map[string]any{"certificates": []any{}, "passwords": creds.Passwords, "username": t.name}
	}
	out, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	if c.out.table {
		return c.out.item(gen, credentialColumns)
	}
	return c.out.item(out, tokenColumns)
}

// generate generates passwords of a token (names nil: both) and returns the server's answer.
func (c *conn) generate(ctx context.Context, t child, name *armcontainerregistry.TokenPasswordName, when *time.Time) (json.RawMessage, error) {
	return answer(ctx, func(ctx context.Context) error {
		p, err := c.acr.NewRegistriesClient().BeginGenerateCredentials(ctx, t.reg.group, t.reg.name, armcontainerregistry.GenerateCredentialsParameters{
			TokenID: to.Ptr(registryPath(c.subscription, t.reg) + "/tokens/" + t.name), Name: name, Expiry: when}, nil)
		return done(ctx, p, err)
	})
}

func tokenCredentialCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "credential", Short: "Generate token passwords (az acr token credential)"}
	var (
		t      child
		p1, p2 bool
		exp    expiry
	)
	gen := &cobra.Command{
		Use:   "generate -n NAME -r REGISTRY [--password1] [--password2] [--expiration-in-days N]",
		Short: "Generate password1, password2 or (by default) both; the values are shown only now",
		Args:  cobra.NoArgs,
		RunE: g.verb(&t.reg, func(cmd *cobra.Command, c *conn) error {
			when, err := exp.time()
			if err != nil {
				return err
			}
			var name *armcontainerregistry.TokenPasswordName
			switch {
			case p1 && !p2:
				name = to.Ptr(armcontainerregistry.TokenPasswordNamePassword1)
			case p2 && !p1:
				name = to.Ptr(armcontainerregistry.TokenPasswordNamePassword2)
			}
			body, err := c.generate(cmd.Context(), t, name, when)
			if err != nil {
				return err
			}
			return c.out.item(body, credentialColumns)
		}),
	}
	t.flags(gen)
	gen.Flags().BoolVar(&p1, "password1", false, "generate password1")
	gen.Flags().BoolVar(&p2, "password2", false, "generate password2")
	exp.flags(gen)
	cmd.AddCommand(gen)
	return cmd
}

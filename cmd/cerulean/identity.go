package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/identity/graph"
	"github.com/cerulean-registry/cerulean/internal/cliconn"
)

// identityCommands are the directory verbs: sp, identity and user. They call the server's
// Graph-shaped API through package graph, signed in as the bootstrap owner (or the
// service principal in AZURE_CLIENT_ID/AZURE_CLIENT_SECRET), and print JSON.
func identityCommands() []*cobra.Command {
	st := &cliconn.Settings{}
	cmds := []*cobra.Command{spCmd(st), managedIdentityCmd(st), userCmd(st)}
	for _, c := range cmds {
		st.AddFlags(c.PersistentFlags())
	}
	return cmds
}

// run wraps a verb: it connects and prints what the verb returns as JSON.
func run(st *cliconn.Settings, fn func(cmd *cobra.Command, c *graph.Client, args []string) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfg, err := st.Resolve(os.Getenv)
		if err != nil {
			return err
		}
		c, err := graph.Connect(cfg)
		if err != nil {
			return err
		}
		v, err := fn(cmd, c, args)
		if err != nil || v == nil {
			return err
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
}

// until turns a lifetime in years into an end time (zero for the server's default).
func until(years int) time.Time {
	if years <= 0 {
		return time.Time{}
	}
	return time.Now().AddDate(years, 0, 0)
}

func spCmd(st *cliconn.Settings) *cobra.Command {
	sp := &cobra.Command{Use: "sp", Short: "Manage service principals (applications and their credentials)"}
	var years int
	create := &cobra.Command{
		Use: "create NAME", Short: "Register an application with a service principal and a client secret", Args: cobra.ExactArgs(1),
		Long: "Register an application, create its service principal and add a client secret, shown once\n(like `az ad sp create-for-rbac`).",
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			return c.CreateServicePrincipalWithSecret(cmd.Context(), args[0], until(years))
		}),
	}
	create.Flags().IntVar(&years, "years", 0, "secret lifetime in `years` (default: 2)")
	var enabled bool
	update := &cobra.Command{
		Use: "update ID", Short: "Enable or disable a service principal's sign-in", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			if !cmd.Flags().Changed("enabled") {
				return nil, errors.New("nothing to update: pass --enabled=true or --enabled=false")
			}
			app, err := c.ResolveApplication(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			p, err := c.ServicePrincipalOf(cmd.Context(), app.AppID)
			if err != nil {
				return nil, err
			}
			return nil, c.SetAccountEnabled(cmd.Context(), p.ID, enabled)
		}),
	}
	update.Flags().BoolVar(&enabled, "enabled", true, "whether the service principal may sign in")
	sp.AddCommand(create, update,
		&cobra.Command{Use: "list", Short: "List service principals (managed identities included)", Args: cobra.NoArgs,
			RunE: run(st, func(cmd *cobra.Command, c *graph.Client, _ []string) (any, error) {
				return c.ServicePrincipals(cmd.Context())
			})},
		&cobra.Command{Use: "show ID", Short: "Show an application (by appId, object id or name) with its credentials", Args: cobra.ExactArgs(1),
			RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
				return c.ResolveApplication(cmd.Context(), args[0])
			})},
		&cobra.Command{Use: "delete ID", Short: "Delete an application with its service principal and credentials", Args: cobra.ExactArgs(1),
			RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
				app, err := c.ResolveApplication(cmd.Context(), args[0])
				if err != nil {
					return nil, err
				}
				return nil, c.DeleteApplication(cmd.Context(), app.ID)
			})},
		credentialCmd(st), federatedCredentialCmd(st))
	return sp
}

func credentialCmd(st *cliconn.Settings) *cobra.Command {
	cred := &cobra.Command{Use: "credential", Short: "Manage a service principal's client secrets and certificates"}
	var certFile, name, keyID string
	var years int
	add := &cobra.Command{
		Use: "add ID", Short: "Add a client secret (shown once), or with --cert a certificate", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			app, err := c.ResolveApplication(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			if certFile == "" {
				p := graph.PasswordCredential{DisplayName: name}
				if end := until(years); !end.IsZero() {
					p.EndDateTime = &end
				}
				return c.AddPassword(cmd.Context(), app.ID, p)
			}
			der, err := graph.ReadCertificate(certFile)
			if err != nil {
				return nil, err
			}
			return c.AddKey(cmd.Context(), app.ID, graph.KeyCredential{DisplayName: name, Type: "AsymmetricX509Cert", Usage: "Verify", Key: der})
		}),
	}
	add.Flags().StringVar(&certFile, "cert", "", "register this certificate `file` (PEM or DER) instead of adding a secret")
	add.Flags().StringVar(&name, "display-name", "", "a `name` for the credential")
	add.Flags().IntVar(&years, "years", 0, "secret lifetime in `years` (default: 2)")
	remove := &cobra.Command{
		Use: "remove ID --key-id KEYID", Short: "Remove a client secret or certificate", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			app, err := c.ResolveApplication(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			return nil, c.RemovePassword(cmd.Context(), app.ID, keyID)
		}),
	}
	remove.Flags().StringVar(&keyID, "key-id", "", "the credential's `keyId` (see credential list)")
	_ = remove.MarkFlagRequired("key-id")
	list := &cobra.Command{
		Use: "list ID", Short: "List a service principal's secrets (hints only) and certificates", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			app, err := c.ResolveApplication(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			return map[string]any{"passwordCredentials": app.PasswordCredentials, "keyCredentials": app.KeyCredentials}, nil
		}),
	}
	cred.AddCommand(add, list, remove)
	return cred
}

func federatedCredentialCmd(st *cliconn.Settings) *cobra.Command {
	fc := &cobra.Command{Use: "federated-credential", Short: "Manage a service principal's federated identity credentials"}
	var f graph.FederatedIdentityCredential
	var audience string
	add := &cobra.Command{
		Use: "add ID --name NAME --issuer URL --subject SUBJECT", Short: "Trust an external issuer's tokens for one subject", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			app, err := c.ResolveApplication(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			f.Audiences = []string{audience}
			return c.AddFederatedCredential(cmd.Context(), app.ID, f)
		}),
	}
	add.Flags().StringVar(&f.Name, "name", "", "credential `name` (unique per application)")
	add.Flags().StringVar(&f.Issuer, "issuer", "", "the external OIDC issuer `URL` (https)")
	add.Flags().StringVar(&f.Subject, "subject", "", "the `subject` its tokens must carry, e.g. system:serviceaccount:NS:SA")
	add.Flags().StringVar(&audience, "audience", "api://AzureADTokenExchange", "the `audience` its tokens must carry")
	add.Flags().StringVar(&f.Description, "description", "", "a `description`")
	for _, name := range []string{"name", "issuer", "subject"} {
		_ = add.MarkFlagRequired(name)
	}
	var ref string
	remove := &cobra.Command{
		Use: "remove ID --name NAME", Short: "Remove a federated identity credential", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			app, err := c.ResolveApplication(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			return nil, c.DeleteFederatedCredential(cmd.Context(), app.ID, ref)
		}),
	}
	remove.Flags().StringVar(&ref, "name", "", "the credential's `name` or id")
	_ = remove.MarkFlagRequired("name")
	fc.AddCommand(add, remove, &cobra.Command{
		Use: "list ID", Short: "List a service principal's federated identity credentials", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			app, err := c.ResolveApplication(cmd.Context(), args[0])
			if err != nil {
				return nil, err
			}
			return c.FederatedCredentials(cmd.Context(), app.ID)
		}),
	})
	return fc
}

func managedIdentityCmd(st *cliconn.Settings) *cobra.Command {
	id := &cobra.Command{Use: "identity", Short: "Manage managed identities and the hosts they run on"}
	host := &cobra.Command{Use: "host", Short: "Manage managed-identity hosts (the resources identities are attached to)"}
	var assign []string
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a host with its system-assigned identity; prints its secret once", Args: cobra.ExactArgs(1),
		Long: `Create a managed-identity host: it gets a system-assigned identity, the user-assigned
identities named by --assign, and a secret. A process holding the secret gets tokens for
those identities App Service style:

  IDENTITY_ENDPOINT=https://SERVER/metadata/identity/oauth2/token IDENTITY_HEADER=SECRET

or IMDS style through a listener bound to the host (serve --imds-addr ADDR --imds-host NAME).`,
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			return c.CreateIdentityHost(cmd.Context(), args[0], assign)
		}),
	}
	create.Flags().StringSliceVar(&assign, "assign", nil, "user-assigned identity (name, client id, object id or resource id) to attach; repeatable")
	host.AddCommand(create,
		&cobra.Command{Use: "list", Short: "List hosts", Args: cobra.NoArgs,
			RunE: run(st, func(cmd *cobra.Command, c *graph.Client, _ []string) (any, error) {
				return c.IdentityHosts(cmd.Context())
			})},
		&cobra.Command{Use: "delete NAME", Short: "Delete a host with its system-assigned identity", Args: cobra.ExactArgs(1),
			RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
				return nil, c.DeleteIdentityHost(cmd.Context(), args[0])
			})})
	id.AddCommand(host,
		&cobra.Command{Use: "create NAME", Short: "Create a user-assigned managed identity", Args: cobra.ExactArgs(1),
			RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
				return c.CreateManagedIdentity(cmd.Context(), args[0])
			})},
		&cobra.Command{Use: "list", Short: "List managed identities", Args: cobra.NoArgs,
			RunE: run(st, func(cmd *cobra.Command, c *graph.Client, _ []string) (any, error) {
				return c.ManagedIdentities(cmd.Context())
			})})
	return id
}

func userCmd(st *cliconn.Settings) *cobra.Command {
	user := &cobra.Command{Use: "user", Short: "Manage users who sign in with a password (az login -u, device code)"}
	var displayName, password string
	var fromStdin bool
	create := &cobra.Command{
		Use: "create UPN", Short: "Create a user", Args: cobra.ExactArgs(1),
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, args []string) (any, error) {
			if fromStdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
				if err != nil {
					return nil, err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if password == "" {
				return nil, fmt.Errorf("pass --password-stdin (or --password)")
			}
			return c.CreateUser(cmd.Context(), args[0], displayName, password)
		}),
	}
	create.Flags().StringVar(&displayName, "display-name", "", "the user's display `name`")
	create.Flags().StringVar(&password, "password", "", "the user's `password` (visible to other users of this machine; prefer --password-stdin)")
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	user.AddCommand(create, &cobra.Command{Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: run(st, func(cmd *cobra.Command, c *graph.Client, _ []string) (any, error) { return c.Users(cmd.Context()) })})
	return user
}

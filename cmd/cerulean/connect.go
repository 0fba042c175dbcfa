package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/vault"
	"github.com/cerulean-registry/cerulean/internal/cliconn"
)

// connectCommand is `cerulean connect`: saved connections to registries in Azure's
// clouds or a Cerulean server (package connector), their test, and docker's
// configuration for the credential helper.
func connectCommand() *cobra.Command {
	st := &storeFlags{}
	cmd := &cobra.Command{Use: "connect", Short: "Save, test and use connections to Azure Container Registry and Cerulean registries"}
	st.flags(cmd)
	cmd.AddCommand(connectAddCmd(st), connectListCmd(st), connectShowCmd(st), connectRemoveCmd(st), connectRotateCmd(st),
		connectTestCmd(st), configureDockerCmd(st))
	return cmd
}

// storeFlags locate the connection store and its key.
type storeFlags struct {
	dir, keyFile string
}

func (s *storeFlags) flags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&s.dir, "store", "", "connection store `dir`ectory (default: $CERULEAN_CONNECTOR_DIR, else ~/.config/cerulean/connector)")
	f.StringVar(&s.keyFile, "key-file", "", "vault key `file` (default: $CERULEAN_CONNECTOR_KEY, else STORE/connector.key, created on first use)")
}

func (s *storeFlags) open() (*connector.Store, connector.KeySource, error) {
	dir := s.dir
	if dir == "" {
		var err error
		if dir, err = connector.DefaultDir(); err != nil {
			return nil, nil, err
		}
	}
	key := connector.DefaultKeySource(dir)
	if s.keyFile != "" {
		key = vault.FileKey(s.keyFile, true)
	}
	st, err := connector.OpenStore(dir, key)
	return st, key, err
}

// secretFlags say where a secret comes from: standard input, an environment variable,
// or a file (certificates); never a flag value, which other users can read in ps.
type secretFlags struct {
	secretStdin, passwordStdin bool
	secretEnv, passwordEnv     string
	certFile, certPasswordEnv  string
}

func (s *secretFlags) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&s.secretStdin, "secret-stdin", false, "read the service principal's client secret from standard input")
	f.StringVar(&s.secretEnv, "secret-env", "", "read the client secret from environment `variable`")
	f.BoolVar(&s.passwordStdin, "password-stdin", false, "read the admin user's or token's password from standard input")
	f.StringVar(&s.passwordEnv, "password-env", "", "read the password from environment `variable`")
	f.StringVar(&s.certFile, "certificate", "", "PEM `file` with the certificate and its private key (or PKCS#12)")
	f.StringVar(&s.certPasswordEnv, "certificate-password-env", "", "environment `variable` holding the certificate's password")
}

func (s *secretFlags) read(stdin io.Reader) (connector.Secrets, error) {
	var sec connector.Secrets
	line := func() (string, error) {
		l, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(l, "\r\n"), nil
	}
	env := func(name string) (string, error) {
		v := os.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", name)
		}
		return v, nil
	}
	var err error
	switch {
	case s.secretStdin:
		sec.ClientSecret, err = line()
	case s.secretEnv != "":
		sec.ClientSecret, err = env(s.secretEnv)
	}
	if err != nil {
		return sec, err
	}
	switch {
	case s.passwordStdin:
		sec.Password, err = line()
	case s.passwordEnv != "":
		sec.Password, err = env(s.passwordEnv)
	}
	if err != nil {
		return sec, err
	}
	if s.certFile != "" {
		if sec.Certificate, err = os.ReadFile(s.certFile); err != nil {
			return sec, err
		}
	}
	if s.certPasswordEnv != "" {
		sec.CertificatePassword, err = env(s.certPasswordEnv)
	}
	return sec, err
}

func connectAddCmd(st *storeFlags) *cobra.Command {
	var (
		cloudName, authority, arm, armAudience, acrSuffix, caFile, server string
		data, bootstrap                                                   string
		cred                                                              connector.Credential
		kind                                                              string
		subs, regs                                                        []string
		sf                                                                secretFlags
	)
	cmd := &cobra.Command{
		Use:   "add NAME --kind KIND [--cloud public|usgov|china | --server URL | --authority-host URL --resource-manager URL --acr-suffix SUFFIX] ...",
		Short: "Save a connection: a cloud, one credential, and the subscriptions or registries it covers",
		Long: `Save a connection. Credential kinds: ` + kindList() + `.
Secrets are read from standard input or an environment variable (never from a flag value)
and sealed in the store's vault (AES-256-GCM; the key is $CERULEAN_CONNECTOR_KEY or the
store's key file).

A Cerulean server is a custom cloud: --server https://HOST:PORT sets the authority host and
the ARM endpoint to the server and the ACR suffix to localhost:PORT (registries created
through ARM are NAME.localhost:PORT); --ca-file trusts its local CA. --data DIR takes the
server, its CA, tenant and bootstrap owner (or AZURE_CLIENT_ID/AZURE_CLIENT_SECRET) from a
local server's data directory, as the management verbs do (internal/cliconn).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var local *cliconn.Config
			if data != "" || bootstrap != "" {
				// A local server's files: sign in as its bootstrap owner (or AZURE_CLIENT_*).
				cfg, err := cliconn.Settings{Data: data, Bootstrap: bootstrap, Server: server, CAFile: caFile}.Resolve(os.Getenv)
				if err != nil {
					return err
				}
				local, server, caFile = &cfg, cfg.Server, cfg.CAFile
				if authority == "" && cfg.AuthorityHost != "" {
					authority = cfg.AuthorityHost
				}
			}
			cl, err := resolveCloud(cloudName, server, authority, arm, armAudience, acrSuffix, caFile)
			if err != nil {
				return err
			}
			cred.Kind = connector.CredentialKind(kind)
			sec, err := sf.read(cmd.InOrStdin())
			if err != nil {
				return err
			}
			if local != nil && (kind == "" || cred.Kind == connector.ServicePrincipalSecret) && sec.ClientSecret == "" {
				cred.Kind, sec.ClientSecret = connector.ServicePrincipalSecret, local.ClientSecret
				cred.TenantID, cred.ClientID = cmp.Or(cred.TenantID, local.TenantID), cmp.Or(cred.ClientID, local.ClientID)
				if len(subs) == 0 && len(regs) == 0 && local.SubscriptionID != "" {
					subs = []string{local.SubscriptionID}
				}
			}
			if cred.Kind == "" {
				return errors.New("--kind is required (one of " + kindList() + ")")
			}
			conn := connector.Connection{Name: args[0], Cloud: cl, Credential: cred, Subscriptions: subs, Registries: regs}
			store, _, err := st.open()
			if err != nil {
				return err
			}
			if err := store.Add(conn, sec); err != nil {
				return err
			}
			saved, err := store.Connection(conn.Name)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), saved)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cloudName, "cloud", "", "Azure cloud: public, usgov or china (default public, unless a custom cloud is given)")
	f.StringVar(&server, "server", "", "a Cerulean server `URL`: the custom cloud it is")
	f.StringVar(&data, "data", "", "a local Cerulean server's data `dir`ectory: its address, CA and bootstrap owner (default kind)")
	f.StringVar(&bootstrap, "bootstrap", "", "a Cerulean bootstrap `file` to take the server, tenant and owner from")
	f.StringVar(&authority, "authority-host", "", "custom cloud: Entra authority `URL`")
	f.StringVar(&arm, "resource-manager", "", "custom cloud: ARM endpoint `URL`")
	f.StringVar(&armAudience, "arm-audience", "", "custom cloud: ARM token audience (default https://management.core.windows.net/)")
	f.StringVar(&acrSuffix, "acr-suffix", "", "custom cloud: login server `suffix` (NAME.SUFFIX)")
	f.StringVar(&caFile, "ca-file", "", "PEM `file` of extra CAs to trust (a Cerulean server's local CA)")
	f.StringVar(&kind, "kind", "", "credential kind: "+kindList())
	f.StringVar(&cred.TenantID, "tenant", "", "Entra tenant id")
	f.StringVar(&cred.ClientID, "client-id", "", "application (client) id; for a user-assigned managed identity, its client id")
	f.StringVar(&cred.ObjectID, "object-id", "", "user-assigned managed identity by object (principal) id")
	f.StringVar(&cred.ResourceID, "resource-id", "", "user-assigned managed identity by ARM resource id")
	f.StringVar(&cred.TokenFile, "token-file", "", "workload identity: federated token `file` (default $AZURE_FEDERATED_TOKEN_FILE)")
	f.StringVarP(&cred.Username, "username", "u", "", "admin user (the registry's name) or repository-scoped token name")
	f.StringVar(&cred.PasswordName, "password-name", "", "which password the secret is: password/password2 (admin), password1/password2 (token)")
	f.StringVar(&cred.Audience, "audience", "", `Entra token audience for the registry exchange: "acr" (default) or "arm"`)
	f.StringSliceVar(&subs, "subscription", nil, "subscription `id` to discover registries in (repeatable)")
	f.StringSliceVarP(&regs, "registry", "r", nil, "login server of a registry to cover (repeatable)")
	sf.flags(cmd)
	return cmd
}

func kindList() string {
	var ks []string
	for _, k := range connector.Kinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// resolveCloud builds the connection's cloud from the flags.
func resolveCloud(name, server, authority, arm, armAudience, acrSuffix, caFile string) (connector.Cloud, error) {
	if server != "" {
		u, err := url.Parse(strings.TrimRight(server, "/"))
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return connector.Cloud{}, fmt.Errorf("--server %q: want https://host[:port]", server)
		}
		if name == "" {
			name = "cerulean"
		}
		if authority == "" {
			authority = u.String() + "/"
		}
		if arm == "" {
			arm = u.String()
		}
		if acrSuffix == "" {
			acrSuffix = "localhost"
			if p := u.Port(); p != "" && p != "443" {
				acrSuffix += ":" + p
			}
		}
	}
	if authority != "" || arm != "" || acrSuffix != "" {
		if authority == "" || arm == "" || acrSuffix == "" {
			return connector.Cloud{}, errors.New("a custom cloud needs --authority-host, --resource-manager and --acr-suffix (or --server)")
		}
		if name == "" {
			name = "custom"
		}
		c := connector.CustomCloud(name, authority, arm, armAudience, acrSuffix, caFile)
		return c, c.Validate()
	}
	if name == "" {
		name = "public"
	}
	c, ok := connector.LookupCloud(name)
	if !ok {
		return c, fmt.Errorf("--cloud %q: want public, usgov or china, or give a custom cloud's endpoints", name)
	}
	c.CAFile = caFile
	return c, nil
}

func connectListCmd(st *storeFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: "list", Short: "List saved connections (no secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, _, err := st.open()
			if err != nil {
				return err
			}
			conns, err := store.List()
			if err != nil {
				return err
			}
			if output == "table" {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tCLOUD\tKIND\tCOVERS")
				for _, c := range conns {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Name, c.Cloud.Name, c.Credential.Kind, covers(c))
				}
				return w.Flush()
			}
			return printJSON(cmd.OutOrStdout(), conns)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json or table")
	return cmd
}

func covers(c connector.Connection) string {
	var parts []string
	for _, s := range c.Subscriptions {
		parts = append(parts, "subscription "+s)
	}
	parts = append(parts, c.Registries...)
	if len(parts) == 0 {
		return "all subscriptions"
	}
	return strings.Join(parts, ", ")
}

func connectShowCmd(st *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use: "show NAME", Short: "Show a saved connection (its secrets never)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := st.open()
			if err != nil {
				return err
			}
			c, err := store.Connection(args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), c)
		},
	}
}

func connectRemoveCmd(st *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use: "remove NAME", Short: "Remove a saved connection and its secrets", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := st.open()
			if err != nil {
				return err
			}
			return store.Remove(args[0])
		},
	}
}

func connectRotateCmd(st *storeFlags) *cobra.Command {
	var sf secretFlags
	cmd := &cobra.Command{
		Use:   "rotate NAME (--secret-stdin | --password-stdin | --certificate FILE | ...-env VAR)",
		Short: "Replace a connection's secret (sealed under a fresh data key)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sec, err := sf.read(cmd.InOrStdin())
			if err != nil {
				return err
			}
			store, _, err := st.open()
			if err != nil {
				return err
			}
			return store.Rotate(args[0], sec)
		},
	}
	sf.flags(cmd)
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

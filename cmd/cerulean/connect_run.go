package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/diagnose"
)

// openSession opens a saved connection.
func openSession(ctx context.Context, st *storeFlags, name string) (*connector.Session, error) {
	store, _, err := st.open()
	if err != nil {
		return nil, err
	}
	conn, sec, err := store.Get(name)
	if err != nil {
		return nil, err
	}
	return connector.Open(ctx, conn, sec, connector.WithUserAgent("cerulean-connect"))
}

func connectTestCmd(st *storeFlags) *cobra.Command {
	var registry, repository, armConn, output string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test NAME [--registry LOGIN_SERVER] [--repository REPO] [--arm-connection NAME] [-o json]",
		Short: "Test a connection step by step and say what is missing",
		Long: `Test a connection as a staged diagnosis: endpoint reachable and TLS valid; the /v2/
challenge's realm and service are the login server; Entra sign-in (tenant, object id,
audience); the token exchange; the catalog; one tag list; one manifest read; ARM registry
discovery. Each step passes or fails with a stable code and a reason in plain words.
--arm-connection names a connection that can read the registry through ARM, to tell
why Basic credentials were refused (token disabled, which password expired).
The exit status is 1 when a step failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			s, err := openSession(ctx, st, args[0])
			if err != nil {
				return err
			}
			opts := diagnose.Options{Registry: registry, Repository: repository}
			if armConn != "" {
				if opts.ARM, err = openSession(ctx, st, armConn); err != nil {
					return fmt.Errorf("--arm-connection: %w", err)
				}
			}
			rep := diagnose.Run(ctx, s, opts)
			if output == "json" {
				err = printJSON(cmd.OutOrStdout(), rep)
			} else {
				err = printReport(cmd.OutOrStdout(), rep)
			}
			if err != nil {
				return err
			}
			if f := rep.Failed(); f != nil {
				return fmt.Errorf("connection %s: the %s step failed: %s", rep.Connection, f.Name, f.Code)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&registry, "registry", "r", "", "login server to test (default: the connection's first registry)")
	f.StringVar(&repository, "repository", "", "repository to list tags of and read a manifest from (default: the catalog's first)")
	f.StringVar(&armConn, "arm-connection", "", "connection `name` that can read the registry through ARM, for the diagnosis")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

func printReport(w io.Writer, rep *diagnose.Report) error {
	fmt.Fprintf(w, "connection %s (%s, cloud %s), registry %s\n", rep.Connection, rep.Kind, rep.Cloud, rep.Registry)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, st := range rep.Steps {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", strings.ToUpper(string(st.Status)), st.Name, st.Code, st.Reason)
		keys := make([]string, 0, len(st.Details))
		for k := range st.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "  \t\t\t%s: %s\n", k, st.Details[k])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "all steps passed"
	if f := rep.Failed(); f != nil {
		verdict = "failed at " + f.Name + ": " + f.Code
	}
	_, err := fmt.Fprintf(w, "%s (%d registry requests, %d token requests, %d exchanges)\n", verdict,
		rep.Stats.Requests, rep.Stats.TokenRequests, rep.Stats.Exchanges)
	return err
}

// configureDockerCmd writes credHelpers entries for the connections' registries into
// docker's config.json, keeping everything else in it.
func configureDockerCmd(st *storeFlags) *cobra.Command {
	var configDir string
	cmd := &cobra.Command{
		Use:   "configure-docker [NAME...] [--docker-config DIR]",
		Short: "Make docker use docker-credential-cerulean for the connections' registries (credHelpers)",
		RunE: func(cmd *cobra.Command, args []string) error {
			store, _, err := st.open()
			if err != nil {
				return err
			}
			conns, err := store.List()
			if err != nil {
				return err
			}
			var hosts []string
			for _, c := range conns {
				if len(args) > 0 && !contains(args, c.Name) || c.Credential.Kind == connector.Anonymous {
					continue
				}
				hosts = append(hosts, c.Registries...)
			}
			if len(hosts) == 0 {
				return errors.New("no registries to configure: connections list none (ARM-discovered registries: add them with --registry)")
			}
			if configDir == "" {
				configDir = os.Getenv("DOCKER_CONFIG")
			}
			if configDir == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return err
				}
				configDir = filepath.Join(home, ".docker")
			}
			path, err := writeCredHelpers(configDir, hosts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: credHelpers for %s → cerulean\n", path, strings.Join(hosts, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&configDir, "docker-config", "", "docker's config `dir`ectory (default: $DOCKER_CONFIG, else ~/.docker)")
	return cmd
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeCredHelpers sets credHelpers[host] = "cerulean" in DIR/config.json.
func writeCredHelpers(dir string, hosts []string) (string, error) {
	path := filepath.Join(dir, "config.json")
	cfg := map[string]json.RawMessage{}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &cfg); err != nil {
			return path, fmt.Errorf("%s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return path, err
	}
	helpers := map[string]string{}
	if raw, ok := cfg["credHelpers"]; ok {
		if err := json.Unmarshal(raw, &helpers); err != nil {
			return path, fmt.Errorf("%s: credHelpers: %w", path, err)
		}
	}
	for _, h := range hosts {
		helpers[h] = "cerulean"
	}
	raw, err := json.Marshal(helpers)
	if err != nil {
		return path, err
	}
	cfg["credHelpers"] = raw
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return path, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return path, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return path, err
	}
	return path, os.Rename(tmp, path)
}

// tokenGenerateCmd is `cerulean token generate`: a short-lived registry credential of a
// saved connection, as External Secrets Operator's ACR generator makes it, as JSON or as a
// kubernetes.io/dockerconfigjson Secret. The --output flag is the token command's own
// (json by default); dockerconfigjson selects the Secret.
func tokenGenerateCmd() *cobra.Command {
	st := &storeFlags{}
	var registry, secretName, namespace string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "generate CONNECTION --registry LOGIN_SERVER [--scope repository:NAME:pull ...] [-o json|dockerconfigjson]",
		Short: "Generate a refresh token (no scope) or an access token (scopes) of a saved connection, with its expiry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			output, _ := cmd.Flags().GetString("output")
			if output != "json" && output != "dockerconfigjson" {
				return fmt.Errorf("--output %q: want json or dockerconfigjson", output)
			}
			s, err := openSession(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			if registry == "" {
				if regs := s.Connection().Registries; len(regs) == 1 {
					registry = regs[0]
				} else {
					return errors.New("--registry is required")
				}
			}
			reg, err := s.Registry(cmd.Context(), registry)
			if err != nil {
				return err
			}
			var tok connector.Token
			kind := "refresh_token"
			if len(scopes) == 0 {
				tok, err = reg.RefreshToken(cmd.Context())
			} else {
				kind = "access_token"
				tok, err = reg.AccessToken(cmd.Context(), scopes...)
			}
			if err != nil {
				return err
			}
			gen := generated{Registry: reg.LoginServer(), Username: connector.NullGUID, Password: tok.Value, Kind: kind,
				Scopes: tok.Scopes, ExpiresAt: tok.ExpiresAt.UTC().Format(time.RFC3339)}
			if output == "dockerconfigjson" {
				return printJSON(cmd.OutOrStdout(), gen.secret(secretName, namespace))
			}
			return printJSON(cmd.OutOrStdout(), gen)
		},
	}
	st.flags(cmd)
	f := cmd.Flags()
	f.StringVarP(&registry, "registry", "r", "", "login server (default: the connection's only registry)")
	f.StringArrayVar(&scopes, "scope", nil, "Docker `scope` (repository:NAME:ACTIONS, registry:catalog:*); repeatable; none gives a refresh token")
	f.StringVar(&secretName, "secret-name", "acr-credentials", "name of the Secret (-o dockerconfigjson)")
	f.StringVar(&namespace, "namespace", "", "namespace of the Secret (-o dockerconfigjson)")
	return cmd
}

// generated is `token generate`'s JSON: ESO's ACR generator's username and password,
// plus what it does not say (the kind, the scopes, the expiry).
type generated struct {
	Registry  string   `json:"registry"`
	Username  string   `json:"username"`
	Password  string   `json:"password"`
	Kind      string   `json:"kind"`
	Scopes    []string `json:"scopes,omitempty"`
	ExpiresAt string   `json:"expiresAt"`
}

func (g generated) secret(name, namespace string) map[string]any {
	auth := base64.StdEncoding.EncodeToString([]byte(g.Username + ":" + g.Password))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{g.Registry: map[string]string{
		"username": g.Username, "password": g.Password, "auth": auth}}})
	meta := map[string]any{"name": name, "annotations": map[string]string{"cerulean.dev/expires-at": g.ExpiresAt,
		"cerulean.dev/registry": g.Registry, "cerulean.dev/token-kind": g.Kind}}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	return map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "metadata": meta,
		"data": map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString(cfg)}}
}

package cliconn

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// Settings say where a client verb finds the server and who signs in. For each value the
// first that is set wins: the flag, the environment (CERULEAN_SERVER, CERULEAN_CA_FILE,
// AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID with AZURE_CLIENT_ID and AZURE_CLIENT_SECRET),
// the bootstrap file (Bootstrap, default DIR/bootstrap.json of Data), and the local
// server's data directory (DIR/run/serve.json for the address, DIR/tls/ca.pem for the CA).
type Settings struct {
	Data         string // data directory of a local server
	Bootstrap    string // bootstrap.json; "" for DIR/bootstrap.json
	Server       string // https://host[:port]
	CAFile       string
	Subscription string // the management verbs' --subscription
}

// AddFlags adds the flags every client verb has: --data, --bootstrap, --server and
// --ca-file.
func (st *Settings) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&st.Data, "data", "./data", "data `dir`ectory of a local server: bootstrap.json, tls/ca.pem, run/serve.json")
	f.StringVar(&st.Bootstrap, "bootstrap", "", "bootstrap `file` to sign in with (default: DIR/bootstrap.json)")
	f.StringVar(&st.Server, "server", "", "server `URL` (default: $CERULEAN_SERVER, else the local server's address)")
	f.StringVar(&st.CAFile, "ca-file", "", "PEM `file` of the CA to trust (default: $CERULEAN_CA_FILE, else DIR/tls/ca.pem if present)")
}

// Config says how to reach and sign in to a server.
type Config struct {
	Server                           string // https://host[:port]
	TenantID, ClientID, ClientSecret string
	CAFile                           string // PEM roots to trust besides the system's; "" for none
	// AuthorityHost is where the credential signs in; "" for the server itself.
	AuthorityHost string
	// SubscriptionID and ResourceGroup are the management verbs' defaults; "" when unknown.
	SubscriptionID, ResourceGroup string
}

// Resolve returns the Config the settings name. It fails when no server or no complete
// client secret credential is named; a subscription is left to the verbs that need one.
func (st Settings) Resolve(getenv func(string) string) (Config, error) {
	boot, err := st.readBootstrap()
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Server:         strings.TrimRight(cmp.Or(st.Server, getenv("CERULEAN_SERVER"), st.runFileServer(), withScheme(boot.LoginServer)), "/"),
		CAFile:         cmp.Or(st.CAFile, getenv("CERULEAN_CA_FILE"), st.localCA(), boot.CAFile),
		AuthorityHost:  boot.AuthorityHost,
		SubscriptionID: cmp.Or(st.Subscription, getenv("AZURE_SUBSCRIPTION_ID"), boot.SubscriptionID),
		ResourceGroup:  boot.ResourceGroup,
	}
	// The client id and secret come as a pair, from the environment or else the bootstrap
	// file, so that a half-set environment never mixes with the bootstrap owner's secret.
	if id, secret := getenv("AZURE_CLIENT_ID"), getenv("AZURE_CLIENT_SECRET"); id != "" && secret != "" {
		cfg.TenantID, cfg.ClientID, cfg.ClientSecret = cmp.Or(getenv("AZURE_TENANT_ID"), boot.TenantID), id, secret
	} else {
		cfg.TenantID, cfg.ClientID, cfg.ClientSecret = boot.TenantID, boot.ClientID, boot.ClientSecret
	}
	switch {
	case cfg.Server == "":
		return cfg, errors.New("no server: pass --server, set CERULEAN_SERVER, or point --data or --bootstrap at a server's files")
	case cfg.TenantID == "" || cfg.ClientID == "" || cfg.ClientSecret == "":
		return cfg, errors.New("no credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or pass --bootstrap (or --data) for the bootstrap owner")
	}
	return cfg, nil
}

// readBootstrap reads the bootstrap file. DIR/bootstrap.json may be absent (a remote
// server, or a principal from the environment); a file named by --bootstrap may not.
func (st Settings) readBootstrap() (Bootstrap, error) {
	var boot Bootstrap
	path := st.Bootstrap
	if path == "" && st.Data != "" {
		path = filepath.Join(st.Data, "bootstrap.json")
	}
	if path == "" {
		return boot, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &boot); err != nil {
			return boot, fmt.Errorf("%s: %w", path, err)
		}
	case st.Bootstrap != "" || !errors.Is(err, fs.ErrNotExist):
		return boot, err
	}
	return boot, nil
}

// runFileServer is the address a running local server announced in DIR/run/serve.json.
func (st Settings) runFileServer() string {
	if st.Data == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(st.Data, "run", "serve.json"))
	if err != nil {
		return ""
	}
	var info struct {
		LoginServer string `json:"login_server"`
	}
	if json.Unmarshal(b, &info) != nil {
		return ""
	}
	return withScheme(info.LoginServer)
}

// localCA is DIR/tls/ca.pem when it exists.
func (st Settings) localCA() string {
	if st.Data == "" {
		return ""
	}
	path := filepath.Join(st.Data, "tls", "ca.pem")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

func withScheme(host string) string {
	if host == "" {
		return ""
	}
	return "https://" + host
}

package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Settings say where a client verb finds the server and who signs in. For each value the
// first that is set wins: the flag, the environment (CERULEAN_SERVER, CERULEAN_CA_FILE,
// AZURE_TENANT_ID with AZURE_CLIENT_ID and AZURE_CLIENT_SECRET), the bootstrap file
// (Bootstrap, default DIR/bootstrap.json of Data), and the local server's data directory
// (DIR/run/serve.json for the address, DIR/tls/ca.pem for the CA).
type Settings struct {
	Data      string // data directory of a local server
	Bootstrap string // bootstrap.json; "" for DIR/bootstrap.json
	Server    string // https://host[:port]
	CAFile    string
}

// Resolve returns the Config the settings name.
func (st Settings) Resolve(getenv func(string) string) (Config, error) {
	path := st.Bootstrap
	if path == "" && st.Data != "" {
		path = filepath.Join(st.Data, "bootstrap.json")
	}
	var boot Bootstrap
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &boot); err != nil {
				return Config{}, fmt.Errorf("%s: %w", path, err)
			}
		case st.Bootstrap != "" || !errors.Is(err, fs.ErrNotExist):
			return Config{}, err
		}
	}
	cfg := Config{
		Server: strings.TrimRight(firstSet(st.Server, getenv("CERULEAN_SERVER"), st.runFileServer(), withScheme(boot.LoginServer)), "/"),
		CAFile: firstSet(st.CAFile, getenv("CERULEAN_CA_FILE"), st.localCA(), boot.CAFile),
	}
	if id, secret := getenv("AZURE_CLIENT_ID"), getenv("AZURE_CLIENT_SECRET"); id != "" && secret != "" {
		cfg.TenantID, cfg.ClientID, cfg.ClientSecret = firstSet(getenv("AZURE_TENANT_ID"), boot.TenantID), id, secret
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

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

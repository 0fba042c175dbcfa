package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/cerulean-registry/cerulean/auth"
)

// Config is everything `cerulean serve` needs. Flags binds it to command-line flags;
// Resolve fills what the command line left out from the environment and a config file.
type Config struct {
	DataDir string
	// Metadata and Blobs name shared stores (see Stores); "" keeps them in DataDir.
	Metadata, Blobs string
	// BlobRedirectTTL > 0 sends whole-blob GETs to short-lived URLs of an object store.
	BlobRedirectTTL time.Duration
	Addr            string
	TLSCert         string
	TLSKey          string
	Hosts           []string
	HTTPAddr        string
	MetricsAddr     string
	LogFormat       string
	LogLevel        string
	UploadTTL       time.Duration
	// RefreshTokenTTL and AccessTokenTTL are the lifetimes of the ACR tokens the token
	// service issues.
	RefreshTokenTTL time.Duration
	AccessTokenTTL  time.Duration
	ShutdownTimeout time.Duration
	// AuditRetention is how long the audit log keeps the gate's decisions (0: for ever).
	AuditRetention time.Duration

	// IMDSAddr and IMDSHost: a plain-HTTP IMDS-style managed-identity listener bound to
	// one identity host (see package identity).
	IMDSAddr string
	IMDSHost string
	// FederationCA: extra roots for fetching external OIDC issuers' keys.
	FederationCA string
	// BootstrapClientID and BootstrapClientSecret preset the owner created on first start.
	BootstrapClientID     string
	BootstrapClientSecret string
	// RegistryDomain is the DNS suffix of the login servers of registries created through
	// the management plane: <name>.<domain>[:port].
	RegistryDomain string
}

// ConfigFlag names the flag (and, as CERULEAN_CONFIG, the variable) that points at a YAML
// config file whose keys are flag names.
const ConfigFlag = "config"

// Flags registers c's fields as flags on fs, with their defaults, plus --config.
func (c *Config) Flags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "YAML `file` of settings keyed by flag name (flag > env > file > default)")
	fs.StringVar(&c.DataDir, "data", "./data", "data `dir`ectory: blobs, metadata, TLS material")
	fs.StringVar(&c.Metadata, "metadata", "", metadataUsage)
	fs.StringVar(&c.Blobs, "blobs", "", blobsUsage)
	fs.DurationVar(&c.BlobRedirectTTL, "blob-redirect-ttl", 0, "with azblob or s3 blobs, answer blob GETs with a 307 to a signed URL valid this `long` (0: serve the bytes)")
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:5443", "HTTPS listen `host:port` (port 0 picks a free port)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve this certificate `file` (PEM) instead of one from the local CA")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key `file` (PEM) for --tls-cert")
	fs.StringSliceVar(&c.Hosts, "host", nil, "extra DNS `name` or IP for the generated certificate (repeatable); "+
		"the first is the login server, with the listen port unless it names one")
	fs.StringVar(&c.HTTPAddr, "http-addr", "", "also serve plain HTTP on `host:port` (development only: unencrypted)")
	// 9464 is the port OpenTelemetry's Prometheus exporter uses; 9090 would clash with a local Prometheus.
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "127.0.0.1:9464", "Prometheus /metrics on `host:port` (\"\" disables)")
	fs.StringVar(&c.LogFormat, "log-format", "auto", "log `format`: auto (text on a terminal, else json), text, json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.DurationVar(&c.UploadTTL, "upload-ttl", 24*time.Hour, "expire upload sessions idle this long (0 keeps them)")
	fs.DurationVar(&c.RefreshTokenTTL, "refresh-token-ttl", auth.DefaultRefreshTTL, "lifetime of ACR refresh tokens")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", auth.DefaultAccessTTL, "lifetime of ACR access tokens")
	fs.DurationVar(&c.AuditRetention, "audit-retention", 30*24*time.Hour, "keep audit events (every allow and deny "+
		"of the data plane) this long; pruned hourly (0 keeps them all)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, wait this long for in-flight requests")
	fs.StringVar(&c.IMDSAddr, "imds-addr", "", "serve the IMDS-style managed-identity endpoint (plain HTTP) on `host:port`, "+
		"e.g. 169.254.169.254:80; everything that reaches it acts as --imds-host")
	fs.StringVar(&c.IMDSHost, "imds-host", "", "the managed-identity host `name` whose identities --imds-addr serves")
	fs.StringVar(&c.FederationCA, "federation-ca", "", "PEM `file` of extra CA certificates to trust when fetching "+
		"external OIDC issuers (workload identity federation)")
	fs.StringVar(&c.RegistryDomain, "registry-domain", "localhost", "DNS `suffix` of new registries' login servers: "+
		"<name>.<suffix>, with the listen port unless it is 443 (the default registry keeps the server's own address)")
	fs.StringVar(&c.BootstrapClientID, "bootstrap-client-id", "", "on first start, the owner's client `id` (a GUID; default: generated)")
	fs.StringVar(&c.BootstrapClientSecret, "bootstrap-client-secret", "", "on first start, the owner's client `secret` "+
		"(at least 32 characters; default: generated). Prefer CERULEAN_BOOTSTRAP_CLIENT_SECRET: command lines are visible to other users")
}

// EnvName is the environment variable for a flag: CERULEAN_ and the flag name in upper
// case with dashes as underscores (tls-cert → CERULEAN_TLS_CERT).
func EnvName(flag string) string {
	return "CERULEAN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Resolve sets every flag of fs that the command line did not set, first from its
// environment variable, then from the config file named by --config (or CERULEAN_CONFIG),
// so that precedence is flag > env > file > default. Lists take comma-separated values from
// the environment and a YAML sequence or scalar from the file.
func Resolve(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) error {
	file, err := readConfigFile(fs, lookupEnv)
	if err != nil {
		return err
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		if v, ok := lookupEnv(EnvName(f.Name)); ok {
			errs = append(errs, setFlag(f, []string{v}, EnvName(f.Name)))
		} else if vs, ok := file[f.Name]; ok {
			errs = append(errs, setFlag(f, vs, "config file"))
		}
	})
	return errors.Join(errs...)
}

func setFlag(f *pflag.Flag, values []string, source string) error {
	for _, v := range values {
		if err := f.Value.Set(v); err != nil {
			return fmt.Errorf("%s: %s=%q: %w", source, f.Name, v, err)
		}
	}
	f.Changed = true
	return nil
}

// readConfigFile returns the values of the config file named by the --config flag or its
// variable, keyed by flag name; none when no file is named or fs has no --config flag.
func readConfigFile(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (map[string][]string, error) {
	f := fs.Lookup(ConfigFlag)
	if f == nil {
		return nil, nil
	}
	if !f.Changed {
		if v, ok := lookupEnv(EnvName(ConfigFlag)); ok {
			if err := setFlag(f, []string{v}, EnvName(ConfigFlag)); err != nil {
				return nil, err
			}
		}
	}
	path := f.Value.String()
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	values, err := parseConfig(b, fs)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return values, nil
}

// parseConfig reads a YAML mapping of flag names to scalars or sequences of scalars. Keys
// that are not flags of fs are errors, so a typo does not silently fall back to a default.
func parseConfig(b []byte, fs *pflag.FlagSet) (map[string][]string, error) {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	values := make(map[string][]string, len(doc))
	for key, node := range doc {
		if key == ConfigFlag || fs.Lookup(key) == nil {
			return nil, fmt.Errorf("unknown key %q", key)
		}
		vs, err := scalars(&node)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		values[key] = vs
	}
	return values, nil
}

func scalars(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" { // `key:` or `key: ~` means empty, not "~"
			return []string{""}, nil
		}
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		vs := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, errors.New("want a scalar or a list of scalars")
			}
			vs = append(vs, c.Value)
		}
		return vs, nil
	}
	return nil, errors.New("want a scalar or a list of scalars")
}

// Validate checks c and makes DataDir absolute, so that the paths the server prints work
// from any directory.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data must not be empty"))
	} else if abs, err := filepath.Abs(c.DataDir); err != nil {
		errs = append(errs, fmt.Errorf("--data: %w", err))
	} else {
		c.DataDir = abs
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("--addr must not be empty"))
	}
	if slices.Contains(c.Hosts, "") {
		errs = append(errs, errors.New("--host must not be empty"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want auto, text or json", c.LogFormat))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if c.RegistryDomain == "" || strings.ContainsAny(c.RegistryDomain, "/:@ ") {
		errs = append(errs, fmt.Errorf("--registry-domain %q: want a DNS name such as localhost", c.RegistryDomain))
	}
	if (c.IMDSAddr == "") != (c.IMDSHost == "") {
		errs = append(errs, errors.New("--imds-addr and --imds-host go together"))
	}
	if c.RefreshTokenTTL <= 0 || c.AccessTokenTTL <= 0 || c.RefreshTokenTTL > 24*time.Hour || c.AccessTokenTTL > 24*time.Hour {
		errs = append(errs, errors.New("--refresh-token-ttl and --access-token-ttl must be positive and at most 24h"))
	}
	if c.UploadTTL < 0 || c.ShutdownTimeout < 0 || c.AuditRetention < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return errors.Join(errs...)
}

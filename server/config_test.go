package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// resolve parses args as `serve` flags and resolves them against env.
func resolve(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	var c Config
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	c.Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := Resolve(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return c, err
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cerulean.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolvePrecedence(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, "addr: file:1\nhost: [a.test, b.test]\nupload-ttl: 1h\ntls-cert:\n")
	type want struct {
		Addr  string
		Hosts []string
		TTL   time.Duration
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want want
	}{
		{"defaults", nil, nil, want{"127.0.0.1:5443", nil, 24 * time.Hour}},
		{"file over default", []string{"--config", file}, nil, want{"file:1", []string{"a.test", "b.test"}, time.Hour}},
		{"config named by env", nil, map[string]string{"CERULEAN_CONFIG": file}, want{"file:1", []string{"a.test", "b.test"}, time.Hour}},
		{
			"env over file", []string{"--config", file},
			map[string]string{"CERULEAN_ADDR": "env:1", "CERULEAN_HOST": "c.test,d.test"},
			want{"env:1", []string{"c.test", "d.test"}, time.Hour},
		},
		{
			"flag over env", []string{"--config", file, "--addr", "flag:1", "--host", "e.test", "--upload-ttl", "2m"},
			map[string]string{"CERULEAN_ADDR": "env:1", "CERULEAN_UPLOAD_TTL": "3m"},
			want{"flag:1", []string{"e.test"}, 2 * time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := resolve(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			got := want{c.Addr, c.Hosts, c.UploadTTL}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string // config file content; "" for none
		env     map[string]string
		wantErr string
	}{
		{"unknown key", "adr: x:1\n", nil, `unknown key "adr"`},
		{"config is not a key", "config: other.yaml\n", nil, `unknown key "config"`},
		{"nested value", "addr: {host: x}\n", nil, "want a scalar"},
		{"bad duration in file", "upload-ttl: soon\n", nil, "upload-ttl"},
		{"bad duration in env", "", map[string]string{"CERULEAN_SHUTDOWN_TIMEOUT": "soon"}, "CERULEAN_SHUTDOWN_TIMEOUT"},
		{"not yaml", "addr: [\n", nil, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			if tt.file != "" {
				args = []string{"--config", writeConfig(t, tt.file)}
			}
			_, err := resolve(t, args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolveMissingFile(t *testing.T) {
	t.Parallel()
	_, err := resolve(t, []string{"--config", filepath.Join(t.TempDir(), "absent.yaml")}, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Resolve error = %v, want os.ErrNotExist", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"empty data", func(c *Config) { c.DataDir = "" }, "--data"},
		{"empty addr", func(c *Config) { c.Addr = "" }, "--addr"},
		{"cert without key", func(c *Config) { c.TLSCert = "c.pem" }, "--tls-key"},
		{"empty host", func(c *Config) { c.Hosts = []string{"a.test", ""} }, "--host"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "--log-level"},
		{"negative ttl", func(c *Config) { c.UploadTTL = -time.Second }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := resolve(t, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(&c)
			err = c.Validate()
			if tt.wantErr == "" {
				if err != nil || !filepath.IsAbs(c.DataDir) {
					t.Errorf("Validate() = %v, DataDir %q; want nil and an absolute path", err, c.DataDir)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	if got := EnvName("tls-cert"); got != "CERULEAN_TLS_CERT" {
		t.Errorf("EnvName(tls-cert) = %q", got)
	}
}

package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// RunInfo is the content of DIR/run/serve.json: written once every listener is open (so
// it names the actual ports, also when asked for port 0) and removed on shutdown. A file
// left behind by a killed server names a pid that is gone.
//
//	{"pid":4242,"addr":"127.0.0.1:5443","login_server":"127.0.0.1:5443",
//	 "ca_file":"/srv/data/tls/ca.pem","metrics_addr":"127.0.0.1:9464"}
type RunInfo struct {
	PID         int    `json:"pid"`
	Addr        string `json:"addr"`                   // HTTPS listener
	LoginServer string `json:"login_server"`           // the registry's name for clients
	CAFile      string `json:"ca_file,omitempty"`      // absent with --tls-cert
	HTTPAddr    string `json:"http_addr,omitempty"`    // plain HTTP listener, if any
	MetricsAddr string `json:"metrics_addr,omitempty"` // Prometheus listener, if any
}

func runFile(dataDir string) string { return filepath.Join(dataDir, "run", "serve.json") }

func (s *Server) runInfo(ls []*listener) RunInfo {
	info := RunInfo{PID: os.Getpid(), CAFile: s.caFile}
	for _, l := range ls {
		switch addr := l.ln.Addr(); l.name {
		case "https":
			info.Addr = addr.String()
			info.LoginServer = loginServer(s.cfg.Hosts, addr)
		case "http":
			info.HTTPAddr = addr.String()
		case "metrics":
			info.MetricsAddr = addr.String()
		}
	}
	return info
}

func writeRunInfo(dataDir string, info RunInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	path := runFile(dataDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

// loginServer is the name clients use for the registry: the first --host, with the listen
// port unless it names one or the port is 443; else the listen address, with localhost
// for a wildcard one.
func loginServer(hosts []string, addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if len(hosts) > 0 {
		h, p := splitHost(hosts[0])
		switch {
		case p != "":
			return hosts[0]
		case port == "443":
			return h
		}
		return net.JoinHostPort(h, port)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// hostNames returns the names of --host values without their ports, for the certificate.
func hostNames(hosts []string) []string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i], _ = splitHost(h)
	}
	return names
}

// splitHost splits "name:port" or "[ip6]:port"; a value without a port is all host.
func splitHost(h string) (host, port string) {
	if host, port, err := net.SplitHostPort(h); err == nil {
		return host, port
	}
	return strings.Trim(h, "[]"), ""
}

// announce tells the operator where the server is, how to trust it, and what it does not
// protect yet. The warnings also go to the log, for whoever reads only that.
func (s *Server) announce(w io.Writer, info RunInfo) {
	ls := info.LoginServer
	fmt.Fprintf(w, "cerulean serving https://%s (login server %s), data in %s\n", info.Addr, ls, s.cfg.DataDir)
	if info.MetricsAddr != "" {
		fmt.Fprintf(w, "  metrics:  http://%s/metrics\n", info.MetricsAddr)
	}
	if s.caFile != "" {
		fmt.Fprintf(w, "  trust the local CA:\n")
		fmt.Fprintf(w, "    curl --cacert %s https://%s/v2/\n", s.caFile, ls)
		fmt.Fprintf(w, "    export SSL_CERT_FILE=%s   # Go, Python, OpenSSL tools\n", s.caFile)
		fmt.Fprintf(w, "    sudo install -D -m 0644 %s /etc/docker/certs.d/%s/ca.crt   # docker, containerd\n", s.caFile, ls)
	}
	fmt.Fprintf(w, "  sign in: docker login %s -u <clientId> -p <clientSecret> (from the bootstrap file), or enable the admin user\n", ls)
	if info.HTTPAddr != "" {
		fmt.Fprintf(w, "WARNING: plain HTTP on %s: unencrypted, for development only.\n", info.HTTPAddr)
		s.log.Warn("serving plain http", slog.String("addr", info.HTTPAddr))
	}
}

// Package server owns the running process of `cerulean serve`: configuration (flags,
// CERULEAN_* variables, a YAML file), TLS from a local CA or given certificates, the
// middleware every request passes (request id, access log, metrics, panic recovery),
// health endpoints, and start-up and graceful shutdown. It wires the planes onto one
// listener; it holds no registry logic.
//
// Layout of the data directory (created 0700):
//
//	DIR/blobs/            blob store (storage/blob/fs)
//	DIR/metadata.db       metadata (storage/meta/sqlite)
//	DIR/tls/ca.pem        local CA certificate: what clients trust
//	DIR/tls/ca-key.pem    its key (0600); kept for the life of the data directory
//	DIR/tls/server.pem    server certificate, reissued when the names change or expiry nears
//	DIR/tls/server-key.pem
//	DIR/keys/master.key   master key (0600): seals signing keys in the metadata store
//	DIR/bootstrap.json    first start: tenant, subscription, owner client id and secret (0600)
//	DIR/run/serve.json    while serving: where (see RunInfo); removed on shutdown
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cerulean-registry/cerulean/auth"
	"github.com/cerulean-registry/cerulean/identity"
	"github.com/cerulean-registry/cerulean/management"
	"github.com/cerulean-registry/cerulean/registry"
	"github.com/cerulean-registry/cerulean/signing"
	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Server is a configured `cerulean serve` with its stores open.
type Server struct {
	cfg      Config
	log      *slog.Logger
	blobs    blob.Store
	meta     meta.Store
	registry *registry.Registry
	tls      *tls.Config
	caFile   string // "" when serving the operator's own certificate
	metrics  *metrics
	// masterKey seals secrets at rest (DIR/keys/master.key); identity is the identity
	// plane, set by Run once the login server (the issuer) is known.
	masterKey *signing.MasterKey
	identity  *identity.Service
	// management is the management plane (ARM): built by New, verifying tokens with
	// identity once Run started it.
	management *management.Service
	// auth is the data plane's token service and gate; epoch tells it when the records it
	// caches may have changed.
	auth  *auth.Service
	epoch accessEpoch
	// audit writes the gate's decisions to the metadata store in the background.
	audit *auth.AuditLog
}

// Serve runs `cerulean serve` with cfg until ctx ends: notices go to stdout, logs to
// stderr. cfg must have passed Validate.
func Serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	s, err := New(cfg, NewLogger(stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	err = s.Run(ctx, stdout)
	return errors.Join(err, s.Close())
}

// New prepares the data directory and TLS material and opens the stores. cfg must have
// passed Validate. Close releases what New opened.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, metrics: newMetrics()}
	if err := s.setupTLS(); err != nil {
		return nil, err
	}
	blobs, md, err := Stores{DataDir: cfg.DataDir, Metadata: cfg.Metadata, Blobs: cfg.Blobs}.open(context.Background())
	if err != nil {
		return nil, err
	}
	s.blobs, s.meta = blobs, md
	if s.masterKey, err = signing.LoadMasterKey(filepath.Join(cfg.DataDir, signing.MasterKeyFile)); err != nil {
		md.Close()
		return nil, err
	}
	if err := s.newAuth(); err != nil {
		md.Close()
		return nil, err
	}
	s.registry = registry.New(registry.Options{Blobs: blobs, Meta: md, Logger: log, Gate: s.auth, RedirectTTL: cfg.BlobRedirectTTL})
	if err := s.newManagement(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// auditCloseTimeout bounds writing the buffered audit events at Close.
const auditCloseTimeout = 10 * time.Second

// Close writes the buffered audit events and closes the stores; call it after Run
// returned. (The filesystem blob store holds nothing open between calls.)
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), auditCloseTimeout)
	defer cancel()
	return errors.Join(s.audit.Close(ctx), s.meta.Close())
}

func (s *Server) setupTLS() error {
	var cert tls.Certificate
	var err error
	if s.cfg.TLSCert != "" {
		cert, err = tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	} else {
		s.caFile = filepath.Join(s.cfg.DataDir, "tls", caCertFile)
		cert, err = localTLS(filepath.Dir(s.caFile), hostNames(s.cfg.Hosts), time.Now())
	}
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	s.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	return nil
}

// Run serves until ctx ends, then stops accepting, lets in-flight requests finish within
// the shutdown timeout and returns. It writes the start-up notice to out.
func (s *Server) Run(ctx context.Context, out io.Writer) error {
	ls, err := s.listen()
	if err != nil {
		return err
	}
	info := s.runInfo(ls)
	// The identity plane needs the login server, its issuer, which port 0 decides only
	// now; the handlers are attached once it exists.
	bootstrapFile, err := s.startIdentity(ctx, info.LoginServer)
	if err != nil {
		closeAll(ls)
		return err
	}
	s.attach(ls)
	if err := writeRunInfo(s.cfg.DataDir, info); err != nil {
		closeAll(ls)
		return err
	}
	defer os.Remove(runFile(s.cfg.DataDir))
	releaseStartupPages()
	s.announce(out, info)
	s.announceIdentity(out, bootstrapFile)

	g, gctx := errgroup.WithContext(ctx)
	for _, l := range ls {
		g.Go(l.serve)
	}
	g.Go(func() error {
		<-gctx.Done()
		return s.shutdown(ls)
	})
	g.Go(func() error { return s.expireUploads(gctx) })
	g.Go(func() error { return s.watchAccess(gctx) })
	return g.Wait()
}

// listener is one of the server's sockets and what serves it.
type listener struct {
	name string // https, http, metrics or imds
	ln   net.Listener
	srv  *http.Server // set by attach
}

// listen opens every socket before anything is served, so a taken port fails the start
// rather than half of the server.
func (s *Server) listen() ([]*listener, error) {
	specs := []struct{ name, addr string }{
		{"https", s.cfg.Addr},
		{"http", s.cfg.HTTPAddr},
		{"metrics", s.cfg.MetricsAddr},
		{"imds", s.cfg.IMDSAddr},
	}
	var ls []*listener
	for _, sp := range specs {
		if sp.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", sp.addr)
		if err != nil {
			closeAll(ls)
			return nil, fmt.Errorf("%s listener: %w", sp.name, err)
		}
		ls = append(ls, &listener{name: sp.name, ln: ln})
	}
	return ls, nil
}

// attach gives each listener its server and handler.
func (s *Server) attach(ls []*listener) {
	h := s.routes()
	for _, l := range ls {
		switch l.name {
		case "https":
			l.srv = s.httpServer(h, s.tls)
		case "http":
			l.srv = s.httpServer(h, nil)
		case "metrics":
			l.srv = s.httpServer(s.metrics.handler(), nil)
		case "imds":
			l.srv = s.httpServer(s.imdsRoutes(), nil)
		}
	}
}

func (s *Server) httpServer(h http.Handler, tlsConf *tls.Config) *http.Server {
	return &http.Server{
		Handler:   h,
		TLSConfig: tlsConf,
		// No ReadTimeout or WriteTimeout: they bound a whole request, and pushing or pulling
		// a large layer is one long request. Slow headers and idle connections are bounded.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Mostly TLS handshake failures: a client that does not trust the CA shows up here.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// HTTP/2's default 1 MiB receive windows stall a layer push on window updates; a
		// 2 MiB stream window lets the client keep the pipe full. The window is also what a
		// push may park in memory while the disk catches up, so it is no larger (4 MiB
		// windows pushed no faster on loopback and held twice the memory).
		HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 2 << 20, MaxReceiveBufferPerConnection: 4 << 20},
	}
}

// serve serves until shutdown. ServeTLS turns HTTP/2 on.
func (l *listener) serve() error {
	var err error
	if l.srv.TLSConfig != nil {
		err = l.srv.ServeTLS(l.ln, "", "")
	} else {
		err = l.srv.Serve(l.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s listener: %w", l.name, err)
}

// shutdown stops every listener at once and waits for in-flight requests up to the
// timeout, then cuts what is left.
func (s *Server) shutdown(ls []*listener) error {
	s.log.Info("shutting down", slog.Duration("timeout", s.cfg.ShutdownTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var g errgroup.Group
	for _, l := range ls {
		g.Go(func() error {
			if err := l.srv.Shutdown(ctx); err != nil {
				l.srv.Close()
				return fmt.Errorf("%s listener: requests still running after %s were cut", l.name, s.cfg.ShutdownTimeout)
			}
			return nil
		})
	}
	return g.Wait()
}

func closeAll(ls []*listener) {
	for _, l := range ls {
		l.ln.Close()
	}
}

// expireUploads cancels abandoned upload sessions at start and then periodically, until
// ctx ends.
func (s *Server) expireUploads(ctx context.Context) error {
	ttl := s.cfg.UploadTTL
	if ttl == 0 {
		return nil
	}
	t := time.NewTicker(max(min(ttl/4, time.Hour), time.Second))
	defer t.Stop()
	for {
		n, err := s.registry.ExpireUploads(ctx, ttl)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("expire uploads", slog.Any("err", err))
		} else if n > 0 {
			s.log.Info("expired uploads", slog.Int("count", n), slog.Duration("ttl", ttl))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

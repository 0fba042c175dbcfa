// Package pgtest gives tests throwaway PostgreSQL databases. With CERULEAN_POSTGRES_DSN
// set (a DSN of a role that may CREATE DATABASE, e.g. the one scripts/postgres.sh prints)
// it creates them on that server; otherwise it starts one server per test binary with the
// PostgreSQL binaries of the machine (initdb and postgres on PATH, or Debian's
// /usr/lib/postgresql/VERSION/bin), in a temporary directory, listening on 127.0.0.1 only,
// without fsync: its data is thrown away. When no server can be had, a test is skipped
// with the reason, unless CI=true, where it fails.
//
// Every database gets a random name and is dropped when its test ends. A test binary that
// calls Main from TestMain also stops its server and drops its templates at exit; without
// it the server still goes with the test process (it is started with a parent-death
// signal), but its directory stays behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the DSN of an existing server to use.
const EnvDSN = "CERULEAN_POSTGRES_DSN"

const (
	startTimeout = 60 * time.Second // initdb and the first start, on a slow CI machine under -race
	stopTimeout  = 30 * time.Second
)

// server is the PostgreSQL server of this test binary.
type server struct {
	admin    string // DSN of the maintenance database, as a role that may create databases
	strategy string // clause of CREATE DATABASE choosing how it copies the template
	cmd      *exec.Cmd
	dir      string // the started server's directory, removed at exit
	exit     chan struct{}

	mu        sync.Mutex
	templates map[string]*template
}

type template struct {
	once sync.Once
	name string
	err  error
}

var (
	startOnce sync.Once
	srv       *server
	srvErr    error
)

// get returns the server, starting it on first use; it skips or fails tb when there is
// none.
func get(tb testing.TB) *server {
	tb.Helper()
	startOnce.Do(func() { srv, srvErr = start() })
	if srvErr != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pgtest: no PostgreSQL server: %v", srvErr)
		}
		tb.Skipf("pgtest: no PostgreSQL server (set %s, or install PostgreSQL: scripts/install-test-deps.sh): %v", EnvDSN, srvErr)
	}
	return srv
}

// New returns the DSN of a new, empty database, dropped when tb ends.
func New(tb testing.TB) string {
	tb.Helper()
	return get(tb).create(tb, "template0")
}

// NewFrom returns the DSN of a new database copied from the template named key, which
// prepare fills, given the template's DSN, once per test binary (prepare must close its
// connections before it returns). The copy is dropped when tb ends. Copying a prepared
// template is much faster than preparing every database, e.g. by running migrations.
func NewFrom(tb testing.TB, key string, prepare func(ctx context.Context, dsn string) error) string {
	tb.Helper()
	s := get(tb)
	s.mu.Lock()
	if s.templates == nil {
		s.templates = map[string]*template{}
	}
	tmpl := s.templates[key]
	if tmpl == nil {
		tmpl = &template{}
		s.templates[key] = tmpl
	}
	s.mu.Unlock()
	tmpl.once.Do(func() {
		name := randomName("cerulean_tmpl_")
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if tmpl.err = s.exec(ctx, `CREATE DATABASE `+quote(name)+` TEMPLATE template0`); tmpl.err != nil {
			return
		}
		tmpl.name = name
		if err := prepare(ctx, withDatabase(s.admin, name)); err != nil {
			tmpl.err = fmt.Errorf("prepare template %s: %w", key, err)
		}
	})
	if tmpl.err != nil {
		tb.Fatalf("pgtest: %v", tmpl.err)
	}
	return s.create(tb, tmpl.name)
}

// Main runs the tests of m, then stops the server this binary started (or drops the
// templates it made on a server given by CERULEAN_POSTGRES_DSN), and exits.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop does what Main does after the tests, for a TestMain that has more to stop: it
// stops the server this binary started (or drops the templates it made on a server given
// by CERULEAN_POSTGRES_DSN).
func Stop() {
	if srv != nil {
		if err := srv.close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
}

func (s *server) create(tb testing.TB, template string) string {
	tb.Helper()
	name := randomName("cerulean_test_")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.exec(ctx, `CREATE DATABASE `+quote(name)+` TEMPLATE `+quote(template)+s.strategy); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := s.exec(ctx, `DROP DATABASE `+quote(name)+` WITH (FORCE)`); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return withDatabase(s.admin, name)
}

// exec runs one statement on the maintenance database, on a connection of its own:
// CREATE and DROP DATABASE cannot run in a transaction, and a pool would hold sessions.
func (s *server) exec(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

func (s *server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var errs []error
	if s.cmd == nil {
		for _, t := range s.templates {
			if t.name != "" {
				errs = append(errs, s.exec(ctx, `DROP DATABASE `+quote(t.name)+` WITH (FORCE)`))
			}
		}
		return errors.Join(errs...)
	}
	// SIGINT: PostgreSQL's fast shutdown (sessions are ended, nothing is waited for).
	if err := s.cmd.Process.Signal(syscall.SIGINT); err == nil {
		select {
		case <-s.exit:
		case <-ctx.Done():
			s.cmd.Process.Kill()
			<-s.exit
		}
	}
	return os.RemoveAll(s.dir)
}

// start returns the server of CERULEAN_POSTGRES_DSN, or starts one.
func start() (*server, error) {
	s := &server{admin: os.Getenv(EnvDSN)}
	if s.admin == "" {
		bin, err := binDir()
		if err != nil {
			return nil, err
		}
		s.exit = make(chan struct{})
		if err := s.init(bin); err != nil {
			os.RemoveAll(s.dir)
			return nil, err
		}
	}
	version, err := serverVersion(s.admin)
	if err != nil {
		if s.cmd != nil {
			s.close()
		}
		return nil, fmt.Errorf("connect to %s: %w", s.admin, err)
	}
	if version >= 150000 {
		// FILE_COPY copies the few files of a small database instead of logging every page.
		s.strategy = ` STRATEGY FILE_COPY`
	}
	return s, nil
}

// serverVersion is the server's version number, e.g. 150018 for 15.18.
func serverVersion(dsn string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var version int
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version)
	return version, err
}

// binDir finds the directory of initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) }) // newest first
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("initdb not found on PATH nor in /usr/lib/postgresql/*/bin")
}

// version is the major version of /usr/lib/postgresql/VERSION/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// init creates a cluster in a new temporary directory and starts its server. PostgreSQL
// refuses to run as root, so as root it runs as the postgres user (or nobody).
func (s *server) init(bin string) error {
	cred, err := credential()
	if err != nil {
		return err
	}
	if s.dir, err = os.MkdirTemp("", "cerulean-pgtest-"); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	data := filepath.Join(s.dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(port), "-c", "unix_socket_directories=",
		// Throwaway data: no durability, so creating a database per test is cheap.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// The server goes with the test process however it ends (SIGQUIT: immediate shutdown).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exit)
	}()

	s.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.admin)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.exit:
			log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("postgres exited: %s\n%s", s.cmd.ProcessState, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			<-s.exit
			return fmt.Errorf("postgres did not accept connections within %v: %w", startTimeout, err)
		}
	}
}

// credential is who runs PostgreSQL: nil (this process's user) unless that is root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root and there is no postgres (or nobody) user to run PostgreSQL as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func quote(ident string) string { return pgx.Identifier{ident}.Sanitize() }

// withDatabase returns dsn (a URL or keyword/value string) naming database instead.
func withDatabase(dsn, database string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + database
		u.RawPath = ""
		return u.String()
	}
	// In a keyword/value string the last setting of a keyword wins.
	return strings.TrimSpace(dsn) + " dbname=" + database
}

package clients

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// skopeo runs the skopeo program against the server, trusting it only through a
// certificate directory holding the server's CA as ca.crt, with a home of its own (no
// user credentials or blob-info cache from outside the test). creds are the bootstrap
// owner's, as skopeo's --creds, --src-creds and --dest-creds take them (user:password).
type skopeo struct {
	bin     string
	host    string
	certDir string
	home    string
	creds   string
}

func newSkopeo(t *testing.T, bin string, s *testserver.Server) *skopeo {
	t.Helper()
	k := &skopeo{bin: bin, host: s.Host, certDir: t.TempDir(), home: t.TempDir(), creds: s.Username + ":" + s.Password}
	ca := must(os.ReadFile(s.CAFile)).in(t)
	if err := os.WriteFile(filepath.Join(k.certDir, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

// run runs `skopeo --insecure-policy --debug args...` and returns its standard output;
// the error carries the whole debug trace, which shows each HTTP request.
func (k *skopeo) run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	stdout, _, err := k.runTraced(t, args...)
	return stdout, err
}

// runTraced is run that also returns the debug trace (standard error).
func (k *skopeo) runTraced(t testing.TB, args ...string) (stdout, trace string, err error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), k.bin, append([]string{"--insecure-policy", "--debug"}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + k.home,
		"XDG_RUNTIME_DIR=" + k.home,
		"REGISTRY_AUTH_FILE=" + filepath.Join(k.home, "auth.json"),
		"TMPDIR=" + t.TempDir(),
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), stderr.String(), &skopeoError{args: args, err: err, stderr: stderr.String()}
	}
	return out.String(), stderr.String(), nil
}

// checkTokenFlow checks in a debug trace that skopeo signed in as Docker clients do: its
// ping of /v2/ was answered 401, it fetched a token from the challenge's realm, then read
// the manifest of repo (with that token).
func (k *skopeo) checkTokenFlow(t testing.TB, trace, repo string) {
	t.Helper()
	base := "https://" + k.host
	steps := []string{
		`msg="Ping ` + base + `/v2/ status 401"`,
		`msg="GET ` + base + `/oauth2/token?`,
		`msg="GET ` + base + `/v2/` + repo + `/manifests/`,
	}
	rest := trace
	for _, step := range steps {
		i := strings.Index(rest, step)
		if i < 0 {
			t.Fatalf("no %s after the earlier steps of the token flow in the trace:\n%s", step, trace)
		}
		rest = rest[i+len(step):]
	}
}

// mustRun is run that fails the test on error.
func (k *skopeo) mustRun(t testing.TB, args ...string) string {
	t.Helper()
	return must(k.run(t, args...)).in(t)
}

type skopeoError struct {
	args   []string
	err    error
	stderr string
}

func (e *skopeoError) Error() string {
	args := slices.Clone(e.args)
	for i := 1; i < len(args); i++ {
		if strings.HasSuffix(args[i-1], "creds") {
			args[i] = "<user:password>" // the owner's secret stays out of the log
		}
	}
	return "skopeo " + strings.Join(args, " ") + ": " + e.err.Error() + "\n" + e.stderr
}

// docker names repo[:tag or @digest] on the server as a docker:// reference.
func (k *skopeo) docker(repoAndRef string) string { return "docker://" + k.host + "/" + repoAndRef }

// pushLayout writes img into an OCI layout and copies it to repo:tag with skopeo,
// keeping its digest, and returns that digest as skopeo reports it.
func (k *skopeo) pushLayout(t *testing.T, repo, tag string, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	writeLayout(t, dir, tag, img)
	digestFile := filepath.Join(t.TempDir(), "digest")
	k.mustRun(t, "copy", "--dest-cert-dir", k.certDir, "--dest-tls-verify=true", "--dest-creds", k.creds,
		"--preserve-digests", "--digestfile", digestFile, "oci:"+dir+":"+tag, k.docker(repo+":"+tag))
	got := string(must(os.ReadFile(digestFile)).in(t))
	if want := must(img.Digest()).in(t).String(); got != want {
		t.Fatalf("skopeo pushed %s, want %s", got, want)
	}
	return got
}

func TestSkopeo(t *testing.T) {
	bin := requireTool(t, "skopeo")
	s := testserver.Start(t)
	k := newSkopeo(t, bin, s)
	// Each side is trusted by the CA and signed in with the owner's credentials.
	srcTLS := []string{"--src-cert-dir", k.certDir, "--src-tls-verify=true", "--src-creds", k.creds}
	dstTLS := []string{"--dest-cert-dir", k.certDir, "--dest-tls-verify=true", "--dest-creds", k.creds}
	tls := []string{"--cert-dir", k.certDir, "--tls-verify=true", "--creds", k.creds}
	anonTLS := []string{"--cert-dir", k.certDir, "--tls-verify=true"}
	args := func(parts ...[]string) []string { return slices.Concat(parts...) }

	t.Run("copy-in-out", func(t *testing.T) {
		t.Parallel()
		repo := repoName(t)
		img := newImage(t, types.OCIManifestSchema1, 2, 2048)
		k.pushLayout(t, repo, "v1", img)

		for _, tc := range []struct {
			name  string
			dest  func(dir string) string
			check func(t *testing.T, dir string)
		}{
			{
				name:  "oci",
				dest:  func(dir string) string { return "oci:" + dir + ":v1" },
				check: func(t *testing.T, dir string) { compareImages(t, layoutImage(t, dir, "v1"), img) },
			},
			{
				name: "dir",
				dest: func(dir string) string { return "dir:" + dir },
				check: func(t *testing.T, dir string) {
					// dir: keeps the manifest as manifest.json and each blob under its hex digest.
					if got, want := must(os.ReadFile(filepath.Join(dir, "manifest.json"))).in(t), must(img.RawManifest()).in(t); !bytes.Equal(got, want) {
						t.Errorf("manifest.json\n%s\nwant\n%s", got, want)
					}
					for _, l := range must(img.Layers()).in(t) {
						got := must(os.ReadFile(filepath.Join(dir, must(l.Digest()).in(t).Hex))).in(t)
						if !bytes.Equal(got, layerBytes(t, l)) {
							t.Errorf("layer %s differs", must(l.Digest()).in(t))
						}
					}
				},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := t.TempDir()
				k.mustRun(t, args([]string{"copy", "--preserve-digests"}, srcTLS, []string{k.docker(repo + ":v1"), tc.dest(dir)})...)
				tc.check(t, dir)
			})
		}
	})

	t.Run("copy-between-repos", func(t *testing.T) {
		t.Parallel()
		src, dst := repoName(t, "src"), repoName(t, "dst")
		k.pushLayout(t, src, "v1", newImage(t, types.OCIManifestSchema1, 2, 2048))
		// Converting to Docker schema 2 pushes a Docker manifest and a new config.
		k.mustRun(t, args([]string{"copy", "--format", "v2s2"}, srcTLS, dstTLS, []string{k.docker(src + ":v1"), k.docker(dst + ":v1")})...)
		raw := k.mustRun(t, args([]string{"inspect", "--raw"}, tls, []string{k.docker(dst + ":v1")})...)
		var m v1.Manifest
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("inspect --raw: %v\n%s", err, raw)
		}
		if m.MediaType != types.DockerManifestSchema2 {
			t.Errorf("copied manifest is %s, want %s", m.MediaType, types.DockerManifestSchema2)
		}
	})

	t.Run("inspect", func(t *testing.T) {
		t.Parallel()
		repo := repoName(t)
		img := newImage(t, types.OCIManifestSchema1, 2, 1024)
		dig := k.pushLayout(t, repo, "v1", img)

		for _, ref := range []string{repo + ":v1", repo + "@" + dig} {
			raw := k.mustRun(t, args([]string{"inspect", "--raw"}, tls, []string{k.docker(ref)})...)
			if want := string(must(img.RawManifest()).in(t)); raw != want {
				t.Errorf("inspect --raw %s:\n%s\nwant\n%s", ref, raw, want)
			}
			cfg := k.mustRun(t, args([]string{"inspect", "--config", "--raw"}, tls, []string{k.docker(ref)})...)
			if want := string(must(img.RawConfigFile()).in(t)); cfg != want {
				t.Errorf("inspect --config --raw %s:\n%s\nwant\n%s", ref, cfg, want)
			}
			var info struct {
				Name   string
				Digest string
				Layers []string
			}
			out := k.mustRun(t, args([]string{"inspect"}, tls, []string{k.docker(ref)})...)
			if err := json.Unmarshal([]byte(out), &info); err != nil {
				t.Fatalf("inspect %s: %v\n%s", ref, err, out)
			}
			var layers []string
			for _, l := range must(img.Layers()).in(t) {
				layers = append(layers, must(l.Digest()).in(t).String())
			}
			want := struct {
				Name   string
				Digest string
				Layers []string
			}{k.host + "/" + repo, dig, layers}
			if diff := cmp.Diff(want, info); diff != "" {
				t.Errorf("inspect %s (-want +got):\n%s", ref, diff)
			}
		}
	})

	t.Run("list-tags", func(t *testing.T) {
		t.Parallel()
		repo := repoName(t)
		k.pushLayout(t, repo, "v2", newImage(t, types.OCIManifestSchema1, 1, 512))
		for _, tag := range []string{"v3", "v1"} {
			k.mustRun(t, args([]string{"copy"}, srcTLS, dstTLS, []string{k.docker(repo + ":v2"), k.docker(repo + ":" + tag)})...)
		}
		out := k.mustRun(t, args([]string{"list-tags"}, tls, []string{k.docker(repo)})...)
		var got struct {
			Repository string
			Tags       []string
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("list-tags: %v\n%s", err, out)
		}
		want := struct {
			Repository string
			Tags       []string
		}{k.host + "/" + repo, []string{"v1", "v2", "v3"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("list-tags (-want +got):\n%s", diff)
		}
	})

	t.Run("token-flow", func(t *testing.T) {
		t.Parallel()
		repo := repoName(t)
		k.pushLayout(t, repo, "v1", newImage(t, types.OCIManifestSchema1, 1, 256))
		_, trace, err := k.runTraced(t, args([]string{"inspect", "--raw"}, tls, []string{k.docker(repo + ":v1")})...)
		if err != nil {
			t.Fatal(err)
		}
		k.checkTokenFlow(t, trace, repo)
	})

	// `docker login` stores the credentials base64-encoded in ~/.docker/config.json under
	// "auths"; skopeo (containers/image) reads that format from --authfile.
	t.Run("docker-config-authfile", func(t *testing.T) {
		t.Parallel()
		repo := repoName(t)
		img := newImage(t, types.OCIManifestSchema1, 1, 256)
		k.pushLayout(t, repo, "v1", img)
		config := map[string]any{"auths": map[string]any{
			k.host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(k.creds))},
		}}
		authfile := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(authfile, must(json.Marshal(config)).in(t), 0o600); err != nil {
			t.Fatal(err)
		}
		raw, trace, err := k.runTraced(t, args([]string{"inspect", "--raw", "--authfile", authfile}, anonTLS, []string{k.docker(repo + ":v1")})...)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(must(img.RawManifest()).in(t)); raw != want {
			t.Errorf("inspect --raw with --authfile:\n%s\nwant\n%s", raw, want)
		}
		k.checkTokenFlow(t, trace, repo)
	})

	t.Run("anonymous-refused", func(t *testing.T) {
		t.Parallel()
		repo := repoName(t)
		k.pushLayout(t, repo, "v1", newImage(t, types.OCIManifestSchema1, 1, 256))
		_, err := k.run(t, args([]string{"inspect", "--raw", "--no-creds"}, anonTLS, []string{k.docker(repo + ":v1")})...)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authentication required") {
			t.Errorf("inspect without credentials: got %v, want authentication required", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		repo := repoName(t)
		dig := k.pushLayout(t, repo, "v1", newImage(t, types.OCIManifestSchema1, 1, 512))
		// skopeo resolves the tag and deletes the manifest by digest.
		k.mustRun(t, args([]string{"delete"}, tls, []string{k.docker(repo + ":v1")})...)
		for _, ref := range []string{repo + "@" + dig, repo + ":v1"} {
			_, err := k.run(t, args([]string{"inspect", "--raw"}, tls, []string{k.docker(ref)})...)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), "manifest unknown") {
				t.Errorf("inspect %s after delete: got %v, want manifest unknown", ref, err)
			}
		}
	})
}

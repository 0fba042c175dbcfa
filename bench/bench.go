// Package bench owns `cerulean bench`: it starts a cerulean binary as a child process and
// measures it over HTTPS with the OCI distribution API — throughput of one big blob,
// rates of many small images, manifest GETs in a small and a heavily tagged repository,
// and what signing in costs (manifest GETs with a bearer token and with Basic credentials
// on every request, token issuance) — each beside a baseline measured in the same run on
// the same machine (Go's file server for pulls, a plain write + SHA-256 + fsync for
// pushes), plus the server's peak memory.
//
// The registry requires authentication, as ACR does: the bench signs in as the bootstrap
// owner (the client id and secret in <data>/bootstrap.json) the way docker does, each
// client fetching one bearer token from the token service before it is used.
//
// The machine is shared and noisy, so every figure is taken in rounds that each measure
// the baseline and then Cerulean: a slow spell hits both sides, and the report gives the
// median of each side, the ratio of the medians and the ranges.
//
// Figures are printed, never asserted: speed is judged by reading them against their
// baselines and the reference registries, not by timed tests.
package bench

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure a run. Zero fields take the defaults given on each.
//
// The run makes a fresh scratch directory inside WorkDir (default: the system temp
// directory) for the server's data, the baseline files and the server's log, and removes
// it afterwards unless Keep. Put WorkDir on the disk to be measured: on a tmpfs the
// fsyncs of both Cerulean and the push baseline cost nothing. The server keeps every
// blob pushed and the baseline every file it writes, 4 × Rounds × BigBlob bytes of big
// blobs each (6 GiB each by default); a run starts only if WorkDir has room for them.
type Options struct {
	Binary           string        // cerulean binary to start as the server under test (required)
	WorkDir          string        // where the scratch directory is made
	BigBlob          int64         // size of the big blob, default 512 MiB
	SmallImages      int           // small images pushed and pulled, default 1000
	Concurrency      int           // clients for small images and setup, default 16
	ManifestConns    int           // connections for manifest GETs, default 32
	ManifestDuration time.Duration // length of each manifest GET measurement, default 5s
	Tags             int           // tags in the large repository, default 10000
	Rounds           int           // rounds of every measurement, default 3
	Keep             bool          // keep the scratch directory (server data, baseline files, server log)
}

// rssLimit is the most memory the server may hold at its peak (decimal megabytes, as the
// requirement states it).
const rssLimit = 50_000_000

func (o Options) withDefaults() (Options, error) {
	if o.Binary == "" {
		return o, errors.New("bench: Options.Binary must name the cerulean binary")
	}
	setDefault(&o.BigBlob, 512<<20)
	setDefault(&o.SmallImages, 1000)
	setDefault(&o.Concurrency, 16)
	setDefault(&o.ManifestConns, 32)
	setDefault(&o.ManifestDuration, 5*time.Second)
	setDefault(&o.Tags, 10000)
	setDefault(&o.Rounds, 3)
	return o, nil
}

// spaceNeeded is what a run writes to its scratch directory at most: the big blobs both
// sides keep, and 1 GiB for the rest (small images, the tagged repository, metadata).
func (o Options) spaceNeeded() int64 {
	return 2*4*int64(o.Rounds)*o.BigBlob + 1<<30
}

// checkRoom fails unless the file system of dir has need bytes free, so that a run does
// not end midway on a full disk (or, on a tmpfs, in memory pressure).
func checkRoom(dir string, need int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("bench: free space of %s: %w", dir, err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < need {
		return fmt.Errorf("bench: the run needs %.1f GiB in %s and %.1f GiB are free (the server and the baseline each keep 4 × --rounds big blobs): "+
			"give --work-dir on a larger file system, or fewer --rounds or a smaller --big-blob", gib(need), filepath.Dir(dir), gib(free))
	}
	return nil
}

func gib(n int64) float64 { return float64(n) / (1 << 30) }

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func (o Options) settings() Settings {
	return Settings{
		BigBlobBytes: o.BigBlob, SmallImages: o.SmallImages, Concurrency: o.Concurrency,
		ManifestConns: o.ManifestConns, ManifestDuration: o.ManifestDuration, Tags: o.Tags,
		Rounds: o.Rounds, Build: describeBuild(o.Binary),
	}
}

// describeBuild says how the binary was built, from the build information Go embeds.
func describeBuild(binary string) string {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return "unknown build (" + err.Error() + ")"
	}
	link := "static (CGO_ENABLED=0)"
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value == "1" {
			link = "cgo, dynamically linked"
		}
	}
	return info.GoVersion + ", " + link
}

// Run starts the server under test, runs every measurement in turn, printing each round's
// figures to out as they arrive, stops the server, prints the table of results and
// returns them. A failed run keeps its
// scratch directory, whose server.log usually tells why.
func Run(ctx context.Context, opts Options, out io.Writer) (Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Report{}, err
	}
	dir, err := os.MkdirTemp(opts.WorkDir, "cerulean-bench-")
	if err != nil {
		return Report{}, err
	}
	if err := checkRoom(dir, opts.spaceNeeded()); err != nil {
		return Report{}, errors.Join(err, os.Remove(dir))
	}
	r := &runner{opts: opts, out: out, dir: dir, report: Report{Settings: opts.settings(), RSSLimitBytes: rssLimit}}
	err = r.run(ctx)
	if err != nil || opts.Keep {
		fmt.Fprintf(out, "scratch directory kept: %s\n", dir)
	} else {
		err = os.RemoveAll(dir)
	}
	return r.report, err
}

// runner holds what the phases of one run share.
type runner struct {
	opts   Options
	out    io.Writer
	dir    string
	report Report
	target *target
	rss    *rssSampler
	files  *fileServer
	base   baselineFiles
}

func (r *runner) run(ctx context.Context) (err error) {
	start := time.Now()
	r.base = baselineFiles{dir: filepath.Join(r.dir, "baseline")}
	for _, sub := range []string{"/images", "/big"} {
		if err := os.MkdirAll(r.base.path(sub), 0o755); err != nil {
			return err
		}
	}
	if r.files, err = startFileServer(r.opts.Binary, r.base.dir); err != nil {
		return err
	}
	defer r.files.close()
	server, err := copyBinary(r.opts.Binary, filepath.Join(r.dir, "cerulean"))
	if err != nil {
		return err
	}
	r.target, err = startTarget(ctx, server, filepath.Join(r.dir, "data"), filepath.Join(r.dir, "server.log"))
	if err != nil {
		return err
	}
	r.rss = startRSSSampler(r.target.pid(), 100*time.Millisecond)
	err = r.phases(ctx)
	// The peak is read before stopping: the process's /proc entry goes with it.
	hwm, hwmErr := statusKiB(r.target.pid(), "VmHWM")
	r.report.MaxSampledRSSBytes = r.rss.finish()
	r.report.PeakRSSBytes = hwm
	err = errors.Join(err, hwmErr, r.target.stop())
	r.report.Elapsed = time.Since(start)
	printTable(r.out, r.report, hwmErr == nil)
	return err
}

// copyBinary copies the binary under test to dst, from where the server runs. Its resident
// set counts the executable's pages that it touches, and the kernel maps the page cache's
// folios whole: shared with the bench's own process (the same binary) and whatever left
// large folios in that file's cache, the figure rose by ~5 MB in some runs. A fresh copy,
// as a deployed binary is, has only the server's own pages.
func copyBinary(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err = errors.Join(err, out.Close()); err != nil {
		return "", fmt.Errorf("bench: copy the binary: %w", err)
	}
	return dst, nil
}

// backgroundLoad is how many cores other work keeps busy while the bench idles: with
// the machine shared, this says how far to trust the figures.
func backgroundLoad(ctx context.Context) (float64, error) {
	start := markCPU(0)
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(time.Second):
	}
	return markCPU(0).since(start).Other, nil
}

func (r *runner) phases(ctx context.Context) error {
	printHeader(r.out, r.report.Settings)
	bg, err := backgroundLoad(ctx)
	if err != nil {
		return err
	}
	r.report.BackgroundCPU = bg
	printBackground(r.out, bg)
	for _, phase := range []func(context.Context) error{r.bigBlob, r.smallImages, r.manifestGets, r.authRates} {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	return nil
}

// add records a result, for the table printed at the end.
func (r *runner) add(res Result) {
	r.report.Results = append(r.report.Results, res)
}

// usage is what one measurement cost: CPU time on each side and the server's memory.
type usage struct {
	cpuUse
	rss int64 // the largest VmRSS of the server sampled during the measurement
	hwm int64 // the server's VmHWM after it: where it rises tells which step set the peak
}

// measure runs fn and returns how long it took and what it cost.
func (r *runner) measure(fn func() error) (usage, error) {
	pid := r.target.pid()
	r.rss.openWindow()
	start := markCPU(pid)
	err := fn()
	u := usage{cpuUse: markCPU(pid).since(start), rss: r.rss.closeWindow()}
	u.hwm, _ = statusKiB(pid, "VmHWM") // a server gone shows as 0; the run fails anyway
	return u, err
}

// perSec turns an amount done during a measurement into a rate.
func perSec(amount float64, u usage) measured {
	return measured{value: amount / u.Elapsed.Seconds(), use: u}
}

package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the outcome of a run, with JSON tags for machine-readable output.
type Report struct {
	Settings Settings `json:"settings"`
	// Protocol is what the blob and image clients negotiated with the server; the second
	// big-blob pull, the manifest GETs and the auth rows use HTTP/1.1.
	Protocol string   `json:"protocol"`
	Results  []Result `json:"results"`
	// BackgroundCPU is the cores the rest of the machine kept busy just before the run.
	BackgroundCPU float64 `json:"background_cpu_cores"`
	// TagPutsPerSec is the rate of the untimed setup: tagging one manifest Tags times.
	TagPutsPerSec float64 `json:"tag_puts_per_sec"`
	// PeakRSSBytes is the server's VmHWM at the end of the run; MaxSampledRSSBytes the
	// largest VmRSS seen by sampling through it.
	PeakRSSBytes       int64         `json:"server_peak_rss_bytes"`
	MaxSampledRSSBytes int64         `json:"server_max_sampled_rss_bytes"`
	RSSLimitBytes      int64         `json:"server_rss_limit_bytes"`
	Elapsed            time.Duration `json:"elapsed_ns"`
	// Auth compares the ways of signing in (nil until the auth rows are measured).
	Auth *AuthFigures `json:"auth,omitempty"`
}

// WithinRSSLimit reports whether the server's peak resident set stayed under the limit.
func (r Report) WithinRSSLimit() bool { return r.PeakRSSBytes < r.RSSLimitBytes }

// Settings are the sizes a run used, for reading its figures later.
type Settings struct {
	BigBlobBytes     int64         `json:"big_blob_bytes"`
	SmallImages      int           `json:"small_images"`
	Concurrency      int           `json:"concurrency"`
	ManifestConns    int           `json:"manifest_conns"`
	ManifestDuration time.Duration `json:"manifest_duration_ns"`
	Tags             int           `json:"tags"`
	Rounds           int           `json:"rounds"`
	// Build is how the binary under test was built: its Go version and whether it links
	// the C library (cgo), which costs memory.
	Build string `json:"build"`
}

// Result is one measurement of Cerulean beside its baseline from the same run, taken in
// Rounds rounds that each measure the baseline and then Cerulean.
type Result struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Cerulean and Baseline are the medians over the rounds (with one round, its figures).
	Cerulean     float64 `json:"cerulean"`
	Baseline     float64 `json:"baseline"`
	BaselineName string  `json:"baseline_name"`
	Ratio        float64 `json:"ratio"` // Cerulean ÷ Baseline: the ratio of the medians
	Reference    string  `json:"reference"`
	// Rounds is how many times each side was measured; CeruleanRounds and BaselineRounds
	// hold the figures of each round in order, the Min and Max fields their ranges, and
	// RatioMin and RatioMax the range of the per-round ratios.
	Rounds         int       `json:"rounds"`
	CeruleanRounds []float64 `json:"cerulean_rounds"`
	BaselineRounds []float64 `json:"baseline_rounds"`
	CeruleanMin    float64   `json:"cerulean_min"`
	CeruleanMax    float64   `json:"cerulean_max"`
	BaselineMin    float64   `json:"baseline_min"`
	BaselineMax    float64   `json:"baseline_max"`
	RatioMin       float64   `json:"ratio_min"`
	RatioMax       float64   `json:"ratio_max"`
	// Latency is set for the request-rate measurements: the medians over the rounds.
	Latency *Latency `json:"latency,omitempty"`
	// CPU cores kept busy on average while Cerulean was measured (over all rounds): by the
	// server process, by the bench process (the clients) and by the rest of the machine
	// (other processes, and kernel work charged to none, like loopback networking).
	// BaselineCPU is the bench process (client and in-process baseline) during the
	// baseline, BaselineOther the rest of the machine then.
	ServerCPU     float64 `json:"server_cpu_cores"`
	ClientCPU     float64 `json:"client_cpu_cores"`
	OtherCPU      float64 `json:"other_cpu_cores"`
	BaselineCPU   float64 `json:"baseline_cpu_cores"`
	BaselineOther float64 `json:"baseline_other_cpu_cores"`
	// The server's memory: the largest VmRSS sampled during the measurements, and VmHWM
	// after the last.
	ServerRSSBytes int64 `json:"server_rss_bytes"`
	ServerHWMBytes int64 `json:"server_hwm_bytes"`
}

// Latency holds request latency percentiles, in milliseconds.
type Latency struct {
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	BaselineP50 float64 `json:"baseline_p50_ms"`
	BaselineP99 float64 `json:"baseline_p99_ms"`
}

// measured is one side of a Result: a figure and what getting it cost.
type measured struct {
	value float64
	use   usage
	load  *loadResult // for request loops
}

// result sums up the rounds of a row: the median of each side, the ratio of the medians
// and the ranges.
func result(name, unit, baselineName, reference string, s series) Result {
	cv, bv := values(s.cerulean), values(s.baseline)
	c, b, ratio := summarize(cv), summarize(bv), summarize(s.ratios())
	cu, bu := totalUse(s.cerulean), totalUse(s.baseline)
	r := Result{
		Name: name, Unit: unit, BaselineName: baselineName, Reference: reference,
		Cerulean: c.median, Baseline: b.median,
		Rounds: len(cv), CeruleanRounds: cv, BaselineRounds: bv,
		CeruleanMin: c.min, CeruleanMax: c.max, BaselineMin: b.min, BaselineMax: b.max,
		RatioMin: ratio.min, RatioMax: ratio.max,
		ServerCPU: cu.Server, ClientCPU: cu.Client, OtherCPU: cu.Other,
		BaselineCPU: bu.Client, BaselineOther: bu.Other,
		ServerRSSBytes: cu.rss, ServerHWMBytes: cu.hwm,
	}
	if b.median > 0 {
		r.Ratio = c.median / b.median
	}
	cp50, cp99, cok := medianLatency(s.cerulean)
	bp50, bp99, bok := medianLatency(s.baseline)
	if cok && bok {
		r.Latency = &Latency{P50: millis(cp50), P99: millis(cp99), BaselineP50: millis(bp50), BaselineP99: millis(bp99)}
	}
	return r
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The table printed as the run goes: one row per Result, then the memory verdict.
const (
	rowFormat    = "%-35s %-5s %20s %20s %17s  %15s %9s  %s\n"
	headerLegend = `rounds: each round measures the baseline, then Cerulean, so a slow spell of the machine
        hits both; figures are the median of the rounds (min–max), the ratio is that of the
        medians (range of the per-round ratios).
baselines: pushes = write + SHA-256 + fsync of the same bytes to a file;
           pulls  = Go http.FileServer over the same TLS serving the same bytes from disk.
auth: every registry request carries a bearer token (one per client, from GET /oauth2/token
      with the owner's Basic credentials), except in the rows that measure the alternatives:
      "Basic" sends the client secret with every request, "token GET" is token issuance.
cpu: cores busy on average while Cerulean was measured, by the server / the bench's clients /
     the rest of the machine (other processes: a busy machine disturbs the figures; loopback
     networking). rss: the server's largest sampled VmRSS then / its VmHWM after, in MB.
`
)

// backgroundLimit is the background load, in cores, above which the figures of a run on
// this two-core machine are not to be trusted.
const backgroundLimit = 0.5

func printHeader(w io.Writer, s Settings) {
	fmt.Fprintf(w, "cerulean bench: %s blob, %d × 4 KiB images by %d clients, manifest GETs at %d connections for %s (%d tags), %d round%s\n",
		mib(s.BigBlobBytes), s.SmallImages, s.Concurrency, s.ManifestConns, s.ManifestDuration, s.Tags, s.Rounds, plural(s.Rounds))
	fmt.Fprint(w, headerLegend)
	fmt.Fprintf(w, "binary: %s\n", s.Build)
	if strings.Contains(s.Build, "cgo") {
		fmt.Fprintln(w, "NOTE: the binary was built with cgo, which Cerulean does not need; it links the C library and")
		fmt.Fprintln(w, "      starts its threads through it, ~3 MB more RSS. Build it with CGO_ENABLED=0 to measure what ships.")
	}
}

// printBackground reports the load other work put on the machine before the run, with a
// warning when it was high enough to make the figures unreliable.
func printBackground(w io.Writer, cores float64) {
	fmt.Fprintf(w, "(before the run, the rest of the machine kept %.2f cores busy)\n", cores)
	if cores > backgroundLimit {
		printBackgroundWarning(w, cores)
	}
}

func printBackgroundWarning(w io.Writer, cores float64) {
	fmt.Fprintf(w, "WARNING: other work kept %.2f cores busy before the run (over %.1f): the figures are unreliable; rerun on a quiet machine\n",
		cores, backgroundLimit)
}

func printColumns(w io.Writer) {
	fmt.Fprintf(w, rowFormat, "measurement", "unit", "cerulean", "baseline", "ratio", "cpu srv/cli/oth", "rss", "reference (other registries, this kind of machine)")
}

func printResult(w io.Writer, r Result) {
	c := spread{median: r.Cerulean, min: r.CeruleanMin, max: r.CeruleanMax}
	b := spread{median: r.Baseline, min: r.BaselineMin, max: r.BaselineMax}
	ratio := spread{median: r.Ratio, min: r.RatioMin, max: r.RatioMax}
	if r.Rounds <= 1 { // one round has no range: keep the ratio from showing the median twice
		ratio.min, ratio.max = r.Ratio, r.Ratio
	}
	fmt.Fprintf(w, rowFormat, r.Name, r.Unit, c.format(0), b.format(0), ratio.format(2),
		fmt.Sprintf("%.2f/%.2f/%.2f", r.ServerCPU, r.ClientCPU, r.OtherCPU),
		fmt.Sprintf("%.0f/%.0f", mb(r.ServerRSSBytes), mb(r.ServerHWMBytes)), r.Reference)
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "  latency p50 %.2f ms, p99 %.2f ms (baseline p50 %.2f ms, p99 %.2f ms)\n", l.P50, l.P99, l.BaselineP50, l.BaselineP99)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// printTable prints the results gathered, the server's memory when it was read, and
// again the warning about a busy machine, which the table would otherwise scroll away.
func printTable(w io.Writer, r Report, memory bool) {
	if len(r.Results) > 0 {
		fmt.Fprintln(w)
		printColumns(w)
		for _, res := range r.Results {
			printResult(w, res)
		}
	}
	if r.Auth != nil {
		printAuth(w, *r.Auth)
	}
	if memory {
		printMemory(w, r)
	}
	if r.BackgroundCPU > backgroundLimit {
		printBackgroundWarning(w, r.BackgroundCPU)
	}
}

func printMemory(w io.Writer, r Report) {
	verdict := "under"
	if !r.WithinRSSLimit() {
		verdict = "OVER"
	}
	fmt.Fprintf(w, "server peak RSS (VmHWM) %.1f MB, largest sampled VmRSS %.1f MB: %s the %.0f MB limit\n",
		mb(r.PeakRSSBytes), mb(r.MaxSampledRSSBytes), verdict, mb(r.RSSLimitBytes))
}

// mib formats a size in MiB, the unit of the throughput figures.
func mib(n int64) string { return fmt.Sprintf("%g MiB", float64(n)/(1<<20)) }

// mb is in decimal megabytes, the unit of the memory limit.
func mb(n int64) float64 { return float64(n) / 1e6 }

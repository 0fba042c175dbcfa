package bench

import (
	"fmt"
	"io"
	"time"
)

// Report is the outcome of a run, with JSON tags for machine-readable output.
type Report struct {
	Settings Settings `json:"settings"`
	// Protocol is what the blob and image clients negotiated with the server; the second
	// big-blob pull and the manifest GETs use HTTP/1.1.
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
}

// Result is one measurement of Cerulean beside its baseline from the same run.
type Result struct {
	Name         string  `json:"name"`
	Unit         string  `json:"unit"`
	Cerulean     float64 `json:"cerulean"`
	Baseline     float64 `json:"baseline"`
	BaselineName string  `json:"baseline_name"`
	Ratio        float64 `json:"ratio"` // Cerulean ÷ baseline
	Reference    string  `json:"reference"`
	// Latency is set for the request-rate measurements.
	Latency *Latency `json:"latency,omitempty"`
	// CPU cores kept busy on average while Cerulean was measured: by the server process,
	// by the bench process (the clients) and by the rest of the machine (other processes,
	// and kernel work charged to none, like loopback networking). BaselineCPU is the
	// bench process (client and in-process baseline) during the baseline, BaselineOther
	// the rest of the machine then.
	ServerCPU     float64 `json:"server_cpu_cores"`
	ClientCPU     float64 `json:"client_cpu_cores"`
	OtherCPU      float64 `json:"other_cpu_cores"`
	BaselineCPU   float64 `json:"baseline_cpu_cores"`
	BaselineOther float64 `json:"baseline_other_cpu_cores"`
	// The server's memory: the largest VmRSS sampled during the measurement, and VmHWM
	// after it.
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

// result pairs a Cerulean measurement with its baseline.
func result(name, unit, baselineName, reference string, cerulean, baseline measured) Result {
	r := Result{
		Name: name, Unit: unit, BaselineName: baselineName, Reference: reference,
		Cerulean: cerulean.value, Baseline: baseline.value,
		ServerCPU: cerulean.use.Server, ClientCPU: cerulean.use.Client, OtherCPU: cerulean.use.Other,
		BaselineCPU: baseline.use.Client, BaselineOther: baseline.use.Other,
		ServerRSSBytes: cerulean.use.rss, ServerHWMBytes: cerulean.use.hwm,
	}
	if baseline.value > 0 {
		r.Ratio = cerulean.value / baseline.value
	}
	if cerulean.load != nil && baseline.load != nil {
		r.Latency = &Latency{
			P50: millis(cerulean.load.p50), P99: millis(cerulean.load.p99),
			BaselineP50: millis(baseline.load.p50), BaselineP99: millis(baseline.load.p99),
		}
	}
	return r
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The table printed as the run goes: one row per Result, then the memory verdict.
const (
	rowFormat    = "%-26s %12s %12s %6s %14s %9s  %s\n"
	headerLegend = `baselines: pushes = write + SHA-256 + fsync of the same bytes to a file;
           pulls  = Go http.FileServer over the same TLS serving the same bytes from disk.
cpu: cores busy on average while Cerulean was measured, by the server / the bench's clients /
     the rest of the machine (other processes: a busy machine disturbs the figures; loopback
     networking). rss: the server's largest sampled VmRSS then / its VmHWM after, in MB.
`
)

func printHeader(w io.Writer, s Settings) {
	fmt.Fprintf(w, "cerulean bench: %s blob, %d × 4 KiB images by %d clients, manifest GETs at %d connections for %s (%d tags)\n",
		mib(s.BigBlobBytes), s.SmallImages, s.Concurrency, s.ManifestConns, s.ManifestDuration, s.Tags)
	fmt.Fprint(w, headerLegend)
	fmt.Fprintf(w, rowFormat, "measurement", "cerulean", "baseline", "ratio", "cpu srv/cli/oth", "rss", "reference (other registries, this kind of machine)")
}

func printResult(w io.Writer, r Result) {
	fmt.Fprintf(w, rowFormat, r.Name,
		fmt.Sprintf("%.0f %s", r.Cerulean, r.Unit), fmt.Sprintf("%.0f %s", r.Baseline, r.Unit),
		fmt.Sprintf("%.2f", r.Ratio), fmt.Sprintf("%.2f/%.2f/%.2f", r.ServerCPU, r.ClientCPU, r.OtherCPU),
		fmt.Sprintf("%.0f/%.0f", mb(r.ServerRSSBytes), mb(r.ServerHWMBytes)), r.Reference)
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "  latency p50 %.2f ms, p99 %.2f ms (baseline p50 %.2f ms, p99 %.2f ms)\n", l.P50, l.P99, l.BaselineP50, l.BaselineP99)
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

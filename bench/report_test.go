package bench

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tc := range []struct {
		p    int
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%d = %d, want %d", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 || percentile(d[:1], 99) != 1 {
		t.Error("edge cases")
	}
}

func TestResultAndPrinting(t *testing.T) {
	c := measured{value: 300, use: usage{cpuUse: cpuUse{Elapsed: time.Second, Server: 0.9, Client: 0.4, Other: 0.1}, rss: 30e6, hwm: 41e6},
		load: &loadResult{p50: time.Millisecond, p99: 3 * time.Millisecond}}
	b := measured{value: 600, use: usage{cpuUse: cpuUse{Elapsed: time.Second, Client: 1.2}}, load: &loadResult{p50: time.Millisecond / 2, p99: time.Millisecond}}
	var s series
	s.add(c, b)
	r := result("manifest GET, 1 tag", "req/s", baselineFileServer, "zot 12,400/s", s)
	if r.Ratio != 0.5 || r.ServerCPU != 0.9 || r.ClientCPU != 0.4 || r.BaselineCPU != 1.2 {
		t.Errorf("result %+v", r)
	}
	if r.Rounds != 1 || r.CeruleanMin != 300 || r.CeruleanMax != 300 || r.RatioMin != 0.5 || r.RatioMax != 0.5 {
		t.Errorf("one round's range %+v", r)
	}
	if r.Latency == nil || r.Latency.P99 != 3 || r.Latency.BaselineP50 != 0.5 {
		t.Errorf("latency %+v", r.Latency)
	}
	var out bytes.Buffer
	printHeader(&out, Settings{BigBlobBytes: 512 << 20, SmallImages: 1000, Concurrency: 16, ManifestConns: 32, ManifestDuration: 5 * time.Second, Tags: 10000, Rounds: 1})
	printTable(&out, Report{Results: []Result{r}, PeakRSSBytes: 60e6, MaxSampledRSSBytes: 59e6, RSSLimitBytes: rssLimit}, true)
	for _, want := range []string{"512 MiB blob", "1 round\n", " 300 ", " 600 ", "req/s", " 0.50 ", "0.90/0.40/0.10", "30/41", "zot 12,400/s", "p99 3.00 ms", "60.0 MB", "OVER the 50 MB limit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, unwanted := range []string{"(300", "(0.50", "WARNING"} {
		if strings.Contains(out.String(), unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, out.String())
		}
	}
}

// TestResultRounds checks how rounds add up: medians, the ratio of the medians, ranges,
// CPU averaged over the total time, the largest RSS and the median latencies.
func TestResultRounds(t *testing.T) {
	var s series
	for _, f := range []struct {
		c, b     float64
		sec      time.Duration
		srv      float64
		rss      int64
		p50, p99 time.Duration
	}{
		{435, 560, 1, 1.0, 30e6, 1, 4},
		{402, 684, 3, 0.6, 35e6, 3, 8},
		{470, 427, 1, 1.0, 32e6, 2, 5},
	} {
		s.add(measured{value: f.c, use: usage{cpuUse: cpuUse{Elapsed: f.sec * time.Second, Server: f.srv}, rss: f.rss, hwm: f.rss + 1},
			load: &loadResult{p50: f.p50 * time.Millisecond, p99: f.p99 * time.Millisecond}},
			measured{value: f.b, use: usage{cpuUse: cpuUse{Elapsed: time.Second}}, load: &loadResult{p50: time.Millisecond, p99: time.Millisecond}})
	}
	r := result("blob push, one POST", "MiB/s", baselineWrite, "", s)
	if r.Rounds != 3 || r.Cerulean != 435 || r.Baseline != 560 || r.Ratio != 435.0/560 {
		t.Errorf("medians: %+v", r)
	}
	if r.CeruleanMin != 402 || r.CeruleanMax != 470 || r.BaselineMin != 427 || r.BaselineMax != 684 {
		t.Errorf("ranges: %+v", r)
	}
	if r.RatioMin != 402.0/684 || r.RatioMax != 470.0/427 {
		t.Errorf("ratio range %v–%v", r.RatioMin, r.RatioMax)
	}
	if !slices.Equal(r.CeruleanRounds, []float64{435, 402, 470}) || !slices.Equal(r.BaselineRounds, []float64{560, 684, 427}) {
		t.Errorf("rounds %v %v", r.CeruleanRounds, r.BaselineRounds)
	}
	if math.Abs(r.ServerCPU-0.76) > 1e-9 { // (1 + 1.8 + 1) core-seconds in 5 s
		t.Errorf("server cpu %v, want 0.76", r.ServerCPU)
	}
	if r.ServerRSSBytes != 35e6 || r.ServerHWMBytes != 35e6+1 {
		t.Errorf("rss %d/%d", r.ServerRSSBytes, r.ServerHWMBytes)
	}
	if r.Latency == nil || r.Latency.P50 != 2 || r.Latency.P99 != 5 || r.Latency.BaselineP99 != 1 {
		t.Errorf("latency %+v", r.Latency)
	}
	var out bytes.Buffer
	printResult(&out, r)
	for _, want := range []string{"435 (402–470)", "560 (427–684)", "0.78 (0.59–1.10)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want spread
	}{
		{nil, spread{}},
		{[]float64{5}, spread{5, 5, 5}},
		{[]float64{7, 3}, spread{5, 3, 7}},
		{[]float64{9, 1, 4}, spread{4, 1, 9}},
		{[]float64{4, 1, 10, 2}, spread{3, 1, 10}},
		{[]float64{2, 2, 2, 8, 1}, spread{2, 1, 8}},
	} {
		in := slices.Clone(tc.in)
		if got := summarize(tc.in); got != tc.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("summarize reordered its input: %v", tc.in)
		}
	}
	for _, tc := range []struct {
		s    spread
		prec int
		want string
	}{
		{spread{435, 402, 470}, 0, "435 (402–470)"},
		{spread{435.2, 435.4, 435.1}, 0, "435"}, // a range too narrow to print is left out
		{spread{0.78, 0.7, 0.85}, 2, "0.78 (0.70–0.85)"},
	} {
		if got := tc.s.format(tc.prec); got != tc.want {
			t.Errorf("%+v.format(%d) = %q, want %q", tc.s, tc.prec, got, tc.want)
		}
	}
}

func TestBackgroundWarning(t *testing.T) {
	var quiet, busy bytes.Buffer
	printBackground(&quiet, 0.2)
	printBackground(&busy, 0.8)
	if strings.Contains(quiet.String(), "WARNING") {
		t.Errorf("warned at 0.2 cores: %s", quiet.String())
	}
	if !strings.Contains(busy.String(), "WARNING") || !strings.Contains(busy.String(), "0.80 cores") {
		t.Errorf("no warning at 0.8 cores: %s", busy.String())
	}
	var table bytes.Buffer
	printTable(&table, Report{BackgroundCPU: 0.8}, false)
	if !strings.Contains(table.String(), "WARNING") {
		t.Errorf("table of a busy run has no warning: %s", table.String())
	}
}

func TestProcReaders(t *testing.T) {
	// The test process itself stands in for the server.
	pid := os.Getpid()
	hwm, err := statusKiB(pid, "VmHWM")
	if err != nil || hwm <= 0 {
		t.Errorf("VmHWM = %d, %v", hwm, err)
	}
	if _, err := statusKiB(pid, "NoSuchKey"); err == nil {
		t.Error("missing key not reported")
	}
	if _, err := processCPU(pid); err != nil {
		t.Error(err)
	}
	if busy, err := machineBusy(); err != nil || busy <= 0 {
		t.Errorf("machine busy = %s, %v", busy, err)
	}
	s := startRSSSampler(pid, time.Hour) // samples only when asked, after the first
	s.openWindow()
	if s.closeWindow() <= 0 {
		t.Error("window saw no RSS")
	}
	if s.finish() <= 0 {
		t.Error("sampler saw no RSS")
	}
}

func TestCPUUse(t *testing.T) {
	t0 := time.Now()
	start := cpuMark{wall: t0, server: time.Second, client: time.Second, machine: 10 * time.Second}
	end := cpuMark{wall: t0.Add(2 * time.Second), server: 2 * time.Second, client: 3 * time.Second, machine: 14 * time.Second}
	want := cpuUse{Elapsed: 2 * time.Second, Server: 0.5, Client: 1, Other: 0.5}
	if got := end.since(start); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

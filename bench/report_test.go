package bench

import (
	"bytes"
	"os"
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
	c := measured{value: 300, use: usage{cpuUse: cpuUse{Server: 0.9, Client: 0.4, Other: 0.1}, rss: 30e6, hwm: 41e6},
		load: &loadResult{p50: time.Millisecond, p99: 3 * time.Millisecond}}
	b := measured{value: 600, use: usage{cpuUse: cpuUse{Client: 1.2}}, load: &loadResult{p50: time.Millisecond / 2, p99: time.Millisecond}}
	r := result("manifest GET, 1 tag", "req/s", baselineFileServer, "zot 12,400/s", c, b)
	if r.Ratio != 0.5 || r.ServerCPU != 0.9 || r.ClientCPU != 0.4 || r.BaselineCPU != 1.2 {
		t.Errorf("result %+v", r)
	}
	if r.Latency == nil || r.Latency.P99 != 3 || r.Latency.BaselineP50 != 0.5 {
		t.Errorf("latency %+v", r.Latency)
	}
	var out bytes.Buffer
	printHeader(&out, Settings{BigBlobBytes: 512 << 20, SmallImages: 1000, Concurrency: 16, ManifestConns: 32, ManifestDuration: 5 * time.Second, Tags: 10000})
	printResult(&out, r)
	printMemory(&out, Report{PeakRSSBytes: 60e6, MaxSampledRSSBytes: 59e6, RSSLimitBytes: rssLimit})
	for _, want := range []string{"512 MiB blob", "300 req/s", "600 req/s", "0.50", "0.90/0.40/0.10", "30/41", "zot 12,400/s", "p99 3.00 ms", "60.0 MB", "OVER the 50 MB limit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
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

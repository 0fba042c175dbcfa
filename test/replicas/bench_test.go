package replicas

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"
)

func numCPU() int { return runtime.NumCPU() }

// Load of the manifest GET benchmark: the same clients, spread evenly over the replicas
// measured, so that the figures compare the servers under one offered load.
const (
	manifestClients  = 24
	manifestWarmup   = 500 * time.Millisecond
	manifestDuration = 4 * time.Second
)

// BenchmarkManifestGET measures manifest GETs per second (by tag, with a bearer token, as
// docker pulls) through one, two and three replicas sharing PostgreSQL, the load spread
// evenly over them, and reports the CPU each process used (replicas, PostgreSQL, the load
// generator) as a share of one core. Run it alone:
//
//	go test -run '^$' -bench ManifestGET -benchtime 1x ./test/replicas/
func BenchmarkManifestGET(b *testing.B) {
	c := startCluster(b, 3, onAzurite)
	im := newImage("bench/app", "v1", 1000)
	if err := c.owner(0).push(im); err != nil {
		b.Fatal(err)
	}
	access, _, err := c.owner(0).token("repository:bench/app:pull")
	if err != nil {
		b.Fatal(err)
	}
	for n := 1; n <= len(c.replicas); n++ {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			for b.Loop() {
				xacts, audits := c.dbCounters(b)
				rate, share := c.manifestLoad(b, n, "Bearer "+access)
				xacts2, audits2 := c.dbCounters(b)
				requests := rate * manifestDuration.Seconds()
				b.ReportMetric(rate, "req/s")
				for k, v := range share {
					b.ReportMetric(v, "cpu%-"+k)
				}
				b.Logf("%d replicas: %.0f req/s; CPU: %s; PostgreSQL per request (warm-up included): %.2f transactions, %.2f audit rows",
					n, rate, formatShare(share), float64(xacts2-xacts)/requests, float64(audits2-audits)/requests)
			}
		})
	}
}

// dbCounters returns PostgreSQL's count of committed transactions in the cluster's
// database (each statement outside a transaction is one) and the audit log's row count.
// The statistics are flushed within a second of a backend going idle: wait for them.
func (c *cluster) dbCounters(b *testing.B) (xacts, audits int64) {
	time.Sleep(1500 * time.Millisecond)
	conn, err := pgx.Connect(b.Context(), c.dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(b.Context())
	if err := conn.QueryRow(b.Context(), `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&xacts); err != nil {
		b.Fatal(err)
	}
	if err := conn.QueryRow(b.Context(), `SELECT count(*) FROM audit_events`).Scan(&audits); err != nil {
		b.Fatal(err)
	}
	return xacts, audits
}

// manifestLoad runs manifestClients clients over the first n replicas for
// manifestDuration (after a warm-up) and returns the rate and each process's CPU share.
func (c *cluster) manifestLoad(b *testing.B, n int, authorization string) (float64, map[string]float64) {
	groups := c.cpuGroups()
	var count, errs atomic.Int64
	var measuring atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range manifestClients {
		wg.Go(func() {
			cl := c.client(w%n, authorization)
			hdr := http.Header{"Accept": {manifestType}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, _, err := cl.do(http.MethodGet, "/v2/bench/app/manifests/v1", hdr, nil, 0)
				if err != nil || resp.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				if measuring.Load() {
					count.Add(1)
				}
			}
		})
	}
	time.Sleep(manifestWarmup)
	before, start := groups.sample(), time.Now()
	measuring.Store(true)
	time.Sleep(manifestDuration)
	measuring.Store(false)
	elapsed, after := time.Since(start), groups.sample()
	close(stop)
	wg.Wait()
	if errs.Load() > 0 {
		b.Errorf("%d failed requests", errs.Load())
	}
	return float64(count.Load()) / elapsed.Seconds(), cpuShare(before, after, elapsed)
}

// Sizes of the blob throughput benchmark.
const (
	bigBlob    = 128 << 20
	blobRounds = 3
)

// BenchmarkBlobThroughput measures pushing (one monolithic POST) and pulling one
// 128 MiB blob through one replica, its blobs on Azurite or on the filesystem driver
// (metadata on PostgreSQL either way), and reports MB/s (medians of three rounds) with the
// CPU each process used while pushing and while pulling. Run it alone:
//
//	go test -run '^$' -bench BlobThroughput -benchtime 1x ./test/replicas/
func BenchmarkBlobThroughput(b *testing.B) {
	data := make([]byte, bigBlob)
	rand.Read(data)
	for _, backend := range []struct {
		name string
		b    blobBackend
	}{{"azurite", onAzurite}, {"fs", onSharedDir}} {
		b.Run(backend.name, func(b *testing.B) {
			c := startCluster(b, 1, backend.b)
			for b.Loop() {
				push, pull, pushCPU, pullCPU := c.blobRounds(b, data)
				b.ReportMetric(push, "push-MB/s")
				b.ReportMetric(pull, "pull-MB/s")
				b.Logf("%s: push %.0f MB/s (CPU: %s); pull %.0f MB/s (CPU: %s)", backend.name,
					push, formatShare(pushCPU), pull, formatShare(pullCPU))
			}
		})
	}
}

// blobRounds pushes and pulls a fresh copy of data (its first bytes changed, so every
// round stores a new blob) blobRounds times and returns the median rates and the CPU
// shares of the median rounds.
func (c *cluster) blobRounds(b *testing.B, data []byte) (push, pull float64, pushCPU, pullCPU map[string]float64) {
	groups := c.cpuGroups()
	cl := c.owner(0)
	type result struct {
		rate  float64
		share map[string]float64
	}
	var pushes, pulls []result
	for range blobRounds {
		rand.Read(data[:64])
		d := digest.FromBytes(data)
		before, start := groups.sample(), time.Now()
		_, _, err := cl.expect(http.StatusCreated, http.MethodPost, "/v2/bench/big/blobs/uploads/?digest="+d.String(), octets, data)
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		pushes = append(pushes, result{float64(len(data)) / 1e6 / elapsed.Seconds(), cpuShare(before, groups.sample(), elapsed)})

		before, start = groups.sample(), time.Now()
		if n, err := cl.pull("/v2/bench/big/blobs/" + d.String()); err != nil || n != int64(len(data)) {
			b.Fatalf("pull: %d bytes, %v", n, err)
		}
		elapsed = time.Since(start)
		pulls = append(pulls, result{float64(len(data)) / 1e6 / elapsed.Seconds(), cpuShare(before, groups.sample(), elapsed)})
	}
	median := func(rs []result) result {
		slices.SortFunc(rs, func(a, b result) int {
			switch {
			case a.rate < b.rate:
				return -1
			case a.rate > b.rate:
				return 1
			}
			return 0
		})
		return rs[len(rs)/2]
	}
	mp, ml := median(pushes), median(pulls)
	return mp.rate, ml.rate, mp.share, ml.share
}

// pull streams a GET's body to nowhere and returns its length.
func (c *client) pull(path string) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+loginServer+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", c.authorization)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}

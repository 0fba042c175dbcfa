package durability

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/internal/testserver"
)

// The crash workload: workers push images concurrently into a few shared repositories.
// Each image is a config (monolithic), a layer pushed in chunkedParts PATCHes, a layer
// pushed monolithic, then its manifest under its own tag, then the same manifest under the
// worker's moving tag.
const (
	crashWorkers = 16
	crashRepos   = 4
	chunkedParts = 4
	chunkedLayer = 96 << 10
	plainLayer   = 32 << 10
)

// TestCrashLosesNothingAcknowledged SIGKILLs the server while pushes are in flight, just
// after a given acknowledgement (the moment an ack sent before its data is durable would
// be lost), and checks after a restart that everything acknowledged is there and whole and
// that nothing partial is visible; then that gc and upload expiry reclaim what the crash
// left, and only that.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	for i, tt := range []struct {
		name      string
		trigger   ack
		killAfter int64
	}{
		{"just after the 1st manifest", ackManifest, 1},
		{"just after the 24th blob", ackBlob, 24},
		{"just after the 40th chunk", ackChunk, 40},
		{"just after the 40th manifest", ackManifest, 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testCrash(t, uint64(i), &killSwitch{trigger: tt.trigger, after: tt.killAfter, fire: make(chan struct{})})
		})
	}
}

// ack is a kind of acknowledgement the workload counts.
type ack int

const (
	ackChunk    ack = iota // a PATCH answered 202
	ackBlob                // a blob upload answered 201
	ackManifest            // a manifest PUT under its own tag answered 201
	numAcks
)

// killSwitch counts acknowledgements and fires once those of the trigger kind reach after.
type killSwitch struct {
	counts  [numAcks]atomic.Int64
	trigger ack
	after   int64
	fire    chan struct{}
}

func (k *killSwitch) ack(kind ack) {
	if k.counts[kind].Add(1) == k.after && kind == k.trigger {
		close(k.fire)
	}
}

func testCrash(t *testing.T, seed uint64, kill *killSwitch) {
	s := testserver.Start(t)
	c := &client{srv: s}
	left := pushLeftovers(t, c, newRand(seed))

	workers := runUntilKilled(t, s, seed, kill)

	// Everything acknowledged survived the crash; nothing half-done is visible.
	s.Restart(t)
	stored := checkManifests(t, c, workers)
	checkBlobs(t, c, workers)
	checkSessions(t, c, workers)
	left.checkKept(t, c)
	blobFiles(t, s.DataDir)
	if n := len(uploadSessions(t, s.DataDir)); n < len(left.sessions) {
		t.Errorf("%d upload sessions on disk, want at least the %d left open", n, len(left.sessions))
	}

	// gc is documented safe next to a running server: run it so. Afterwards exactly the
	// blobs of stored manifests remain, every acknowledged manifest is still whole, and the
	// sessions left open are gone.
	out, err := s.Run(t, "gc", "--data", s.DataDir, "--grace", "0s", "--upload-ttl", "1ns")
	if err != nil {
		t.Fatalf("gc: %v\n%s", err, out)
	}
	t.Logf("gc: %s", lastLine(out))
	onlyDisk, onlyStored := diffSets(blobFiles(t, s.DataDir), stored)
	if len(onlyDisk) > 0 || len(onlyStored) > 0 {
		t.Errorf("after gc --grace 0s: blobs no stored manifest references %v; blobs of stored manifests missing %v", onlyDisk, onlyStored)
	}
	if n := len(uploadSessions(t, s.DataDir)); n != 0 {
		t.Errorf("after gc --upload-ttl 1ns: %d upload sessions remain", n)
	}
	checkManifests(t, c, workers)
	left.checkBlobsGone(t, c)
	left.checkSessionsGone(t, c)
	checkManifests(t, c, workers)
}

// worker is one pushing goroutine and the record of what it sent and what was
// acknowledged, in order.
type worker struct {
	id      int
	repo    string
	moving  string // the tag every image of this worker is moved onto
	images  []*imagePush
	session *session // the chunked upload it was in when it stopped, if any
	failure error    // an error that a kill cannot explain
	kill    *killSwitch
}

// imagePush is one image of a worker and which of its requests were acknowledged.
type imagePush struct {
	m         manifest
	tag       string
	blobAcked []bool
	putAcked  bool // the manifest under its own tag
	moveSent  bool // the manifest under the worker's moving tag
	moveAcked bool
}

// runUntilKilled runs the workers and SIGKILLs the server as soon as kill fires, while
// the other workers are in the middle of their requests.
func runUntilKilled(t *testing.T, s *testserver.Server, seed uint64, kill *killSwitch) []*worker {
	t.Helper()
	c := &client{srv: s}
	var (
		killed atomic.Bool
		wg     sync.WaitGroup
	)
	workers := make([]*worker, crashWorkers)
	for i := range workers {
		w := &worker{id: i, repo: fmt.Sprintf("crash/r%d", i%crashRepos), moving: fmt.Sprintf("w%02d", i), kill: kill}
		workers[i] = w
		wg.Go(func() {
			rng := newRand(seed, uint64(i))
			// Bounded so that the workers end even if the kill never comes.
			for n := int64(0); n <= kill.after && !killed.Load(); n++ {
				err := w.pushImage(c, rng, fmt.Sprintf("%s-%03d", w.moving, n))
				if err != nil {
					// After the kill only an answer the server did send is a failure.
					var answered *statusError
					if !killed.Load() || errors.As(err, &answered) {
						w.failure = err
					}
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-kill.fire:
	case <-done:
	}
	killed.Store(true) // before the kill: every error a worker sees after it is expected
	s.Kill(t)
	<-done
	for _, w := range workers {
		if w.failure != nil {
			t.Errorf("worker %d failed before or regardless of the kill: %v", w.id, w.failure)
		}
	}
	open := 0
	for _, w := range workers {
		if w.session != nil {
			open++
		}
	}
	k := &kill.counts
	t.Logf("killed after %d chunks, %d blobs and %d manifests were acknowledged, with %d chunked uploads open",
		k[ackChunk].Load(), k[ackBlob].Load(), k[ackManifest].Load(), open)
	if n := k[kill.trigger].Load(); n < kill.after {
		t.Fatalf("the workers stopped before the kill")
	}
	return workers
}

// pushImage pushes one new image, recording each acknowledgement as it arrives.
func (w *worker) pushImage(c *client, rng *rand.ChaCha8, tag string) error {
	p := &imagePush{m: newImage(rng, chunkedLayer, plainLayer), tag: tag}
	p.blobAcked = make([]bool, len(p.m.blobs))
	w.images = append(w.images, p)
	for i, b := range p.m.blobs {
		var err error
		if i == 1 { // the first layer
			w.session = &session{onAck: func() { w.kill.ack(ackChunk) }}
			err = c.pushChunked(w.repo, b, chunkedParts, w.session)
		} else {
			err = c.pushBlob(w.repo, b)
		}
		if err != nil {
			return err
		}
		w.session, p.blobAcked[i] = nil, true
		w.kill.ack(ackBlob)
	}
	if err := c.putManifest(w.repo, tag, p.m.mediaType, p.m.content); err != nil {
		return err
	}
	p.putAcked = true
	w.kill.ack(ackManifest)
	p.moveSent = true
	if err := c.putManifest(w.repo, w.moving, p.m.mediaType, p.m.content); err != nil {
		return err
	}
	p.moveAcked = true
	return nil
}

// checkManifests checks every manifest the workers sent: an acknowledged one is readable
// by digest and tag, byte for byte, with all its blobs; an unacknowledged one is either
// absent or just as whole. Each moving tag names the last image acknowledged under it or
// the one in flight. It returns the blobs of the manifests the server holds.
func checkManifests(t *testing.T, c *client, workers []*worker) map[digest.Digest]bool {
	t.Helper()
	stored := map[digest.Digest]bool{}
	for _, w := range workers {
		for _, p := range w.images {
			if !p.putAcked && absent(c, w.repo, p.m.digest().String()) && absent(c, w.repo, p.tag) {
				continue
			}
			if err := c.checkManifest(w.repo, p.m, p.tag); err != nil {
				t.Errorf("worker %d, %s (acknowledged: %t): %v", w.id, p.tag, p.putAcked, err)
			}
			for _, b := range p.m.blobs {
				stored[digest.FromBytes(b)] = true
			}
		}
		checkMovingTag(t, c, w)
	}
	return stored
}

// absent reports whether the manifest repo:ref answers 404.
func absent(c *client, repo, ref string) bool {
	_, err := c.getManifest(repo, ref)
	return isNotFound(err)
}

// checkMovingTag checks that w's moving tag was moved atomically and durably: it names
// the last image acknowledged under it, or a later one that was in flight.
func checkMovingTag(t *testing.T, c *client, w *worker) {
	t.Helper()
	lastAcked, lastSent := -1, -1
	for i, p := range w.images {
		if p.moveAcked {
			lastAcked = i
		}
		if p.moveSent {
			lastSent = i
		}
	}
	got, err := c.getManifest(w.repo, w.moving)
	if isNotFound(err) && lastAcked < 0 {
		return
	}
	if err != nil {
		t.Errorf("tag %s:%s (last acknowledged move: image %d): %v", w.repo, w.moving, lastAcked, err)
		return
	}
	i := slices.IndexFunc(w.images, func(p *imagePush) bool { return string(p.m.content) == string(got) })
	if i < lastAcked || i > lastSent {
		t.Errorf("tag %s:%s names image %d, want one of %d..%d (-1: other bytes)", w.repo, w.moving, i, lastAcked, lastSent)
	}
}

// checkBlobs checks every blob the workers sent: an acknowledged one is readable and
// whole; an unacknowledged one is absent or whole.
func checkBlobs(t *testing.T, c *client, workers []*worker) {
	t.Helper()
	for _, w := range workers {
		for _, p := range w.images {
			for i, b := range p.m.blobs {
				_, err := c.getBlob(w.repo, digest.FromBytes(b))
				if err != nil && (p.blobAcked[i] || !isNotFound(err)) {
					t.Errorf("worker %d, blob %d of %s (acknowledged: %t): %v", w.id, i, p.tag, p.blobAcked[i], err)
				}
			}
		}
	}
}

// checkSessions checks the chunked uploads the workers were in: each resumes at what was
// acknowledged, or with the chunk in flight appended whole. Only a session whose closing
// PUT was in flight may be gone.
func checkSessions(t *testing.T, c *client, workers []*worker) {
	t.Helper()
	for _, w := range workers {
		s := w.session
		if s == nil || s.loc == "" {
			continue
		}
		got, err := c.uploadRange(s.loc)
		switch {
		case isNotFound(err) && s.closing:
		case err != nil:
			t.Errorf("worker %d, session %s (acknowledged %d bytes): %v", w.id, s.loc, s.acked, err)
		case got != rangeOf(s.acked) && got != rangeOf(s.acked+s.pending):
			t.Errorf("worker %d, session %s: Range %q, want %q (acknowledged) or %q (with the chunk in flight)",
				w.id, s.loc, got, rangeOf(s.acked), rangeOf(s.acked+s.pending))
		}
	}
}

// leftovers are acknowledged blobs that nothing references and acknowledged upload
// sessions that are never closed: what a crash leaves, but pushed deterministically so
// that reclaiming them is checked whatever the crash hit.
type leftovers struct {
	repo     string
	blobs    [][]byte
	sessions []*session
}

func pushLeftovers(t *testing.T, c *client, rng *rand.ChaCha8) leftovers {
	t.Helper()
	l := leftovers{repo: "crash/leftovers"}
	for range 3 {
		b := randomBytes(rng, 8<<10)
		if err := c.pushBlob(l.repo, b); err != nil {
			t.Fatal(err)
		}
		l.blobs = append(l.blobs, b)

		loc, err := c.startUpload(l.repo)
		if err == nil {
			loc, err = c.patchChunk(loc, 0, randomBytes(rng, 4<<10))
		}
		if err != nil {
			t.Fatal(err)
		}
		l.sessions = append(l.sessions, &session{loc: loc, acked: 4 << 10})
	}
	return l
}

func (l leftovers) checkKept(t *testing.T, c *client) {
	t.Helper()
	for _, b := range l.blobs {
		if _, err := c.getBlob(l.repo, digest.FromBytes(b)); err != nil {
			t.Errorf("acknowledged unreferenced blob: %v", err)
		}
	}
	for _, s := range l.sessions {
		if got, err := c.uploadRange(s.loc); err != nil || got != rangeOf(s.acked) {
			t.Errorf("acknowledged session %s: Range %q, %v; want %q", s.loc, got, err, rangeOf(s.acked))
		}
	}
}

func (l leftovers) checkBlobsGone(t *testing.T, c *client) {
	t.Helper()
	for _, b := range l.blobs {
		if _, err := c.getBlob(l.repo, digest.FromBytes(b)); !isNotFound(err) {
			t.Errorf("unreferenced blob after gc --grace 0s: got %v, want 404", err)
		}
	}
}

func (l leftovers) checkSessionsGone(t *testing.T, c *client) {
	t.Helper()
	for _, s := range l.sessions {
		if _, err := c.uploadRange(s.loc); !isNotFound(err) {
			t.Errorf("session %s after expiry: got %v, want 404", s.loc, err)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

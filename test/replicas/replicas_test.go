package replicas

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta/postgres"
)

// gcGrace is the grace period of the GC run next to the replicas: garbage is made first
// and the other scenarios run while it ages. Azure's Last-Modified has whole seconds, so
// a blob can look up to a second older than it is: the grace leaves a wide margin over the
// time a push takes between its blobs and its manifest.
const gcGrace = 5 * time.Second

// TestReplicas runs the scenarios on one cluster of three replicas sharing PostgreSQL and
// Azurite, in order: the last ones kill a replica and spend the sign-in budget.
func TestReplicas(t *testing.T) {
	c := startCluster(t, 3, onAzurite)
	garbage := c.makeGarbage(t)
	var acked ackedImages // every image acknowledged, checked after GC and after the kill

	t.Run("PushVisibleEverywhere", func(t *testing.T) { c.pushVisibleEverywhere(t, &acked) })
	t.Run("ChunkedUploadAcrossReplicas", func(t *testing.T) { c.chunkedAcrossReplicas(t, &acked) })
	t.Run("RacingChunks", func(t *testing.T) { c.racingChunks(t) })
	t.Run("TokenAcceptedByAll", func(t *testing.T) { c.tokenAcceptedByAll(t, &acked) })
	t.Run("DisabledTokenRefusedByAll", func(t *testing.T) { c.disabledTokenRefusedByAll(t, &acked) })
	t.Run("GCWhilePushing", func(t *testing.T) { c.gcWhilePushing(t, garbage, &acked) })
	t.Run("KillMidPush", func(t *testing.T) { c.killMidPush(t, &acked) })
	t.Run("SharedSignInLimit", func(t *testing.T) { c.sharedSignInLimit(t) })
}

// TestReplicasSharedDirectory: the filesystem blob driver shared by replicas through one
// directory (each replica's DIR/blobs links to it) serves pushes and chunked uploads
// across replicas too.
func TestReplicasSharedDirectory(t *testing.T) {
	c := startCluster(t, 2, onSharedDir)
	var acked ackedImages
	t.Run("PushVisibleEverywhere", func(t *testing.T) { c.pushVisibleEverywhere(t, &acked) })
	t.Run("ChunkedUploadAcrossReplicas", func(t *testing.T) { c.chunkedAcrossReplicasOf(t, &acked, 0, 1, 0) })
	acked.verifyAll(t, c, 0, 1)
}

// ackedImages collects the images whose manifest push was acknowledged.
type ackedImages struct {
	mu     sync.Mutex
	images []*image
}

func (a *ackedImages) add(im *image) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.images = append(a.images, im)
}

// verifyAll pulls every acknowledged image, with all its blobs, from each of replicas.
func (a *ackedImages) verifyAll(t *testing.T, c *cluster, replicas ...int) {
	t.Helper()
	a.mu.Lock()
	images := append([]*image(nil), a.images...)
	a.mu.Unlock()
	for _, i := range replicas {
		cl := c.owner(i)
		for _, im := range images {
			if err := cl.verify(im); err != nil {
				t.Errorf("acknowledged image lost: %v", err)
			}
		}
	}
	t.Logf("%d acknowledged images intact on replicas %v", len(images), replicas)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pushVisibleEverywhere: a push through one replica is read through the others at once,
// and so is a tag moved through another.
func (c *cluster) pushVisibleEverywhere(t *testing.T, acked *ackedImages) {
	im := newImage("visible/app", "v1", 4096, 300_000)
	must(t, c.owner(0).push(im))
	for i := range c.replicas {
		must(t, c.owner(i).verify(im))
	}
	// The tag moves through replica 1: the others serve the new manifest at once.
	moved := newImage("visible/app", "v1", 1000)
	must(t, c.owner(1).push(moved))
	for i := range c.replicas {
		if i != 1 {
			must(t, c.owner(i).verify(moved))
		}
	}
	_, b, err := c.owner(len(c.replicas)-1).expect(http.StatusOK, http.MethodGet, "/v2/visible/app/tags/list", nil, nil)
	must(t, err)
	if !strings.Contains(string(b), `"v1"`) {
		t.Errorf("tags on the last replica: %s", b)
	}
	acked.add(moved)
	im.tag = "" // the first manifest stays, by digest
	acked.add(im)
}

// chunkedAcrossReplicas: a session opened on replica 0 takes a chunk there, reports its
// size and takes the next chunk on replica 1, and is closed on replica 2.
func (c *cluster) chunkedAcrossReplicas(t *testing.T, acked *ackedImages) {
	c.chunkedAcrossReplicasOf(t, acked, 0, 1, 2)
}

// chunkedAcrossReplicasOf opens on replica a, continues on b and closes on z.
func (c *cluster) chunkedAcrossReplicasOf(t *testing.T, acked *ackedImages, a, b, z int) {
	const repo = "chunked/app"
	data := make([]byte, 5<<20+123)
	rand.Read(data)
	d := digest.FromBytes(data)
	cuts := []int64{0, 2 << 20, 4 << 20, int64(len(data))}

	loc, err := c.owner(a).startUpload(repo)
	must(t, err)
	resp, err := c.owner(a).patch(loc, 0, data[:cuts[1]])
	must(t, err)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first chunk on replica %d: %d", a, resp.StatusCode)
	}
	size, err := c.owner(b).uploadSize(loc)
	must(t, err)
	if size != cuts[1] {
		t.Fatalf("replica %d reports %d bytes, want %d", b, size, cuts[1])
	}
	if resp, err = c.owner(b).patch(loc, cuts[1], data[cuts[1]:cuts[2]]); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("second chunk on replica %d: %v %v", b, resp.Status, err)
	}
	must(t, c.owner(z).finish(loc, cuts[2], data[cuts[2]:], d))
	for i := range c.replicas {
		must(t, c.owner(i).verifyBlob(repo, d))
	}
	im := newImage(repo, "v1")
	im.blobs[d] = data
	im.manifest = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		manifestType, digest.FromBytes(configOf(im)), len(configOf(im)), d, len(data))
	im.digest = digest.FromBytes(im.manifest)
	must(t, c.owner(z).push(im))
	acked.add(im)
}

// configOf returns the config blob of an image made by newImage without layers.
func configOf(im *image) []byte {
	for _, b := range im.blobs {
		if strings.HasPrefix(string(b), `{"architecture"`) {
			return b
		}
	}
	return nil
}

// racingChunks: two replicas receive the same chunk of one session at once (a client
// retrying on another replica while the first attempt still runs): one applies it, the
// other answers 416 with the session's real Range, and the blob comes out right.
func (c *cluster) racingChunks(t *testing.T) {
	const repo = "racing/app"
	for round := range 3 {
		chunk := make([]byte, 3<<20)
		rand.Read(chunk)
		tail := []byte("tail")
		loc, err := c.owner(0).startUpload(repo)
		must(t, err)
		statuses := make([]int, 2)
		ranges := make([]string, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				resp, err := c.owner(i).patch(loc, 0, chunk)
				if err != nil {
					t.Errorf("round %d, replica %d: %v", round, i, err)
					return
				}
				statuses[i], ranges[i] = resp.StatusCode, resp.Header.Get("Range")
			})
		}
		wg.Wait()
		accepted, refused := 0, 0
		for i, s := range statuses {
			switch {
			case s == http.StatusAccepted:
				accepted++
			case s == http.StatusRequestedRangeNotSatisfiable && ranges[i] == fmt.Sprintf("0-%d", len(chunk)-1):
				refused++
			default:
				t.Errorf("round %d, replica %d: %d Range %q", round, i, s, ranges[i])
			}
		}
		if accepted != 1 || refused != 1 {
			t.Fatalf("round %d: statuses %v, want one 202 and one 416", round, statuses)
		}
		d := digest.FromBytes(append(append([]byte(nil), chunk...), tail...))
		must(t, c.owner(2).finish(loc, int64(len(chunk)), tail, d))
		must(t, c.owner(1).verifyBlob(repo, d))
	}
}

// tokenAcceptedByAll: an access token and a refresh token issued by one replica are
// honoured by the others (the signing keys live in the shared store).
func (c *cluster) tokenAcceptedByAll(t *testing.T, acked *ackedImages) {
	im := newImage("tokens/app", "v1", 2048)
	must(t, c.owner(1).push(im))
	acked.add(im)
	access, refresh, err := c.owner(0).token("repository:tokens/app:pull")
	must(t, err)
	for i := range c.replicas {
		cl := c.client(i, "Bearer "+access)
		must(t, cl.verify(im))
		// Push was not granted.
		if _, _, err := cl.expect(http.StatusUnauthorized, http.MethodPost, "/v2/tokens/app/blobs/uploads/", nil, nil); err != nil {
			t.Error(err)
		}
	}
	// The refresh token of replica 0, redeemed at replica 2 for another access token.
	form := "grant_type=refresh_token&service=" + loginServer + "&scope=repository:tokens/app:pull&refresh_token=" + refresh
	_, b, err := c.client(2, "").expect(http.StatusOK, http.MethodPost, "/oauth2/token",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form))
	must(t, err)
	if !strings.Contains(string(b), "access_token") {
		t.Errorf("refresh at replica 2: %s", b)
	}
}

// disabledTokenRefusedByAll: a repository-scoped token disabled through the management
// plane of one replica is refused by every replica on the very next request, with Basic
// credentials and with an access token issued before; enabled again, it works again.
func (c *cluster) disabledTokenRefusedByAll(t *testing.T, acked *ackedImages) {
	im := newImage("revoke/app", "v1", 1024)
	must(t, c.owner(0).push(im))
	acked.add(im)
	m := c.management(t, 0)
	password := m.newToken(t, "replicatoken", "_repositories_pull")
	cred := basic("replicatoken", password)
	access, _, err := c.client(1, cred).token("repository:revoke/app:pull")
	must(t, err)
	for i := range c.replicas {
		must(t, c.client(i, cred).verify(im))
		must(t, c.client(i, "Bearer "+access).verify(im))
	}
	for round := range 2 {
		m.setTokenStatus(t, "replicatoken", armcontainerregistry.TokenStatusDisabled)
		for i := 1; i < len(c.replicas); i++ { // at once, on the other replicas
			if _, _, err := c.client(i, "Bearer "+access).expect(http.StatusUnauthorized, http.MethodGet,
				"/v2/revoke/app/manifests/v1", nil, nil); err != nil {
				t.Errorf("round %d, access token after disabling: %v", round, err)
			}
		}
		// Basic refusals count against the sign-in limit: one per round.
		if _, _, err := c.client(2-round, cred).expect(http.StatusUnauthorized, http.MethodGet,
			"/v2/revoke/app/manifests/v1", nil, nil); err != nil {
			t.Errorf("round %d, password after disabling: %v", round, err)
		}
		// Enabled again, the token signs in again everywhere; the access token issued
		// before the revocation stays refused (its binding names the old generation).
		m.setTokenStatus(t, "replicatoken", armcontainerregistry.TokenStatusEnabled)
		for i := range c.replicas {
			if err := c.client(i, cred).verify(im); err != nil {
				t.Errorf("round %d, enabled again: %v", round, err)
			}
		}
		if _, _, err := c.client(0, "Bearer "+access).expect(http.StatusUnauthorized, http.MethodGet,
			"/v2/revoke/app/manifests/v1", nil, nil); err != nil {
			t.Errorf("round %d, the access token from before the revocation: %v", round, err)
		}
	}
}

// garbage is what makeGarbage left for GC, and what it must keep.
type garbage struct {
	junk    []digest.Digest // linked into a repository, referenced by nothing
	dropped []digest.Digest // blobs of a manifest deleted since
	kept    *image          // tagged: must stay
	relink  digest.Digest   // junk linked again (just before GC): must stay
	made    time.Time
}

// makeGarbage pushes blobs that nothing references and an image that is deleted again,
// plus one image that stays.
func (c *cluster) makeGarbage(t *testing.T) *garbage {
	g := &garbage{made: time.Now()}
	cl := c.owner(0)
	for range 3 {
		b := make([]byte, 10_000)
		rand.Read(b)
		d, err := cl.pushBlob("gc/junk", b)
		must(t, err)
		g.junk = append(g.junk, d)
	}
	dropped := newImage("gc/dropped", "v1", 20_000)
	must(t, cl.push(dropped))
	_, _, err := cl.expect(http.StatusAccepted, http.MethodDelete, "/v2/gc/dropped/manifests/"+dropped.digest.String(), nil, nil)
	must(t, err)
	for d := range dropped.blobs {
		g.dropped = append(g.dropped, d)
	}
	g.kept = newImage("gc/keep", "v1", 30_000)
	must(t, c.owner(1).push(g.kept))
	return g
}

// gcWhilePushing runs `cerulean gc` next to the replicas while clients push to them: the
// garbage goes, every acknowledged image stays whole. A second run is refused while one
// holds the stores' GC lock.
func (c *cluster) gcWhilePushing(t *testing.T, g *garbage, acked *ackedImages) {
	// The lock: held elsewhere, a run refuses to start.
	store, err := postgres.Open(t.Context(), c.dsn)
	must(t, err)
	release, ok, err := store.TryLock(t.Context(), "gc")
	if err != nil || !ok {
		t.Fatalf("take the GC lock: %v %v", ok, err)
	}
	if out, err := c.gc(2); err == nil || !strings.Contains(err.Error(), "another garbage collection") {
		t.Errorf("gc while another holds the lock: %v\n%s", err, out)
	}
	release()
	store.Close()

	if wait := gcGrace + 1500*time.Millisecond - time.Since(g.made); wait > 0 {
		time.Sleep(wait)
	}
	// A junk blob linked again into another repository just before the run: it stays.
	_, _, err = c.owner(1).expect(http.StatusCreated, http.MethodPost,
		"/v2/gc/relinked/blobs/uploads/?mount="+g.junk[0].String()+"&from=gc/junk", nil, nil)
	must(t, err)
	g.relink = g.junk[0]

	// Pushers on replicas 1 and 2 until GC is done and a little after.
	stop := make(chan struct{})
	var pushed, failed atomic.Int64
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			cl := c.owner(1 + p%2)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				im := newImage(fmt.Sprintf("gc/pusher%d", p), fmt.Sprintf("t%d", n), 5000, 50_000)
				if err := cl.push(im); err != nil {
					failed.Add(1) // not acknowledged: nothing promised
					t.Logf("pusher %d: %v", p, err)
					continue
				}
				pushed.Add(1)
				acked.add(im)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	out, err := c.gc(0, "--grace", gcGrace.String())
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("gc: %v\n%s", err, out)
	}
	t.Logf("gc next to %d pushes (%d failed):\n%s", pushed.Load(), failed.Load(), lastLine(out))
	if failed.Load() > 0 {
		t.Errorf("%d pushes failed during GC", failed.Load())
	}
	removed := map[digest.Digest]bool{}
	for _, line := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(line, "blob "); ok {
			removed[digest.Digest(d)] = true
		}
	}
	for _, d := range append(append([]digest.Digest(nil), g.junk[1:]...), g.dropped...) {
		if !removed[d] {
			t.Errorf("garbage blob %s not removed", d)
		}
	}
	if removed[g.relink] {
		t.Errorf("blob %s linked again within the grace period was removed", g.relink)
	}
	for d := range g.kept.blobs {
		if removed[d] {
			t.Errorf("blob %s of a tagged image was removed", d)
		}
	}
	must(t, c.owner(2).verify(g.kept))
	must(t, c.owner(0).verifyBlob("gc/relinked", g.relink))
	acked.verifyAll(t, c, 0, 1, 2)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// killMidPush kills replica 2 (SIGKILL) while clients push to it, one of them halfway
// through a chunked upload: each client goes on through another replica, resuming the
// session from where it stands, and everything acknowledged, before or after, is there.
func (c *cluster) killMidPush(t *testing.T, acked *ackedImages) {
	const victim = 2
	// A chunked upload: two chunks acknowledged by the victim, the third in flight.
	data := make([]byte, 12<<20)
	rand.Read(data)
	const chunk = 4 << 20
	cl := c.owner(victim)
	loc, err := cl.startUpload("kill/big")
	must(t, err)
	for off := 0; off < 2*chunk; off += chunk {
		resp, err := cl.patch(loc, int64(off), data[off:off+chunk])
		must(t, err)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("chunk at %d: %d", off, resp.StatusCode)
		}
	}
	pr, pw := io.Pipe()
	inFlight := make(chan error, 1)
	go func() {
		h := octets.Clone()
		h.Set("Content-Range", fmt.Sprintf("%d-%d", 2*chunk, 3*chunk-1))
		resp, _, err := cl.do(http.MethodPatch, loc, h, pr, chunk)
		if err == nil {
			err = fmt.Errorf("the in-flight chunk was answered %d by a killed replica", resp.StatusCode)
		}
		inFlight <- err
	}()
	if _, err := pw.Write(data[2*chunk : 2*chunk+chunk/2]); err != nil {
		t.Fatal(err)
	}

	// Pushers on the victim; they move to replica (p%2) when it dies.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var retried atomic.Int64
	for p := range 4 {
		wg.Go(func() {
			cl := c.owner(victim)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				im := newImage(fmt.Sprintf("kill/pusher%d", p), fmt.Sprintf("t%d", n), 4000, 200_000)
				for attempt := 0; ; attempt++ {
					err := cl.push(im)
					if err == nil {
						acked.add(im)
						break
					}
					if attempt == 5 {
						t.Errorf("pusher %d: %v", p, err)
						return
					}
					retried.Add(1)
					cl = c.owner(p % 2) // the next replica behind the balancer
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	c.replicas[victim].Kill(t)
	if err := <-inFlight; err == nil {
		t.Error("the in-flight chunk succeeded")
	}
	pw.CloseWithError(errors.New("replica gone"))

	// The client resumes the session on replica 0 from what it reports.
	resumed := c.owner(0)
	size, err := resumed.uploadSize(loc)
	must(t, err)
	if size != 2*chunk {
		t.Errorf("after the kill the session holds %d bytes, want %d (the acknowledged chunks)", size, 2*chunk)
	}
	must(t, resumed.finish(loc, size, data[size:], digest.FromBytes(data)))
	must(t, c.owner(1).verifyBlob("kill/big", digest.FromBytes(data)))

	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if retried.Load() == 0 {
		t.Log("no push was in flight at the kill")
	}
	t.Logf("%d pushes retried on another replica after the kill", retried.Load())
	acked.verifyAll(t, c, 0, 1)
}

// sharedSignInLimit: failed sign-ins through two replicas spend one budget (10 at once per
// client address and per username): the next attempt is refused by any replica with 429.
func (c *cluster) sharedSignInLimit(t *testing.T) {
	user := "guesser-" + randomHex(4)
	fails := 0
	for i := 0; ; i++ {
		resp, _, err := c.client(i%2, basic(user, "wrong")).do(http.MethodGet, "/v2/", nil, nil, 0)
		must(t, err)
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
		if fails++; fails > 10 {
			t.Fatalf("%d failed sign-ins over two replicas and still no 429", fails)
		}
	}
	// The address's budget is spent too (earlier scenarios spent some): the owner, from
	// the same address, is held back by the other replica as well.
	resp, _, err := c.owner(1).do(http.MethodGet, "/v2/", nil, nil, 0)
	must(t, err)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("owner from the same address on replica 1: %d Retry-After %q, want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	t.Logf("429 after %d failures spread over two replicas", fails)
}

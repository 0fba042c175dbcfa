package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Baseline names, as the JSON report gives them.
const (
	baselineWrite      = "write + SHA-256 + fsync"
	baselineFileServer = "Go http.FileServer over TLS"
)

// chunkSize is the PATCH size of the chunked big-blob push.
const chunkSize = 64 << 20

// Repositories the run writes to.
const (
	repoBig    = "bench/big"
	repoSmall  = "bench/small"
	repoOneTag = "bench/one-tag"
	repoTagged = "bench/many-tags"
)

// oneTagManifest is the manifest of the one-tag repository, by its tag.
const oneTagManifest = "/v2/" + repoOneTag + "/manifests/latest"

// registry is the server under test as the bench's clients reach it: signed in as the
// owner with one bearer token per client, for pull and push on every repository the run
// uses, as docker asks for one token per repository it touches.
func (r *runner) registry() endpoint {
	var scopes []string
	for _, repo := range []string{repoBig, repoSmall, repoOneTag, repoTagged} {
		scopes = append(scopes, "repository:"+repo+":pull,push")
	}
	return r.target.endpoint(scopes...)
}

// bigBlob measures pushing big blobs in one POST and in chunks, over HTTP/2 and over
// HTTP/1.1, and pulling them, in rounds. Every push stores new bytes (a seed of its own),
// so the server cannot find the blob already stored.
func (r *runner) bigBlob(ctx context.Context) error {
	c2, err := r.bigBlobClient(ctx, true)
	if err != nil {
		return err
	}
	defer c2.close()
	if r.report.Protocol, err = c2.proto(ctx); err != nil {
		return err
	}
	c1, err := r.bigBlobClient(ctx, false)
	if err != nil {
		return err
	}
	defer c1.close()
	pushes := []*pushRow{
		{name: "blob push, one POST", short: "POST", client: c2},
		{name: "blob push, 64 MiB PATCHes", short: "PATCHes", client: c2, chunked: true},
		{name: "blob push, one POST, HTTP/1.1", short: "POST/1.1", client: c1},
		{name: "blob push, 64 MiB PATCHes, HTTP/1.1", short: "PATCHes/1.1", client: c1, chunked: true},
	}
	const pulled = 1 // the pull rows fetch what this push row stored in the round

	n := r.opts.Rounds
	hashStart := time.Now()
	blobs := make([][]blobSpec, n) // by round, then by push row
	for k := range blobs {
		for i := range pushes {
			blobs[k] = append(blobs[k], newBlobSpec(uint64(k*len(pushes)+i+1), r.opts.BigBlob))
		}
	}
	fmt.Fprintf(r.out, "(generated and hashed %d × %s in %s)\n", n*len(pushes), mib(r.opts.BigBlob), time.Since(hashStart).Round(time.Millisecond))

	var pull2, pull1 series
	for k := range n {
		var figs []roundFigure
		for i, p := range pushes {
			if err := r.pushBigBlob(blobs[k][i], &p.s, func(b blobSpec) error { return p.push(ctx, b) }); err != nil {
				return err
			}
			figs = append(figs, roundFigure{p.short, &p.s})
		}
		if err := r.pullBigBlob(ctx, blobs[k][pulled], true, &pull2); err != nil {
			return err
		}
		if err := r.pullBigBlob(ctx, blobs[k][pulled], false, &pull1); err != nil {
			return err
		}
		printRound(r.out, k, n, "MiB/s", append(figs, roundFigure{"pull", &pull2}, roundFigure{"pull/1.1", &pull1})...)
	}
	for _, p := range pushes {
		r.add(result(p.name, "MiB/s", baselineWrite, "distribution ~400 MiB/s", p.s))
	}
	r.add(result("blob pull", "MiB/s", baselineFileServer, "distribution ~800 MiB/s", pull2))
	r.add(result("blob pull, HTTP/1.1", "MiB/s", baselineFileServer, "distribution ~800 MiB/s", pull1))
	return nil
}

// pushRow is one push row of the big-blob phase: its name in the table and in the
// rounds' lines, how it pushes, and its figures.
type pushRow struct {
	name, short string
	client      *client
	chunked     bool // 64 MiB PATCHes; one POST otherwise
	s           series
}

func (p *pushRow) push(ctx context.Context, b blobSpec) error {
	if p.chunked {
		return p.client.pushBlobChunked(ctx, repoBig, b.digest, b.size, chunkSize, b.reader())
	}
	return p.client.pushBlob(ctx, repoBig, b.digest, b.size, b.reader())
}

// bigBlobClient is a signed-in client of the registry for the big-blob rows, speaking
// HTTP/2 (as Go clients with a default transport do) or HTTP/1.1 only (as the docker
// daemon does).
func (r *runner) bigBlobClient(ctx context.Context, http2 bool) (*client, error) {
	c, err := newClient(r.registry(), http2)
	if err == nil {
		err = c.signIn(ctx)
	}
	return c, err
}

// pushBigBlob is one round of a push row: the blob written to a new baseline file, then
// pushed to the registry by push. The baseline keeps its files as the registry keeps its
// blobs, so both put the bytes in page-cache memory that nothing used before. That is
// not free everywhere: on this kind of VM the host backs guest memory on first touch, and
// writing 512 MiB into such pages took 0.7 s of CPU where pages freed a moment before
// took 0.1 s. A baseline that removed its previous file would reuse those pages and be
// measured at a cheaper rate than any server that keeps what it stores.
func (r *runner) pushBigBlob(b blobSpec, s *series, push func(blobSpec) error) error {
	mibs := float64(b.size) / (1 << 20)
	write, err := r.measure(func() error { return writeBaseline(r.base.path(bigBlobFile(b)), b) })
	if err != nil {
		return err
	}
	pushed, err := r.measure(func() error { return push(b) })
	if err != nil {
		return err
	}
	s.add(perSec(mibs, pushed), perSec(mibs, write))
	return nil
}

// writeBaseline writes the blob durably and checks that the bytes are the ones hashed.
func writeBaseline(path string, b blobSpec) error {
	d, err := writeDurably(path, b.reader())
	if err == nil && d != b.digest {
		err = fmt.Errorf("generator is not deterministic: wrote %s, hashed %s", d, b.digest)
	}
	return err
}

// pullBigBlob is one round of a pull row: the blob fetched from Go's file server and
// from the registry with the same client code; both files were just written, so both
// come from the page cache. The rows pull over the protocol the servers offer (HTTP/2,
// as Go clients with a default transport take it) and over HTTP/1.1 (as the docker
// daemon speaks), because Go's HTTP/2 moves bulk data at a fraction of HTTP/1.1's rate.
func (r *runner) pullBigBlob(ctx context.Context, b blobSpec, http2 bool, s *series) error {
	base, err := r.pullOnce(ctx, r.files.endpoint(), http2, bigBlobFile(b), b.size)
	if err != nil {
		return err
	}
	pull, err := r.pullOnce(ctx, r.registry(), http2, "/v2/"+repoBig+"/blobs/"+b.digest, b.size)
	if err != nil {
		return err
	}
	s.add(pull, base)
	return nil
}

// pullOnce fetches ref of size bytes from ep on a new, warm connection.
func (r *runner) pullOnce(ctx context.Context, ep endpoint, http2 bool, ref string, size int64) (measured, error) {
	cs, err := newClients(ctx, 1, ep, http2)
	if err != nil {
		return measured{}, err
	}
	defer closeClients(cs)
	u, err := r.measure(func() error { return cs[0].fetch(ctx, ref, size) })
	return perSec(float64(size)/(1<<20), u), err
}

// smallImages pushes and then pulls SmallImages single-layer images from Concurrency
// clients at once, each client on its own connection, in rounds. Each round has images
// (and so blobs and tags) of its own: the server ends up holding Rounds × SmallImages.
func (r *runner) smallImages(ctx context.Context) error {
	cs, err := newClients(ctx, r.opts.Concurrency, r.registry(), true)
	if err != nil {
		return err
	}
	defer closeClients(cs)
	fcs, err := newClients(ctx, len(cs), r.files.endpoint(), true)
	if err != nil {
		return err
	}
	defer closeClients(fcs)
	n, rounds := r.opts.SmallImages, r.opts.Rounds
	var push, pull series
	for k := range rounds {
		first := k * n // image i of this round is image first+i of the run
		imgs := make([]image, n)
		for i := range imgs {
			imgs[i] = makeImage(first + i)
		}
		if err := r.pushImages(ctx, cs, first, imgs, &push); err != nil {
			return err
		}
		if err := r.pullImages(ctx, cs, fcs, first, imgs, &pull); err != nil {
			return err
		}
		printRound(r.out, k, rounds, "img/s", roundFigure{"push", &push}, roundFigure{"pull", &pull})
	}
	r.add(result("4 KiB image push", "img/s", baselineWrite, "distribution 88/s", push))
	r.add(result("4 KiB image pull", "img/s", baselineFileServer, "distribution 336/s", pull))
	return nil
}

// pushImages writes the objects of imgs as the baseline, then pushes imgs to the registry.
func (r *runner) pushImages(ctx context.Context, cs []*client, first int, imgs []image, s *series) error {
	n := len(imgs)
	writers := make([]struct{}, len(cs))
	write, err := r.measure(func() error {
		return forEach(ctx, writers, n, func(_ context.Context, _ struct{}, i int) error { return r.writeImage(first+i, imgs[i]) })
	})
	if err != nil {
		return err
	}
	push, err := r.measure(func() error {
		return forEach(ctx, cs, n, func(ctx context.Context, c *client, i int) error {
			return pushImage(ctx, c, repoSmall, imageTag(first+i), imgs[i])
		})
	})
	if err != nil {
		return err
	}
	s.add(perSec(float64(n), push), perSec(float64(n), write))
	return nil
}

// pullImages fetches the objects of imgs from the file server as the baseline, then
// pulls imgs from the registry.
func (r *runner) pullImages(ctx context.Context, cs, fcs []*client, first int, imgs []image, s *series) error {
	n := len(imgs)
	read, err := r.measure(func() error {
		return forEach(ctx, fcs, n, func(ctx context.Context, c *client, i int) error { return fetchImageFiles(ctx, c, first+i, imgs[i]) })
	})
	if err != nil {
		return err
	}
	pull, err := r.measure(func() error {
		return forEach(ctx, cs, n, func(ctx context.Context, c *client, i int) error {
			return pullImage(ctx, c, imageTag(first+i), imgs[i])
		})
	})
	if err != nil {
		return err
	}
	s.add(perSec(float64(n), pull), perSec(float64(n), read))
	return nil
}

func imageTag(i int) string { return "img-" + strconv.Itoa(i) }

// writeImage is the push baseline of one image: its three objects written durably.
func (r *runner) writeImage(i int, img image) error {
	m, c, l := imageFiles(i)
	for _, f := range []struct {
		ref  string
		data []byte
	}{{c, img.config}, {l, img.layer}, {m, img.manifest}} {
		if _, err := writeDurably(r.base.path(f.ref), bytes.NewReader(f.data)); err != nil {
			return err
		}
	}
	return nil
}

// pushImage pushes an image as a client does: its blobs, then its manifest.
func pushImage(ctx context.Context, c *client, repo, tag string, img image) error {
	if err := c.pushBlob(ctx, repo, img.configDigest, int64(len(img.config)), bytes.NewReader(img.config)); err != nil {
		return err
	}
	if err := c.pushBlob(ctx, repo, img.layerDigest, int64(len(img.layer)), bytes.NewReader(img.layer)); err != nil {
		return err
	}
	return c.putManifest(ctx, repo, tag, img.manifest)
}

// pullImage pulls an image as a client does: the manifest by tag, then its blobs.
func pullImage(ctx context.Context, c *client, tag string, img image) error {
	if err := c.fetch(ctx, "/v2/"+repoSmall+"/manifests/"+tag, int64(len(img.manifest))); err != nil {
		return err
	}
	if err := c.fetch(ctx, "/v2/"+repoSmall+"/blobs/"+img.configDigest, int64(len(img.config))); err != nil {
		return err
	}
	return c.fetch(ctx, "/v2/"+repoSmall+"/blobs/"+img.layerDigest, int64(len(img.layer)))
}

// fetchImageFiles is the pull baseline of one image: its three files from Go's file server.
func fetchImageFiles(ctx context.Context, c *client, i int, img image) error {
	m, cfg, l := imageFiles(i)
	if err := c.fetch(ctx, m, int64(len(img.manifest))); err != nil {
		return err
	}
	if err := c.fetch(ctx, cfg, int64(len(img.config))); err != nil {
		return err
	}
	return c.fetch(ctx, l, int64(len(img.layer)))
}

// manifestGets measures manifest GETs by tag at ManifestConns connections in a repository
// with one tag and in one with Tags tags, where a registry that scans tags slows down. Each
// round measures the baseline, then both repositories; the baseline serves both rows.
func (r *runner) manifestGets(ctx context.Context) error {
	img := makeImage(r.opts.Rounds * r.opts.SmallImages) // the first index the small images did not use
	if err := r.setupTagged(ctx, img); err != nil {
		return err
	}
	if err := os.WriteFile(r.base.path(manifestFile), img.manifest, 0o644); err != nil {
		return err
	}
	size := int64(len(img.manifest))
	fcs, err := newClients(ctx, r.opts.ManifestConns, r.files.endpoint(), false)
	if err != nil {
		return err
	}
	defer closeClients(fcs)
	cs, err := newClients(ctx, r.opts.ManifestConns, r.registry(), false)
	if err != nil {
		return err
	}
	defer closeClients(cs)
	var one, many series
	for k := range r.opts.Rounds {
		base, err := r.hammer(ctx, fcs, getRef(manifestFile, size))
		if err != nil {
			return err
		}
		o, err := r.hammer(ctx, cs, getRef(oneTagManifest, size))
		if err != nil {
			return err
		}
		m, err := r.hammer(ctx, cs, getRef("/v2/"+repoTagged+"/manifests/"+tagName(r.opts.Tags/2), size))
		if err != nil {
			return err
		}
		one.add(o, base)
		many.add(m, base)
		printRound(r.out, k, r.opts.Rounds, "req/s", roundFigure{"1 tag", &one}, roundFigure{fmt.Sprintf("%d tags", r.opts.Tags), &many})
	}
	r.add(result("manifest GET, 1 tag", "req/s", baselineFileServer, "distribution ~4,900/s; zot 12,400/s", one))
	r.add(result(fmt.Sprintf("manifest GET, %d tags", r.opts.Tags), "req/s", baselineFileServer,
		"distribution ~4,900/s; zot 770/s at 1,000 tags", many))
	return nil
}

// hammer runs one timed request loop and returns its rate with what it cost. An untimed
// loop of a fifth of the time comes first, so that the server's heap, caches and
// goroutines are in their steady state when timing starts, whichever measurement is first.
func (r *runner) hammer(ctx context.Context, cs []*client, req func(context.Context, *client) error) (measured, error) {
	if _, err := hammer(ctx, cs, r.opts.ManifestDuration/5, req); err != nil {
		return measured{}, err
	}
	var res loadResult
	u, err := r.measure(func() error {
		var err error
		res, err = hammer(ctx, cs, r.opts.ManifestDuration, req)
		return err
	})
	return measured{value: res.rate(), use: u, load: &res}, err
}

// getRef is the request of a request loop that GETs ref, of size bytes.
func getRef(ref string, size int64) func(context.Context, *client) error {
	return func(ctx context.Context, c *client) error { return c.fetch(ctx, ref, size) }
}

func tagName(i int) string { return "t" + strconv.Itoa(i) }

// setupTagged creates the one-tag repository and tags img Tags times in the other. The
// tagging is set-up, done concurrently and reported only as a rate.
func (r *runner) setupTagged(ctx context.Context, img image) error {
	cs, err := newClients(ctx, r.opts.Concurrency, r.registry(), true)
	if err != nil {
		return err
	}
	defer closeClients(cs)
	if err := pushImage(ctx, cs[0], repoOneTag, "latest", img); err != nil {
		return err
	}
	if err := pushImage(ctx, cs[0], repoTagged, tagName(0), img); err != nil {
		return err
	}
	start := time.Now()
	err = forEach(ctx, cs, r.opts.Tags-1, func(ctx context.Context, c *client, i int) error {
		return c.putManifest(ctx, repoTagged, tagName(i+1), img.manifest)
	})
	if err != nil {
		return err
	}
	r.report.TagPutsPerSec = float64(r.opts.Tags-1) / time.Since(start).Seconds()
	fmt.Fprintf(r.out, "(set-up: tagged one manifest %d times at %.0f PUTs/s from %d clients)\n",
		r.opts.Tags, r.report.TagPutsPerSec, r.opts.Concurrency)
	return nil
}

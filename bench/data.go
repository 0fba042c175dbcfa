package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
)

// genBlock is the period of generated blob data. Each block is the same random bytes with
// the block's index stamped into its first 8 bytes, so no two blocks are equal (nothing
// along the way can deduplicate them) while generating costs a copy, not a PRNG, per byte:
// on two cores the generator competes with the server under test for CPU.
const genBlock = 1 << 20

// genReader yields size deterministic bytes derived from seed. The same seed and size
// always yield the same bytes, so a digest computed in one pass holds for the next.
type genReader struct {
	block []byte
	stamp int64 // index of the block whose number is stamped into block[:8]
	off   int64
	size  int64
}

func newGenReader(seed uint64, size int64) *genReader {
	block := make([]byte, genBlock)
	rand.NewChaCha8(seedBytes(seed)).Read(block)
	return &genReader{block: block, stamp: -1, size: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	i, o := g.off/genBlock, g.off%genBlock
	if i != g.stamp {
		binary.LittleEndian.PutUint64(g.block, uint64(i))
		g.stamp = i
	}
	end := min(int64(genBlock), o+g.size-g.off)
	n := copy(p, g.block[o:end])
	g.off += int64(n)
	return n, nil
}

// seedBytes makes a ChaCha8 key from a small seed.
func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return s
}

// blobSpec names a generated blob: the generator's seed, its size and its digest.
type blobSpec struct {
	seed   uint64
	size   int64
	digest string
}

// newBlobSpec runs the generator once to learn the digest, so that pushing can stream
// without holding the blob in memory.
func newBlobSpec(seed uint64, size int64) blobSpec {
	h := sha256.New()
	buf := make([]byte, genBlock)
	_, _ = io.CopyBuffer(h, onlyReader{newGenReader(seed, size)}, buf) // hashes never fail
	return blobSpec{seed: seed, size: size, digest: sha256Digest(h.Sum(nil))}
}

// reader returns a fresh stream of the blob's bytes.
func (b blobSpec) reader() io.Reader { return newGenReader(b.seed, b.size) }

// onlyReader hides any WriterTo so io.CopyBuffer uses the given buffer.
type onlyReader struct{ io.Reader }

func sha256Digest(sum []byte) string { return "sha256:" + hex.EncodeToString(sum) }

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return sha256Digest(sum[:])
}

// OCI media types of the generated images.
const (
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// smallLayerSize is the size of the layer of each small image.
const smallLayerSize = 4 << 10

// image is a small single-layer OCI image, held in memory.
type image struct {
	config, layer, manifest   []byte
	configDigest, layerDigest string
}

// makeImage builds image i: a random 4 KiB layer from seed i, a config naming it, and the
// manifest. Distinct i give distinct blobs, so every push stores new bytes.
func makeImage(i int) image {
	layer := make([]byte, smallLayerSize)
	rand.NewChaCha8(seedBytes(uint64(i) + 1<<32)).Read(layer)
	img := image{layer: layer, layerDigest: digestOf(layer)}
	img.config = fmt.Appendf(nil,
		`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, img.layerDigest)
	img.configDigest = digestOf(img.config)
	img.manifest = manifestFor(img)
	return img
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int    `json:"size"`
}

func manifestFor(img image) []byte {
	m := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        descriptor{mediaTypeConfig, img.configDigest, len(img.config)},
		Layers:        []descriptor{{mediaTypeLayer, img.layerDigest, len(img.layer)}},
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a fixed struct of strings and ints always marshals
	}
	return b
}

package durability

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifest is a generated manifest with the blobs it references. Every generated blob is
// random, so no two fixtures share bytes and each blob has one owner.
type manifest struct {
	mediaType string
	content   []byte
	blobs     [][]byte // config first, then layers; none for an index
}

func (m manifest) digest() digest.Digest { return digest.FromBytes(m.content) }

func (m manifest) descriptor() v1.Descriptor {
	return v1.Descriptor{MediaType: m.mediaType, Digest: m.digest(), Size: int64(len(m.content))}
}

// newRand returns a deterministic random source for a test's content.
func newRand(seed ...uint64) *rand.ChaCha8 {
	var s [32]byte
	for i, v := range seed {
		for j := range 8 {
			s[(i*8+j)%32] ^= byte(v >> (8 * j))
		}
	}
	return rand.NewChaCha8(s)
}

func randomBytes(rng *rand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	_, _ = rng.Read(b) // never fails
	return b
}

// newImage returns an image manifest with a small random config and layers of the given
// sizes.
func newImage(rng *rand.ChaCha8, layerSizes ...int) manifest {
	config := mustJSON(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{}},
		"config":       map[string]any{"Labels": map[string]string{"nonce": hex.EncodeToString(randomBytes(rng, 16))}},
	})
	layers := make([][]byte, len(layerSizes))
	for i, n := range layerSizes {
		layers[i] = randomBytes(rng, n)
	}
	return imageManifest(v1.MediaTypeImageConfig, config, layers, "", nil)
}

// newReferrer returns an artifact manifest of artifactType whose subject is subject.
func newReferrer(rng *rand.ChaCha8, subject manifest, artifactType string) manifest {
	config := mustJSON(map[string]string{"nonce": hex.EncodeToString(randomBytes(rng, 16))})
	s := subject.descriptor()
	return imageManifest(artifactType+".config+json", config, [][]byte{randomBytes(rng, 256)}, artifactType, &s)
}

func imageManifest(configType string, config []byte, layers [][]byte, artifactType string, subject *v1.Descriptor) manifest {
	doc := v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    v1.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       v1.Descriptor{MediaType: configType, Digest: digest.FromBytes(config), Size: int64(len(config))},
		Layers:       []v1.Descriptor{},
		Subject:      subject,
	}
	for _, l := range layers {
		doc.Layers = append(doc.Layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromBytes(l), Size: int64(len(l))})
	}
	return manifest{mediaType: doc.MediaType, content: mustJSON(doc), blobs: append([][]byte{config}, layers...)}
}

// newIndex returns an image index of children.
func newIndex(children ...manifest) manifest {
	doc := v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex}
	for _, c := range children {
		d := c.descriptor()
		d.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
		doc.Manifests = append(doc.Manifests, d)
	}
	return manifest{mediaType: doc.MediaType, content: mustJSON(doc)}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// push uploads m's blobs (monolithic) and then m under ref; ref "" pushes by digest.
func (c *client) push(repo string, m manifest, ref string) error {
	for _, b := range m.blobs {
		if err := c.pushBlob(repo, b); err != nil {
			return err
		}
	}
	if ref == "" {
		ref = m.digest().String()
	}
	return c.putManifest(repo, ref, m.mediaType, m.content)
}

// checkManifest reports whether m is readable, identical, by digest and by each of refs,
// and each of its blobs reads back whole.
func (c *client) checkManifest(repo string, m manifest, refs ...string) error {
	var errs []error
	for _, ref := range append([]string{m.digest().String()}, refs...) {
		got, err := c.getManifest(repo, ref)
		if err == nil && string(got) != string(m.content) {
			err = fmt.Errorf("manifest %s:%s: got %d bytes that differ from the %d pushed", repo, ref, len(got), len(m.content))
		}
		errs = append(errs, err)
	}
	for _, b := range m.blobs {
		_, err := c.getBlob(repo, digest.FromBytes(b))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// mustPush pushes m (see push) and fails the test on error.
func mustPush(t testing.TB, c *client, repo string, m manifest, ref string) {
	t.Helper()
	if err := c.push(repo, m, ref); err != nil {
		t.Fatalf("push %s %s: %v", repo, ref, err)
	}
}

package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"testing/iotest"
)

func TestGenReaderDeterministic(t *testing.T) {
	const size = 3*genBlock + 12345 // several blocks and a partial one
	a, err := io.ReadAll(newGenReader(7, size))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != size {
		t.Fatalf("read %d bytes, want %d", len(a), size)
	}
	// Odd-sized reads must see the same bytes as large ones.
	b, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(newGenReader(7, size), size)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("same seed, different bytes")
	}
	c, _ := io.ReadAll(newGenReader(8, size))
	if bytes.Equal(a, c) {
		t.Error("different seeds, same bytes")
	}
	if bytes.Equal(a[:genBlock], a[genBlock:2*genBlock]) {
		t.Error("consecutive blocks are equal")
	}
}

func TestGenReaderConformsToIOReader(t *testing.T) {
	want, _ := io.ReadAll(newGenReader(3, 100_000))
	if err := iotest.TestReader(newGenReader(3, 100_000), want); err != nil {
		t.Error(err)
	}
}

func TestBlobSpecDigestMatchesStream(t *testing.T) {
	spec := newBlobSpec(5, genBlock+1)
	b, _ := io.ReadAll(spec.reader())
	if got := digestOf(b); got != spec.digest {
		t.Errorf("digest %s, stream hashes to %s", spec.digest, got)
	}
	if spec.size != int64(len(b)) {
		t.Errorf("size %d, stream has %d", spec.size, len(b))
	}
}

func TestMakeImage(t *testing.T) {
	img := makeImage(3)
	if len(img.layer) != smallLayerSize {
		t.Errorf("layer is %d bytes", len(img.layer))
	}
	if bytes.Equal(img.layer, makeImage(4).layer) {
		t.Error("two images share a layer")
	}
	if !bytes.Equal(img.manifest, makeImage(3).manifest) {
		t.Error("image 3 differs between calls")
	}
	var m struct {
		MediaType string
		Config    descriptor
		Layers    []descriptor
	}
	if err := json.Unmarshal(img.manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != mediaTypeManifest || m.Config.Digest != digestOf(img.config) ||
		len(m.Layers) != 1 || m.Layers[0].Digest != digestOf(img.layer) || m.Layers[0].Size != len(img.layer) {
		t.Errorf("manifest does not describe the image: %s", img.manifest)
	}
}

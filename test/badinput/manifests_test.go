package badinput

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ---------------------------------------------------------------------------
// Manifest bodies

// manifestFixture is a repository holding only the config and layer of a valid image
// manifest (not pushed), whose subject has never been pushed. A rejected body must leave
// no tag, no manifest, no catalog entry and no referrer behind.
type manifestFixture struct {
	repo    string
	image   image
	valid   []byte // image, encoded
	subject digest.Digest
}

// edit returns the valid manifest as a JSON object changed by fn.
func (f *manifestFixture) edit(t testing.TB, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.valid, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// padded returns the valid manifest with an annotation that makes it exactly size bytes.
func (f *manifestFixture) padded(t testing.TB, size int) []byte {
	t.Helper()
	im := f.image.Manifest
	im.Annotations = map[string]string{"pad": ""}
	body, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	im.Annotations["pad"] = strings.Repeat("a", size-len(body))
	if body, err = json.Marshal(im); err != nil || len(body) != size {
		t.Fatalf("padded manifest is %d bytes, want %d (%v)", len(body), size, err)
	}
	return body
}

func layer0(m map[string]any) map[string]any { return m["layers"].([]any)[0].(map[string]any) }

// bodyRow is a manifest PUT to tag "t" with a bad body.
type bodyRow struct {
	name        string
	spec        string
	contentType string // "-" sends none; "" sends the OCI image type
	body        func(t testing.TB, f *manifestFixture) []byte
	framing     framing
	declared    func(f *manifestFixture) int // Content-Length of the hand-written framings
	want        []outcome
	stored      bool // the body is valid: it must be stored exactly
}

func manifestBodyRows(_ *testing.T, e *env) []row {
	const (
		invalid = "Error codes: a manifest that is not valid JSON of the OCI image spec's shape is refused with 400 MANIFEST_INVALID (code-6), and nothing of it is stored: no tag, no manifest, no catalog entry, no referrer"
		types   = "Push/Pushing Manifests: \"If a manifest includes a mediaType field, clients MUST set the Content-Type header to the value specified by the mediaType field\"; a type the registry cannot serve back, or a contradiction, is 400 MANIFEST_INVALID and nothing is stored"
		limit   = "Push/Pushing Manifests: \"A registry that enforces this limit SHOULD respond to a request to push a manifest over this limit with a response code 413 Payload Too Large\" and \"Client and registry implementations SHOULD expect to be able to support manifest pushes of at least 4 megabytes\": exactly 4 MiB is stored, one byte more is 413 whether Content-Length says so (truthfully or not) or the body is chunked; nothing is stored"
		cut     = "Push/Pushing Manifests: a body that ends before its Content-Length is not the manifest; 400 MANIFEST_INVALID, nothing stored"
	)
	manifestInvalid := []outcome{answer(http.StatusBadRequest, "MANIFEST_INVALID")}
	tooLarge := []outcome{answer(http.StatusRequestEntityTooLarge, "SIZE_INVALID", "MANIFEST_INVALID")}
	text := func(s string) func(testing.TB, *manifestFixture) []byte {
		return func(testing.TB, *manifestFixture) []byte { return []byte(s) }
	}
	edit := func(fn func(m map[string]any)) func(testing.TB, *manifestFixture) []byte {
		return func(t testing.TB, f *manifestFixture) []byte { return f.edit(t, fn) }
	}
	valid := func(_ testing.TB, f *manifestFixture) []byte { return f.valid }
	firstHalf := func(_ testing.TB, f *manifestFixture) []byte { return f.valid[:len(f.valid)/2] }
	overLimit := func(*manifestFixture) int { return maxManifest + 1 }
	whole := func(f *manifestFixture) int { return len(f.valid) }

	table := []bodyRow{
		{name: "truncated JSON", spec: invalid, want: manifestInvalid, body: firstHalf},
		{name: "trailing garbage after the document", spec: invalid, want: manifestInvalid,
			body: func(_ testing.TB, f *manifestFixture) []byte { return append(slices.Clip(f.valid), "x"...) }},
		{name: "two documents", spec: invalid, want: manifestInvalid,
			body: func(_ testing.TB, f *manifestFixture) []byte { return append(slices.Clip(f.valid), f.valid...) }},
		{name: "empty body", spec: invalid, want: manifestInvalid, body: text("")},
		{name: "JSON null", spec: invalid, want: manifestInvalid, body: text("null")},
		{name: "JSON string", spec: invalid, want: manifestInvalid, body: text(`"manifest"`)},
		{name: "JSON array holding the manifest", spec: invalid, want: manifestInvalid,
			body: func(_ testing.TB, f *manifestFixture) []byte { return append(append([]byte("["), f.valid...), ']') }},
		{name: "schemaVersion as a string", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { m["schemaVersion"] = "2" })},
		{name: "schemaVersion 3", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { m["schemaVersion"] = 3 })},
		{name: "schemaVersion missing", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { delete(m, "schemaVersion") })},
		{name: "config null", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { m["config"] = nil })},
		{name: "config without mediaType", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { delete(m["config"].(map[string]any), "mediaType") })},
		{name: "layer without mediaType", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { delete(layer0(m), "mediaType") })},
		{name: "layer with a negative size", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { layer0(m)["size"] = -1 })},
		{name: "layer with a fractional size", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { layer0(m)["size"] = 1.5 })},
		{name: "layer digest of 63 hex digits", spec: invalid,
			want: []outcome{answer(http.StatusBadRequest, "MANIFEST_INVALID", "DIGEST_INVALID")},
			body: edit(func(m map[string]any) { l := layer0(m); l["digest"] = l["digest"].(string)[:70] })},
		{name: "layers is an object", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { m["layers"] = layer0(m) })},
		{name: "image manifest with a manifests field", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { m["manifests"] = []any{} })},
		{name: "subject with a malformed digest", spec: invalid, want: manifestInvalid,
			body: edit(func(m map[string]any) { m["subject"].(map[string]any)["digest"] = "sha256:xyz" })},
		{name: "index with layers", spec: invalid, want: manifestInvalid, contentType: mtIndex,
			body: edit(func(m map[string]any) { m["mediaType"] = mtIndex; m["manifests"] = []any{}; delete(m, "config") })},
		{name: "index child without mediaType", spec: invalid, want: manifestInvalid, contentType: mtIndex,
			body: func(t testing.TB, f *manifestFixture) []byte {
				return []byte(`{"schemaVersion":2,"mediaType":"` + mtIndex + `","manifests":[{"digest":"` + f.image.Config.Digest.String() + `","size":10}]}`)
			}},

		{name: "unknown media type in Content-Type", spec: types, want: manifestInvalid, contentType: "application/vnd.example.unknown+json",
			body: edit(func(m map[string]any) { delete(m, "mediaType") })},
		{name: "unknown media type in the document", spec: types, want: manifestInvalid, contentType: "-",
			body: edit(func(m map[string]any) { m["mediaType"] = "application/vnd.example.unknown+json" })},
		{name: "unknown media type in both", spec: types, want: manifestInvalid, contentType: "application/vnd.example.unknown+json",
			body: edit(func(m map[string]any) { m["mediaType"] = "application/vnd.example.unknown+json" })},
		{name: "Docker Content-Type on an OCI manifest", spec: types, want: manifestInvalid, contentType: mtDockerImage, body: valid},
		{name: "index mediaType under the image Content-Type", spec: types, want: manifestInvalid,
			body: func(testing.TB, *manifestFixture) []byte {
				return []byte(`{"schemaVersion":2,"mediaType":"` + mtIndex + `","manifests":[]}`)
			}},
		{name: "malformed Content-Type", spec: types, want: manifestInvalid, contentType: "application/", body: valid},
		{name: "no Content-Type and no mediaType", spec: types, want: manifestInvalid, contentType: "-",
			body: edit(func(m map[string]any) { delete(m, "mediaType") })},

		{name: "exactly 4 MiB is stored", spec: limit, want: []outcome{answer(http.StatusCreated)}, stored: true,
			body: func(t testing.TB, f *manifestFixture) []byte { return f.padded(t, maxManifest) }},
		{name: "exactly 4 MiB chunked is stored", spec: limit, want: []outcome{answer(http.StatusCreated)}, stored: true, framing: chunked,
			body: func(t testing.TB, f *manifestFixture) []byte { return f.padded(t, maxManifest) }},
		{name: "4 MiB plus one byte", spec: limit, want: tooLarge,
			body: func(t testing.TB, f *manifestFixture) []byte { return f.padded(t, maxManifest+1) }},
		{name: "4 MiB plus one byte chunked", spec: limit, want: tooLarge, framing: chunked,
			body: func(t testing.TB, f *manifestFixture) []byte { return f.padded(t, maxManifest+1) }},
		{name: "Content-Length claims 4 MiB plus one byte", spec: limit, want: tooLarge, framing: cutShort, body: valid, declared: overLimit},
		{name: "HTTP2 content-length claims 4 MiB plus one byte", spec: limit, want: tooLarge, framing: h2EndStream, body: valid, declared: overLimit},

		{name: "body cut short", spec: cut, want: manifestInvalid, framing: cutShort, body: firstHalf, declared: whole},
		{name: "HTTP2 stream ends early", spec: cut, want: manifestInvalid, framing: h2EndStream, body: firstHalf, declared: whole},
	}

	var rows []row
	for _, b := range table {
		rows = append(rows, row{name: b.name, spec: b.spec, run: func(t *testing.T) {
			f := e.newManifestFixture(t)
			body := b.body(t, f)
			ct := b.contentType
			switch ct {
			case "":
				ct = mtImage
			case "-":
				ct = ""
			}
			rq := request{method: http.MethodPut, target: manifestPath(f.repo, "t"), body: body, framing: b.framing}
			if ct != "" {
				rq.header = []string{"Content-Type", ct}
			}
			if b.declared != nil {
				rq.declared = int64(b.declared(f))
			}
			before := e.snapshot(t, f.repo, f.subject, "t", digest.FromBytes(body).String(), digest.FromBytes(f.valid).String())
			r := e.send(t, rq)
			wantAnswer(t, r, b.want...)
			if b.stored {
				got := e.send(t, request{method: http.MethodGet, target: manifestPath(f.repo, "t"), header: []string{"Accept", mtImage}})
				got.want(t, http.StatusOK)
				if !bytes.Equal(got.Body, body) {
					t.Errorf("stored manifest differs from the %d bytes pushed (%d served)", len(body), len(got.Body))
				}
				return
			}
			e.wantSame(t, before)
		}})
	}
	return rows
}

func (e *env) newManifestFixture(t testing.TB) *manifestFixture {
	t.Helper()
	f := &manifestFixture{repo: e.repo(t), subject: digest.FromBytes(randomBytes(t, 32))}
	f.image = e.buildImage(t, f.repo, &v1.Descriptor{MediaType: mtImage, Digest: f.subject, Size: 1234})
	f.valid = f.image.encode(t).body
	return f
}

// ---------------------------------------------------------------------------
// Manifest references

// refFixture is a repository with an image tagged base, a second image pushed by digest
// (to be an index child), and another repository holding a blob and an image of its own.
// Rejected manifests name base as their subject, so its referrers must stay empty.
type refFixture struct {
	e          *env
	repo       string
	base       manifest
	child      manifest
	other      string
	otherBlob  digest.Digest
	otherImage manifest
}

func (e *env) newRefFixture(t testing.TB) *refFixture {
	t.Helper()
	f := &refFixture{e: e, repo: e.repo(t), other: e.repo(t)}
	f.base = e.pushImage(t, f.repo, "base")
	f.child = e.buildImage(t, f.repo, nil).encode(t)
	e.pushManifest(t, f.repo, f.child.digest.String(), f.child)
	f.otherBlob = e.pushBlob(t, f.other, randomBytes(t, 40))
	f.otherImage = e.pushImage(t, f.other, "v1")
	return f
}

// image builds an image with subject base and n layers, all pushed.
func (f *refFixture) image(t testing.TB, n int) image {
	t.Helper()
	sub := f.base.desc()
	im := f.e.buildImage(t, f.repo, &sub)
	for range n - 1 {
		data := randomBytes(t, 200)
		im.Layers = append(im.Layers, v1.Descriptor{MediaType: mtLayer, Digest: f.e.pushBlob(t, f.repo, data), Size: int64(len(data))})
	}
	return im
}

// ghost is a descriptor of content that exists nowhere.
func ghost(t testing.TB, mediaType string) v1.Descriptor {
	data := randomBytes(t, 100)
	return v1.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

// refRow builds a manifest whose references are wrong and names the digests that are
// missing (none for a size mismatch).
type refRow struct {
	name  string
	spec  string
	build func(t testing.TB, f *refFixture) (manifest, []digest.Digest)
	want  outcome
}

func manifestRefRows(_ *testing.T, e *env) []row {
	const (
		sizes   = "Push: a descriptor's size must be the size of the content it names (image-spec descriptor: \"If the length of the retrieved content does not match the specified length, the content SHOULD NOT be trusted\"); Cerulean refuses such a manifest with 400 MANIFEST_INVALID and stores nothing: no tag, no manifest, no referrer"
		missing = "Push: \"A registry MAY reject a manifest ... with descriptors in other fields that reference a manifest or blob that does not exist in the registry. When a manifest is rejected for this reason, it MUST result in one or more MANIFEST_BLOB_UNKNOWN errors\"; Cerulean rejects with 400, the errors' detail names every missing digest (blob or child manifest, content held only by another repository counts as missing), and nothing is stored"
	)
	invalid := answer(http.StatusBadRequest, "MANIFEST_INVALID")
	unknown := answer(http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	resize := func(size func(int64) int64, which func(im *image) *v1.Descriptor) func(testing.TB, *refFixture) (manifest, []digest.Digest) {
		return func(t testing.TB, f *refFixture) (manifest, []digest.Digest) {
			im := f.image(t, 1)
			d := which(&im)
			d.Size = size(d.Size)
			return im.encode(t), nil
		}
	}
	plus1 := func(n int64) int64 { return n + 1 }
	layerOf := func(im *image) *v1.Descriptor { return &im.Layers[0] }
	configOf := func(im *image) *v1.Descriptor { return &im.Config }
	indexOf := func(mediaType string, children func(t testing.TB, f *refFixture) ([]v1.Descriptor, []digest.Digest)) func(testing.TB, *refFixture) (manifest, []digest.Digest) {
		return func(t testing.TB, f *refFixture) (manifest, []digest.Digest) {
			kids, gone := children(t, f)
			sub := f.base.desc()
			m := index(t, kids, &sub)
			if mediaType == mtDockerList {
				var ix v1.Index
				if err := json.Unmarshal(m.body, &ix); err != nil {
					t.Fatal(err)
				}
				ix.MediaType, ix.Subject = mtDockerList, nil
				m = encode(t, mtDockerList, ix)
			}
			return m, gone
		}
	}

	table := []refRow{
		{name: "layer size one byte over", spec: sizes, want: invalid, build: resize(plus1, layerOf)},
		{name: "layer size one byte under", spec: sizes, want: invalid, build: resize(func(n int64) int64 { return n - 1 }, layerOf)},
		{name: "layer size zero", spec: sizes, want: invalid, build: resize(func(int64) int64 { return 0 }, layerOf)},
		{name: "config size one byte over", spec: sizes, want: invalid, build: resize(plus1, configOf)},
		{name: "Docker manifest layer size off", spec: sizes, want: invalid,
			build: func(t testing.TB, f *refFixture) (manifest, []digest.Digest) {
				im := f.image(t, 1)
				im.MediaType, im.Subject, im.ArtifactType = mtDockerImage, nil, ""
				im.Config.MediaType = "application/vnd.docker.container.image.v1+json"
				im.Layers[0].MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
				im.Layers[0].Size++
				return im.encode(t), nil
			}},
		{name: "index child size one byte over", spec: sizes, want: invalid,
			build: indexOf(mtIndex, func(_ testing.TB, f *refFixture) ([]v1.Descriptor, []digest.Digest) {
				d := f.child.desc()
				d.Size++
				return []v1.Descriptor{f.base.desc(), d}, nil
			})},
		{name: "Docker list child size one byte under", spec: sizes, want: invalid,
			build: indexOf(mtDockerList, func(_ testing.TB, f *refFixture) ([]v1.Descriptor, []digest.Digest) {
				d := f.child.desc()
				d.Size--
				return []v1.Descriptor{d}, nil
			})},

		{name: "config and every layer missing", spec: missing, want: unknown,
			build: func(t testing.TB, f *refFixture) (manifest, []digest.Digest) {
				im := f.image(t, 1)
				im.Config = ghost(t, mtConfig)
				im.Layers = []v1.Descriptor{ghost(t, mtLayer), ghost(t, mtLayer)}
				return im.encode(t), []digest.Digest{im.Config.Digest, im.Layers[0].Digest, im.Layers[1].Digest}
			}},
		{name: "two of three layers missing", spec: missing, want: unknown,
			build: func(t testing.TB, f *refFixture) (manifest, []digest.Digest) {
				im := f.image(t, 3)
				im.Layers[0], im.Layers[2] = ghost(t, mtLayer), ghost(t, mtLayer)
				return im.encode(t), []digest.Digest{im.Layers[0].Digest, im.Layers[2].Digest}
			}},
		{name: "layer held only by another repository", spec: missing, want: unknown,
			build: func(t testing.TB, f *refFixture) (manifest, []digest.Digest) {
				im := f.image(t, 1)
				im.Layers = append(im.Layers, v1.Descriptor{MediaType: mtLayer, Digest: f.otherBlob, Size: 40})
				return im.encode(t), []digest.Digest{f.otherBlob}
			}},
		{name: "layer that is a manifest, not a blob", spec: missing, want: unknown,
			build: func(t testing.TB, f *refFixture) (manifest, []digest.Digest) {
				im := f.image(t, 1)
				im.Layers = append(im.Layers, v1.Descriptor{MediaType: mtLayer, Digest: f.child.digest, Size: int64(len(f.child.body))})
				return im.encode(t), []digest.Digest{f.child.digest}
			}},
		{name: "index with two missing children", spec: missing, want: unknown,
			build: indexOf(mtIndex, func(t testing.TB, f *refFixture) ([]v1.Descriptor, []digest.Digest) {
				a, b := ghost(t, mtImage), ghost(t, mtIndex)
				return []v1.Descriptor{a, f.child.desc(), b}, []digest.Digest{a.Digest, b.Digest}
			})},
		{name: "index child that is a blob, not a manifest", spec: missing, want: unknown,
			build: indexOf(mtIndex, func(t testing.TB, f *refFixture) ([]v1.Descriptor, []digest.Digest) {
				data := randomBytes(t, 60)
				d := v1.Descriptor{MediaType: mtImage, Digest: f.e.pushBlob(t, f.repo, data), Size: 60}
				return []v1.Descriptor{d}, []digest.Digest{d.Digest}
			})},
		{name: "index child stored in another repository", spec: missing, want: unknown,
			build: indexOf(mtIndex, func(t testing.TB, f *refFixture) ([]v1.Descriptor, []digest.Digest) {
				return []v1.Descriptor{f.child.desc(), f.otherImage.desc()}, []digest.Digest{f.otherImage.digest}
			})},
		{name: "Docker list with missing children", spec: missing, want: unknown,
			build: indexOf(mtDockerList, func(t testing.TB, f *refFixture) ([]v1.Descriptor, []digest.Digest) {
				a, b := ghost(t, mtDockerImage), ghost(t, mtDockerImage)
				return []v1.Descriptor{a, b}, []digest.Digest{a.Digest, b.Digest}
			})},
	}

	var rows []row
	for _, rr := range table {
		rows = append(rows, row{name: rr.name, spec: rr.spec, run: func(t *testing.T) {
			f := e.newRefFixture(t)
			m, gone := rr.build(t, f)
			before := e.snapshot(t, f.repo, f.base.digest, "base", "t", m.digest.String())
			r := e.putManifest(t, f.repo, "t", m)
			if r.Status != rr.want.status {
				wantAnswer(t, r, rr.want)
			} else if errs := checkError(t, r, rr.want.status, rr.want.codes...); len(gone) > 0 {
				wantMissing(t, r, errs, gone)
			}
			e.wantSame(t, before)
		}})
	}
	return rows
}

// wantMissing checks that the MANIFEST_BLOB_UNKNOWN errors' details name exactly the
// missing digests. A detail may be a digest, a list of digests, {"digest": d} (the
// form distribution uses) or a list of those.
func wantMissing(t testing.TB, r *reply, errs []wireError, want []digest.Digest) {
	t.Helper()
	var got []string
	for _, e := range errs {
		if e.Code != "MANIFEST_BLOB_UNKNOWN" {
			continue
		}
		ds, ok := detailDigests(e.Detail)
		if !ok {
			t.Errorf("MANIFEST_BLOB_UNKNOWN detail %s names no digests: %s", e.Detail, r)
		}
		got = append(got, ds...)
	}
	wantS := make([]string, len(want))
	for i, d := range want {
		wantS[i] = d.String()
	}
	slices.Sort(got)
	slices.Sort(wantS)
	if !slices.Equal(slices.Compact(got), wantS) {
		t.Errorf("missing digests named %q, want %q: %s", got, wantS, r)
	}
}

func detailDigests(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}, true
	}
	var obj struct {
		Digest string `json:"digest"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Digest != "" {
		return []string{obj.Digest}, true
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, false
	}
	var out []string
	for _, item := range list {
		ds, ok := detailDigests(item)
		if !ok {
			return nil, false
		}
		out = append(out, ds...)
	}
	return out, true
}

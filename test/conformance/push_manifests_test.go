package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// wantPushed checks a manifest PUT reply: 201, a Location that serves the manifest
// byte for byte with its type, and Docker-Content-Digest equal to its digest.
func (e *env) wantPushed(t testing.TB, r *reply, m manifest) {
	t.Helper()
	r.want(t, http.StatusCreated)
	wantHeader(t, r, "Docker-Content-Digest", m.Digest.String())
	got := e.doURL(t, http.MethodGet, r.location(t), nil,
		"Accept", mtImage, "Accept", mtIndex, "Accept", mtDockerImage, "Accept", mtDockerList)
	got.want(t, http.StatusOK)
	if !bytes.Equal(got.Body, m.Body) {
		t.Errorf("Location %s does not serve the pushed bytes", got.URL)
	}
	if ct := mediaType(got.Header.Get("Content-Type")); ct != m.MediaType {
		t.Errorf("Location %s: Content-Type %q, want %q", got.URL, ct, m.MediaType)
	}
	wantHeader(t, got, "Content-Length", strconv.Itoa(len(m.Body)))
}

// wantRejected checks that a refused manifest left nothing behind: neither the
// reference it was pushed to nor its digest resolves, and the tag is not listed.
func (e *env) wantRejected(t testing.TB, repo, ref string, m manifest) {
	t.Helper()
	e.wantNoManifest(t, repo, ref)
	e.wantNoManifest(t, repo, m.Digest.String())
	if r, tl := e.listTags(t, repo, ""); r.Status == http.StatusOK {
		for _, tag := range tl.Tags {
			if tag == ref {
				t.Errorf("rejected tag %q is listed: %s", ref, r)
			}
		}
	}
}

// largeAnnotations returns n annotations of 10000 bytes each, as the official runner
// builds its "large manifest".
func largeAnnotations(n int) map[string]string {
	a := map[string]string{}
	for i := range n {
		a[fmt.Sprintf("large-annotation-%d", i)] = strings.Repeat("A", 10000)
	}
	return a
}

// testPushManifests covers manifest uploads in the "Push" workflow category (end-7).
func testPushManifests(t *testing.T, e *env) {
	rows := []requirement{
		{
			name: "PUT by tag",
			spec: "Push/Pushing Manifests: a successful PUT MUST answer 201 with Location (a pullable manifest URL); Docker-Content-Digest MUST equal the manifest's digest",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				e.wantPushed(t, e.putManifest(t, repo, "v1", m), m)
				e.wantManifest(t, repo, "v1", m)
				e.wantManifest(t, repo, m.Digest.String(), m)
			},
		},
		{
			name: "PUT by digest",
			spec: "Push/Pushing Manifests: <reference> MAY be a digest; 201 with Location, and Docker-Content-Digest MUST equal the client-provided digest",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				e.wantPushed(t, e.putManifest(t, repo, m.Digest.String(), m), m)
				e.wantManifest(t, repo, m.Digest.String(), m)
			},
		},
		{
			name: "one manifest under several tags",
			spec: "Push/Pushing Manifests (Ginkgo suite \"PUT should accept a manifest upload\"): the same manifest PUT to tags test0..test3 MUST answer 201 with Location each time",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				for i := range 4 {
					e.wantPushed(t, e.putManifest(t, repo, fmt.Sprintf("test%d", i), m), m)
				}
				for i := range 4 {
					e.wantManifest(t, repo, fmt.Sprintf("test%d", i), m)
				}
			},
		},
		{
			name: "tag an existing manifest",
			spec: "Push/Pushing Manifests: PUT of an already stored manifest (pushed by digest) to a tag MUST answer 201; re-pushing it is idempotent",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, m.Digest.String(), m)
				e.wantPushed(t, e.putManifest(t, repo, "later", m), m)
				e.wantPushed(t, e.putManifest(t, repo, "later", m), m)
				e.wantPushed(t, e.putManifest(t, repo, m.Digest.String(), m), m)
				e.wantManifest(t, repo, "later", m)
			},
		},
		{
			name: "a tag moves to the newly pushed manifest",
			spec: "Push/Pushing Manifests: a tag is a pointer; PUT to an existing tag re-points it, and the previous manifest stays reachable by digest",
			run: func(t *testing.T) {
				repo := e.repo(t)
				old := e.pushImage(t, repo, "latest")
				cur := e.pushImage(t, repo, "latest")
				e.wantManifest(t, repo, "latest", cur)
				e.wantManifest(t, repo, old.Digest.String(), old)
			},
		},
		{
			name: "manifest without layers",
			spec: "Push/Pushing Manifests: the list of blobs MAY be empty (Ginkgo suite \"manifest upload with no layers\", runner data set \"no-layers\")",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{layers: -1})
				e.wantPushed(t, e.putManifest(t, repo, "emptylayer", m), m)
			},
		},
		{
			name: "manifest without a mediaType field",
			spec: "Push/Pushing Manifests: mediaType is a SHOULD; a manifest without it, pushed with its Content-Type, is accepted and served with that type",
			run: func(t *testing.T) {
				repo := e.repo(t)
				built := e.buildImage(t, repo, image{})
				var m v1.Manifest
				if err := json.Unmarshal(built.Body, &m); err != nil {
					t.Fatal(err)
				}
				m.MediaType = ""
				bare := encode(t, mtImage, m)
				e.wantPushed(t, e.putManifest(t, repo, "bare", bare), bare)
			},
		},
		{
			name: "unknown fields and descriptor data are stored byte for byte",
			spec: "Push/Pushing Manifests: the registry MUST store the manifest in the exact byte representation provided (runner data sets \"custom-fields\" and \"data-field\")",
			run: func(t *testing.T) {
				repo := e.repo(t)
				cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x-extra":` + fmt.Sprintf("%q", randomHex(t)) + `}`)
				cd := e.pushBlob(t, repo, cfg)
				layer := randomBytes(t, 100)
				ld := e.pushBlob(t, repo, layer)
				body := fmt.Sprintf("{\n  \"schemaVersion\": 2,\n  \"mediaType\": %q,\n  \"config\": {\"mediaType\": %q, \"digest\": %q, \"size\": %d, \"data\": %q, \"newUnspecifiedField\": \"aGVsbG8gd29ybGQ=\"},\n  \"layers\": [ {\"mediaType\": %q, \"digest\": %q, \"size\": %d} ],\n  \"org.example.custom\": {\"nested\": [1, 2.50, true, null]}\n}   \n",
					mtImage, mtConfig, cd, len(cfg), base64.StdEncoding.EncodeToString(cfg), mtLayer, ld, len(layer))
				m := manifest{MediaType: mtImage, Body: []byte(body), Digest: digest.FromString(body)}
				e.wantPushed(t, e.putManifest(t, repo, "custom", m), m)
			},
		},
		{
			name: "PUT with chunked transfer encoding",
			spec: "Push/Pushing Manifests (official runner): the manifest body arrives without a Content-Length, in chunked encoding, and MUST be accepted with 201",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				r := e.do(t, http.MethodPut, manifestPath(repo, "streamed"), streamed(m.Body), "Content-Type", m.MediaType)
				e.wantPushed(t, r, m)
			},
		},
		{
			name: "PUT without Content-Type takes the mediaType field",
			spec: "Push/Pushing Manifests: clients SHOULD set Content-Type; all manifests SHOULD carry mediaType, which then determines the type (Cerulean infers it) and the type served back",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				r := e.do(t, http.MethodPut, manifestPath(repo, "untyped"), m.Body)
				e.wantPushed(t, r, m)
			},
		},
		{
			name: "Content-Type contradicting mediaType is 400 MANIFEST_INVALID",
			spec: "Push/Pushing Manifests: if a manifest includes mediaType, clients MUST send it as Content-Type; a contradiction would be served back with a type clients must reject, so it is refused (400 MANIFEST_INVALID), storing nothing",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				r := e.do(t, http.MethodPut, manifestPath(repo, "confused"), m.Body, "Content-Type", mtIndex)
				wantError(t, r, http.StatusBadRequest, "MANIFEST_INVALID")
				e.wantRejected(t, repo, "confused", m)
			},
		},
		{
			name: "Content-Type parameters are ignored",
			spec: "Push/Pushing Manifests: the registry SHOULD ignore parameters on Content-Type; Pulling manifests: it SHOULD NOT include parameters on Content-Type",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				r := e.do(t, http.MethodPut, manifestPath(repo, "params"), m.Body, "Content-Type", m.MediaType+"; charset=utf-8")
				e.wantPushed(t, r, m)
				got := e.getManifest(t, http.MethodGet, repo, "params")
				got.want(t, http.StatusOK)
				wantHeader(t, got, "Content-Type", mtImage)
			},
		},
		{
			name: "manifest just under 4 MiB",
			spec: "Push/Pushing Manifests: registries SHOULD accept manifests of at least 4 megabytes (runner data set \"large-manifest\": 390 annotations of 10000 bytes)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{annotations: largeAnnotations(390)})
				if len(m.Body) >= 4<<20 {
					t.Fatalf("test manifest is %d bytes, meant to be under 4 MiB", len(m.Body))
				}
				e.wantPushed(t, e.putManifest(t, repo, "large", m), m)
				// The runner sends it without Content-Length.
				r := e.do(t, http.MethodPut, manifestPath(repo, "large-streamed"), streamed(m.Body), "Content-Type", m.MediaType)
				e.wantPushed(t, r, m)
			},
		},
		{
			name: "manifest over 4 MiB is refused",
			spec: "Push/Pushing Manifests: a registry enforcing a size limit SHOULD answer 413 to a manifest over it (or 400 MANIFEST_INVALID/SIZE_INVALID), with or without Content-Length; nothing is stored",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{annotations: largeAnnotations(430)})
				if len(m.Body) <= 4<<20 {
					t.Fatalf("test manifest is %d bytes, meant to be over 4 MiB", len(m.Body))
				}
				for _, body := range []any{m.Body, streamed(m.Body)} {
					r := e.do(t, http.MethodPut, manifestPath(repo, "huge"), body, "Content-Type", m.MediaType)
					if r.Status != http.StatusRequestEntityTooLarge {
						wantError(t, r, http.StatusBadRequest, "MANIFEST_INVALID", "SIZE_INVALID")
					}
					e.wantRejected(t, repo, "huge", m)
				}
			},
		},
		{
			name: "missing layer is 400 MANIFEST_BLOB_UNKNOWN",
			spec: "Push: a registry MAY reject a manifest whose descriptors reference blobs that do not exist; it MUST then answer with MANIFEST_BLOB_UNKNOWN errors (Cerulean rejects, with 400), storing nothing",
			run: func(t *testing.T) {
				repo := e.repo(t)
				built := e.buildImage(t, repo, image{})
				var m v1.Manifest
				if err := json.Unmarshal(built.Body, &m); err != nil {
					t.Fatal(err)
				}
				missing := randomBytes(t, 99)
				m.Layers = append(m.Layers, v1.Descriptor{MediaType: mtLayer, Digest: digest.FromBytes(missing), Size: 99})
				bad := encode(t, mtImage, m)
				wantError(t, e.putManifest(t, repo, "v1", bad), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				e.wantRejected(t, repo, "v1", bad)
			},
		},
		{
			name: "missing config is 400 MANIFEST_BLOB_UNKNOWN",
			spec: "Push: a manifest whose config blob does not exist is rejected with MANIFEST_BLOB_UNKNOWN (400), storing nothing",
			run: func(t *testing.T) {
				repo := e.repo(t)
				built := e.buildImage(t, repo, image{})
				var m v1.Manifest
				if err := json.Unmarshal(built.Body, &m); err != nil {
					t.Fatal(err)
				}
				m.Config.Digest = digest.FromBytes(randomBytes(t, 50))
				bad := encode(t, mtImage, m)
				wantError(t, e.putManifest(t, repo, bad.Digest.String(), bad), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				e.wantRejected(t, repo, bad.Digest.String(), bad)
			},
		},
		{
			name: "Docker manifest with a missing layer is 400 MANIFEST_BLOB_UNKNOWN",
			spec: "Push: blob references are checked for Docker schema 2 manifests too (MANIFEST_BLOB_UNKNOWN, 400, nothing stored)",
			run: func(t *testing.T) {
				repo := e.repo(t)
				built := e.buildImage(t, repo, image{mediaType: mtDockerImage})
				var m v1.Manifest
				if err := json.Unmarshal(built.Body, &m); err != nil {
					t.Fatal(err)
				}
				m.Layers[0].Digest = digest.FromBytes(randomBytes(t, 50))
				bad := encode(t, mtDockerImage, m)
				wantError(t, e.putManifest(t, repo, "v1", bad), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				e.wantRejected(t, repo, "v1", bad)
			},
		},
		{
			name: "non-distributable layers need not be pushed",
			spec: "Push (official runner data set \"non-distributable-layers\"): layers of a non-distributable media type with urls are not in the registry, and the manifest MUST still be accepted with 201",
			run: func(t *testing.T) {
				repo := e.repo(t)
				built := e.buildImage(t, repo, image{})
				var m v1.Manifest
				if err := json.Unmarshal(built.Body, &m); err != nil {
					t.Fatal(err)
				}
				for _, mt := range []string{"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "application/vnd.oci.image.layer.nondistributable.v1.tar"} {
					d := digest.FromBytes(randomBytes(t, 256))
					m.Layers = append([]v1.Descriptor{{MediaType: mt, Digest: d, Size: 123456,
						URLs: []string{"https://store.example.com/blobs/sha256/" + d.Encoded()}}}, m.Layers...)
				}
				nd := encode(t, mtImage, m)
				e.wantPushed(t, e.putManifest(t, repo, "non-distributable-image", nd), nd)
			},
		},
		{
			name: "digest mismatch when PUT by digest is 400 DIGEST_INVALID",
			spec: "Push/Pushing Manifests: Docker-Content-Digest MUST equal the client-provided digest, so a body that does not hash to the digest in the URL is refused (runner \"bad-digest-image\": 400, DIGEST_INVALID), storing nothing",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				bad := manifest{MediaType: m.MediaType, Body: append(append([]byte{}, m.Body...), "  "...)}
				bad.Digest = digest.FromBytes(bad.Body)
				wantError(t, e.putManifest(t, repo, m.Digest.String(), bad), http.StatusBadRequest, "DIGEST_INVALID")
				e.wantNoManifest(t, repo, m.Digest.String())
				e.wantNoManifest(t, repo, bad.Digest.String())
			},
		},
		{
			name: "malformed digest reference is 400",
			spec: "Push/Pushing Manifests: <reference> MUST be a digest or a tag; PUT to sha256:baddigeststring (runner) and sha256:totallywrong with body \"blablabla\" (Ginkgo suite) MUST answer 400 with a spec error code",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				wantError(t, e.putManifest(t, repo, "sha256:baddigeststring", m), http.StatusBadRequest, "DIGEST_INVALID", "MANIFEST_INVALID")
				junk := manifest{MediaType: mtImage, Body: []byte("blablabla"), Digest: digest.FromString("blablabla")}
				wantError(t, e.putManifest(t, repo, "sha256:totallywrong", junk), http.StatusBadRequest, legacySuiteCodes...)
				e.wantNoManifest(t, repo, m.Digest.String())
			},
		},
		{
			name: "invalid manifest body is 400 MANIFEST_INVALID",
			spec: "Error codes: a body that is not a manifest is refused with 400 and code-6 MANIFEST_INVALID; nothing is stored",
			run: func(t *testing.T) {
				repo := e.repo(t)
				e.pushImage(t, repo, "keep")
				junk := manifest{MediaType: mtImage, Body: []byte("blablabla"), Digest: digest.FromString("blablabla")}
				wantError(t, e.putManifest(t, repo, "junk", junk), http.StatusBadRequest, "MANIFEST_INVALID")
				e.wantRejected(t, repo, "junk", junk)
			},
		},
		{
			name: "128-character tag is valid",
			spec: "Pulling manifests: a tag MUST be at most 128 characters matching [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}; the longest such tag is accepted",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				tag := "A_" + strings.Repeat("b.-", 42)
				if len(tag) != 128 {
					t.Fatalf("tag length %d", len(tag))
				}
				e.wantPushed(t, e.putManifest(t, repo, tag, m), m)
				e.wantManifest(t, repo, tag, m)
			},
		},
		{
			name: "OCI index with existing children",
			spec: "Push/Pushing Manifests: an image index whose manifests exist is accepted with 201 and served with Content-Type application/vnd.oci.image.index.v1+json",
			run: func(t *testing.T) {
				repo := e.repo(t)
				a, b := e.buildImage(t, repo, image{}), e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, a.Digest.String(), a)
				e.pushManifest(t, repo, b.Digest.String(), b)
				ix := index(t, mtIndex, []manifest{a, b}, nil, "", nil)
				r := e.putManifest(t, repo, "multi", ix)
				e.wantPushed(t, r, ix)
				if s := r.Header.Get("OCI-Subject"); s != "" {
					t.Errorf("OCI-Subject %q on a manifest without subject", s)
				}
				e.wantManifest(t, repo, "multi", ix)
			},
		},
		{
			name: "empty OCI index",
			spec: "Push (runner data set \"empty-index\"): an index with an empty manifests list is valid and accepted with 201",
			run: func(t *testing.T) {
				repo := e.repo(t)
				ix := index(t, mtIndex, nil, nil, "", nil)
				e.wantPushed(t, e.putManifest(t, repo, "index", ix), ix)
			},
		},
		{
			name: "nested OCI index",
			spec: "Push (runner data set \"nested-index\"): an index may list other indexes; accepted with 201",
			run: func(t *testing.T) {
				repo := e.repo(t)
				var inner []manifest
				for range 2 {
					a, b := e.buildImage(t, repo, image{}), e.buildImage(t, repo, image{})
					e.pushManifest(t, repo, a.Digest.String(), a)
					e.pushManifest(t, repo, b.Digest.String(), b)
					ix := index(t, mtIndex, []manifest{a, b}, nil, "", nil)
					e.pushManifest(t, repo, ix.Digest.String(), ix)
					inner = append(inner, ix)
				}
				outer := index(t, mtIndex, inner, nil, "", nil)
				e.wantPushed(t, e.putManifest(t, repo, "index-of-index", outer), outer)
			},
		},
		{
			name: "OCI index with a missing child is 400 MANIFEST_BLOB_UNKNOWN",
			spec: "Push: an index referencing a manifest that does not exist MAY be rejected, and then MUST carry MANIFEST_BLOB_UNKNOWN (Cerulean requires children to exist: 400), storing nothing",
			run: func(t *testing.T) {
				repo := e.repo(t)
				a := e.pushImage(t, repo, "a")
				ghost := e.buildImage(t, repo, image{})
				ix := index(t, mtIndex, []manifest{a, ghost}, nil, "", nil)
				wantError(t, e.putManifest(t, repo, "broken", ix), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				e.wantRejected(t, repo, "broken", ix)
			},
		},
		{
			name: "Docker manifest list with existing children",
			spec: "Push/Pushing Manifests: a Docker manifest list whose children exist is accepted with 201 and served with its own Content-Type",
			run: func(t *testing.T) {
				repo := e.repo(t)
				a := e.buildImage(t, repo, image{mediaType: mtDockerImage})
				b := e.buildImage(t, repo, image{mediaType: mtDockerImage})
				e.pushManifest(t, repo, a.Digest.String(), a)
				e.pushManifest(t, repo, b.Digest.String(), b)
				list := index(t, mtDockerList, []manifest{a, b}, nil, "", nil)
				e.wantPushed(t, e.putManifest(t, repo, "list", list), list)
				r := e.do(t, http.MethodGet, manifestPath(repo, "list"), nil, "Accept", mtDockerList)
				r.want(t, http.StatusOK)
				wantHeader(t, r, "Content-Type", mtDockerList)
			},
		},
		{
			name: "Docker manifest list with a missing child is 400 MANIFEST_BLOB_UNKNOWN",
			spec: "Push: a manifest list whose child manifest does not exist is rejected with MANIFEST_BLOB_UNKNOWN (400), storing nothing",
			run: func(t *testing.T) {
				repo := e.repo(t)
				a := e.buildImage(t, repo, image{mediaType: mtDockerImage})
				e.pushManifest(t, repo, a.Digest.String(), a)
				ghost := e.buildImage(t, repo, image{mediaType: mtDockerImage})
				list := index(t, mtDockerList, []manifest{a, ghost}, nil, "", nil)
				wantError(t, e.putManifest(t, repo, "list", list), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				e.wantRejected(t, repo, "list", list)
			},
		},
		{
			name: "artifact manifest",
			spec: "Push (runner data set \"artifact\"): an image manifest with artifactType, the empty config and a non-layer blob is accepted with 201",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{artifactType: "application/vnd.example.oci.conformance.v1",
					configMediaType: mtEmptyJSON, configData: emptyJSON, layerMediaType: "application/vnd.example.oci.conformance.v1"})
				e.wantPushed(t, e.putManifest(t, repo, "artifact", m), m)
			},
		},
		{
			name: "manifest with subject gets OCI-Subject",
			spec: "Push/Pushing Manifests with Subject: a registry supporting the referrers API MUST answer a manifest with a subject field with header OCI-Subject: <subject digest>",
			run: func(t *testing.T) {
				repo := e.repo(t)
				subject := e.pushImage(t, repo, "image")
				sd := subject.desc()
				m := e.buildImage(t, repo, image{artifactType: "application/vnd.example.sbom", configMediaType: mtEmptyJSON, configData: emptyJSON, subject: &sd})
				r := e.putManifest(t, repo, m.Digest.String(), m)
				e.wantPushed(t, r, m)
				wantHeader(t, r, "OCI-Subject", subject.Digest.String())
			},
		},
		{
			name: "subject that does not exist yet",
			spec: "Push: a registry MUST initially accept an otherwise valid manifest whose subject does not exist, and still answer OCI-Subject",
			run: func(t *testing.T) {
				repo := e.repo(t)
				sd := v1.Descriptor{MediaType: mtImage, Digest: digest.FromString("missing content " + randomHex(t)), Size: 123}
				m := e.buildImage(t, repo, image{artifactType: "application/vnd.example.sig", configMediaType: mtEmptyJSON, configData: emptyJSON, subject: &sd})
				r := e.putManifest(t, repo, "tagged-artifact", m)
				e.wantPushed(t, r, m)
				wantHeader(t, r, "OCI-Subject", sd.Digest.String())
			},
		},
		{
			name: "index with subject gets OCI-Subject",
			spec: "Push/Pushing Manifests with Subject (runner data set \"index-with-subject\"): an index carrying a subject is answered with OCI-Subject",
			run: func(t *testing.T) {
				repo := e.repo(t)
				subject := e.pushImage(t, repo, "image")
				sd := subject.desc()
				child := e.buildImage(t, repo, image{})
				e.pushManifest(t, repo, child.Digest.String(), child)
				ix := index(t, mtIndex, []manifest{child}, &sd, "application/vnd.example.bundle", map[string]string{"k": "v"})
				r := e.putManifest(t, repo, ix.Digest.String(), ix)
				e.wantPushed(t, r, ix)
				wantHeader(t, r, "OCI-Subject", subject.Digest.String())
			},
		},
		{
			name: "sha512 image pushed by digest",
			spec: "Push/Pushing Manifests (runner data set \"sha512\"): a manifest PUT to a sha512 digest is accepted; Docker-Content-Digest MUST equal that client-provided digest",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{algo: digest.SHA512})
				e.wantPushed(t, e.putManifest(t, repo, m.Digest.String(), m), m)
				e.wantManifest(t, repo, m.Digest.String(), m)
				r := e.getManifest(t, http.MethodHead, repo, m.Digest.String())
				r.want(t, http.StatusOK)
				wantHeader(t, r, "Docker-Content-Digest", m.Digest.String())
			},
		},
		{
			name: "sha512 index of sha512 images",
			spec: "Push (runner data set \"sha512\"): an index digested with sha512 listing sha512 manifests is accepted by digest",
			run: func(t *testing.T) {
				repo := e.repo(t)
				a, b := e.buildImage(t, repo, image{algo: digest.SHA512}), e.buildImage(t, repo, image{algo: digest.SHA512})
				e.pushManifest(t, repo, a.Digest.String(), a)
				e.pushManifest(t, repo, b.Digest.String(), b)
				ix := index(t, mtIndex, []manifest{a, b}, nil, "", nil)
				ix.Digest = digest.SHA512.FromBytes(ix.Body)
				e.wantPushed(t, e.putManifest(t, repo, ix.Digest.String(), ix), ix)
			},
		},
	}

	// Invalid tags: the tag grammar is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
	for _, tag := range []string{"-leading-dash", ".leading-dot", "tag!bang", "A" + strings.Repeat("a", 128)} {
		name := tag
		if len(name) > 20 {
			name = fmt.Sprintf("%d characters", len(tag))
		}
		rows = append(rows, requirement{
			name: "invalid tag " + name + " is refused",
			spec: "Pulling manifests: a tag MUST match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}; a PUT to anything else is refused with 400 TAG_INVALID (Docker's code, accepted by the Ginkgo suite) or MANIFEST_INVALID, storing nothing",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := e.buildImage(t, repo, image{})
				wantError(t, e.putManifest(t, repo, tag, m), http.StatusBadRequest, "TAG_INVALID", "MANIFEST_INVALID")
				e.wantNoManifest(t, repo, m.Digest.String())
			},
		})
	}

	// Bodies that are JSON but not a manifest.
	notManifests := []struct {
		name, body string
		codes      []string
	}{
		{"empty object", `{}`, []string{"MANIFEST_INVALID"}},
		{"array", `[]`, []string{"MANIFEST_INVALID"}},
		{"schemaVersion 1", `{"schemaVersion":1,"mediaType":"` + mtImage + `","config":{},"layers":[]}`, []string{"MANIFEST_INVALID"}},
		{"no config", `{"schemaVersion":2,"mediaType":"` + mtImage + `","layers":[]}`, []string{"MANIFEST_INVALID"}},
		{"config of the wrong type", `{"schemaVersion":2,"mediaType":"` + mtImage + `","config":"nope","layers":[]}`, []string{"MANIFEST_INVALID"}},
		{"malformed layer digest", `{"schemaVersion":2,"mediaType":"` + mtImage + `","config":{"mediaType":"` + mtConfig + `","digest":"sha256:zzz","size":2},"layers":[]}`, []string{"MANIFEST_INVALID", "DIGEST_INVALID"}},
	}
	for _, nm := range notManifests {
		rows = append(rows, requirement{
			name: "not a manifest: " + nm.name,
			spec: "Error codes: a manifest that does not follow the OCI image spec is refused with 400 MANIFEST_INVALID; nothing is stored",
			run: func(t *testing.T) {
				repo := e.repo(t)
				m := manifest{MediaType: mtImage, Body: []byte(nm.body), Digest: digest.FromString(nm.body)}
				wantError(t, e.putManifest(t, repo, "bad", m), http.StatusBadRequest, nm.codes...)
				e.wantRejected(t, repo, "bad", m)
			},
		})
	}
	runRequirements(t, rows)
}

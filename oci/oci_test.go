package oci

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"library/alpine", true},
		{"a.b_c__d-e---f/g", true},
		{"0/1/2", true},
		{strings.Repeat("a", MaxNameLength), true},
		{strings.Repeat("a", MaxNameLength+1), false},
		{"", false},
		{"A", false},
		{"a/", false},
		{"/a", false},
		{"a//b", false},
		{"a/../b", false},
		{"a_", false},
		{"a___b", false},
		{"_catalog", false},
		{"a b", false},
	} {
		if err := ValidateName(tt.name); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidName)) {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestValidateTag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		tag string
		ok  bool
	}{
		{"latest", true},
		{"v1.2.3-rc_1", true},
		{"_x", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{".x", false},
		{"-x", false},
		{"a:b", false},
		{"a/b", false},
	} {
		if err := ValidateTag(tt.tag); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidTag)) {
			t.Errorf("ValidateTag(%q) = %v, want ok=%v", tt.tag, err, tt.ok)
		}
	}
}

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestParseManifest(t *testing.T) {
	t.Parallel()
	image := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
		"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d1 + `","size":2},
		"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d2 + `","size":3}]}`
	for _, tt := range []struct {
		name         string
		contentType  string
		body         string
		wantErr      bool
		mediaType    string
		artifactType string
		blobs        int
		children     int
		subject      bool
	}{
		{name: "image", contentType: MediaTypeImageManifest, body: image, mediaType: MediaTypeImageManifest,
			artifactType: MediaTypeImageConfig, blobs: 2},
		{name: "image, type from body", body: image, mediaType: MediaTypeImageManifest, artifactType: MediaTypeImageConfig, blobs: 2},
		{name: "type mismatch", contentType: MediaTypeDockerManifest, body: image, wantErr: true},
		{name: "artifact with subject", contentType: MediaTypeImageManifest,
			body: `{"schemaVersion":2,"artifactType":"application/x.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + d1 + `","size":2},
			"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d2 + `","size":5}}`,
			mediaType: MediaTypeImageManifest, artifactType: "application/x.sig", blobs: 1, subject: true},
		{name: "foreign layer not required", contentType: MediaTypeDockerManifest,
			body: `{"schemaVersion":2,"config":{"mediaType":"` + MediaTypeDockerConfig + `","digest":"` + d1 + `","size":2},
			"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"` + d2 + `","size":3,"urls":["https://example.com/l"]}]}`,
			mediaType: MediaTypeDockerManifest, artifactType: MediaTypeDockerConfig, blobs: 1},
		{name: "index", contentType: MediaTypeImageIndex,
			body:      `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d1 + `","size":7}]}`,
			mediaType: MediaTypeImageIndex, children: 1},
		{name: "docker list", contentType: MediaTypeDockerList,
			body:      `{"schemaVersion":2,"mediaType":"` + MediaTypeDockerList + `","manifests":[]}`,
			mediaType: MediaTypeDockerList},
		{name: "not json", contentType: MediaTypeImageManifest, body: `{`, wantErr: true},
		{name: "no media type", body: `{"schemaVersion":2}`, wantErr: true},
		{name: "schema 1", contentType: MediaTypeImageManifest, body: `{"schemaVersion":1}`, wantErr: true},
		{name: "unknown type", contentType: "application/x.unknown", body: `{"schemaVersion":2}`, wantErr: true},
		{name: "no config", contentType: MediaTypeImageManifest, body: `{"schemaVersion":2,"layers":[]}`, wantErr: true},
		{name: "bad layer digest", contentType: MediaTypeImageManifest,
			body:    `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + d1 + `","size":1},"layers":[{"mediaType":"a/b","digest":"sha256:xyz","size":1}]}`,
			wantErr: true},
		{name: "negative size", contentType: MediaTypeImageManifest,
			body:    `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + d1 + `","size":-1},"layers":[]}`,
			wantErr: true},
		{name: "index with layers", contentType: MediaTypeImageIndex, body: `{"schemaVersion":2,"manifests":[],"layers":[]}`, wantErr: true},
		{name: "bad subject", contentType: MediaTypeImageIndex, body: `{"schemaVersion":2,"manifests":[],"subject":{"mediaType":"a/b","digest":"x","size":1}}`, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest(tt.contentType, []byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidManifest) {
					t.Fatalf("err = %v, want ErrInvalidManifest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != tt.mediaType || m.ArtifactType != tt.artifactType || len(m.Blobs) != tt.blobs ||
				len(m.Children) != tt.children || (m.Subject != nil) != tt.subject {
				t.Errorf("got %+v", m)
			}
		})
	}
}

package metatest

import (
	"cmp"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The ACR metadata (meta.ACR) and the changeable attributes, as every operation of the
// store honours them. Time orders are checked against the times the store itself reports,
// so nothing depends on the clock.

var (
	yes, no = true, false
	// Updates setting one attribute to false, by name.
	lockWrite  = meta.AttributesUpdate{WriteEnabled: &no}
	lockDelete = meta.AttributesUpdate{DeleteEnabled: &no}
	lockRead   = meta.AttributesUpdate{ReadEnabled: &no}
	lockList   = meta.AttributesUpdate{ListEnabled: &no}
)

func (s *store) updateRepo(repo meta.Repo, u meta.AttributesUpdate) {
	s.t.Helper()
	if err := s.UpdateRepositoryAttributes(s.t.Context(), repo, u); err != nil {
		s.t.Fatalf("UpdateRepositoryAttributes(%v): %v", repo, err)
	}
}

func (s *store) updateTag(repo meta.Repo, tag string, u meta.AttributesUpdate) {
	s.t.Helper()
	if err := s.UpdateTagAttributes(s.t.Context(), repo, tag, u); err != nil {
		s.t.Fatalf("UpdateTagAttributes(%v:%s): %v", repo, tag, err)
	}
}

func (s *store) updateManifest(m *meta.Manifest, u meta.AttributesUpdate) {
	s.t.Helper()
	if err := s.UpdateManifestAttributes(s.t.Context(), m.Repo, m.Digest, u); err != nil {
		s.t.Fatalf("UpdateManifestAttributes(%v@%s): %v", m.Repo, m.Digest, err)
	}
}

func testAttributes(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	r := repo("r")
	m := image(r, "m")
	s.put(m, "v1")
	s.put(m, "v2")

	repoInfo := func() *meta.RepositoryInfo {
		info, err := s.RepositoryInfo(ctx, r)
		wantErr(t, "RepositoryInfo", err, nil)
		return info
	}
	tagInfo := func() *meta.TagInfo {
		info, err := s.TagInfo(ctx, r, "v1")
		wantErr(t, "TagInfo", err, nil)
		return info
	}
	manifestInfo := func() *meta.ManifestInfo {
		info, err := s.ManifestInfo(ctx, r, m.Digest)
		wantErr(t, "ManifestInfo", err, nil)
		return info
	}
	kinds := []struct {
		name   string
		get    func() (meta.Attributes, int64) // attributes and last update time
		update func(meta.AttributesUpdate) error
	}{
		{"repository", func() (meta.Attributes, int64) {
			i := repoInfo()
			return i.Attributes, i.UpdatedAt.UnixNano()
		}, func(u meta.AttributesUpdate) error { return s.UpdateRepositoryAttributes(ctx, r, u) }},
		{"tag", func() (meta.Attributes, int64) {
			i := tagInfo()
			return i.Attributes, i.UpdatedAt.UnixNano()
		}, func(u meta.AttributesUpdate) error { return s.UpdateTagAttributes(ctx, r, "v1", u) }},
		{"manifest", func() (meta.Attributes, int64) {
			i := manifestInfo()
			return i.Attributes, i.UpdatedAt.UnixNano()
		}, func(u meta.AttributesUpdate) error { return s.UpdateManifestAttributes(ctx, r, m.Digest, u) }},
	}
	for _, k := range kinds {
		got, updated := k.get()
		if got != meta.DefaultAttributes {
			t.Errorf("%s: new attributes %+v, want all enabled", k.name, got)
		}
		wantErr(t, k.name+": empty update", k.update(meta.AttributesUpdate{}), nil)
		if got, u := k.get(); got != meta.DefaultAttributes || u != updated {
			t.Errorf("%s: after an empty update: %+v, updated %d; want unchanged (%d)", k.name, got, u, updated)
		}
		want := meta.DefaultAttributes
		for _, step := range []struct {
			u     meta.AttributesUpdate
			apply func(*meta.Attributes)
		}{
			{lockWrite, func(a *meta.Attributes) { a.WriteEnabled = false }},
			{lockDelete, func(a *meta.Attributes) { a.DeleteEnabled = false }},
			{meta.AttributesUpdate{ReadEnabled: &no, ListEnabled: &no}, func(a *meta.Attributes) { a.ReadEnabled, a.ListEnabled = false, false }},
			{meta.AttributesUpdate{WriteEnabled: &yes, ListEnabled: &yes}, func(a *meta.Attributes) { a.WriteEnabled, a.ListEnabled = true, true }},
			{meta.AttributesUpdate{DeleteEnabled: &yes, WriteEnabled: &yes, ReadEnabled: &yes, ListEnabled: &yes}, func(a *meta.Attributes) { *a = meta.DefaultAttributes }},
		} {
			wantErr(t, k.name+": update", k.update(step.u), nil)
			step.apply(&want)
			if got, _ := k.get(); got != want {
				t.Errorf("%s: after update %+v: %+v, want %+v", k.name, step.u, got, want)
			}
		}
	}
	// The attributes of one thing are its own: a tag's are not its manifest's.
	s.updateTag(r, "v1", lockDelete)
	if a := manifestInfo().Attributes; a != meta.DefaultAttributes {
		t.Errorf("manifest attributes after locking its tag: %+v", a)
	}
	if info, err := s.TagInfo(ctx, r, "v2"); err != nil || info.Attributes != meta.DefaultAttributes {
		t.Errorf("TagInfo of another tag after locking v1: %+v, %v", info, err)
	}
	if a := repoInfo().Attributes; a != meta.DefaultAttributes {
		t.Errorf("repository attributes after locking a tag: %+v", a)
	}
	// A tag moved or pushed again keeps its attributes; so does a manifest pushed again.
	s.updateTag(r, "v2", lockRead)
	s.put(image(r, "other"), "v2")
	if info, err := s.TagInfo(ctx, r, "v2"); err != nil || info.Attributes.ReadEnabled {
		t.Errorf("TagInfo after moving a read-locked tag: %+v, %v", info, err)
	}
	s.updateManifest(m, lockList)
	s.put(m, "v3")
	if a := manifestInfo().Attributes; a.ListEnabled {
		t.Errorf("manifest attributes after a re-push: %+v, want listEnabled kept false", a)
	}

	// A write-locked manifest pushed again (under a new tag) keeps its last update time.
	s.updateManifest(m, lockWrite)
	locked := manifestInfo().UpdatedAt
	s.put(m, "v4")
	if got := manifestInfo().UpdatedAt; !got.Equal(locked) {
		t.Errorf("write-locked manifest pushed again: updated %v, want %v kept", got, locked)
	}

	// Not found.
	missing := meta.AttributesUpdate{WriteEnabled: &no}
	wantErr(t, "UpdateTagAttributes of an unknown tag", s.UpdateTagAttributes(ctx, r, "nope", missing), meta.ErrTagNotFound)
	wantErr(t, "UpdateManifestAttributes of an unknown manifest", s.UpdateManifestAttributes(ctx, r, digest.FromString("nope"), missing), meta.ErrManifestNotFound)
	wantErr(t, "UpdateRepositoryAttributes of an unknown repository", s.UpdateRepositoryAttributes(ctx, repo("nope"), missing), meta.ErrRepositoryNotFound)
	wantErr(t, "UpdateTagAttributes in another registry", s.UpdateTagAttributes(ctx, repoIn(reg+"-other")("r"), "v1", missing), meta.ErrTagNotFound)
	_, err := s.TagInfo(ctx, r, "nope")
	wantErr(t, "TagInfo of an unknown tag", err, meta.ErrTagNotFound)
	_, err = s.ManifestInfo(ctx, r, digest.FromString("nope"))
	wantErr(t, "ManifestInfo of an unknown manifest", err, meta.ErrManifestNotFound)
	_, err = s.RepositoryInfo(ctx, repo("nope"))
	wantErr(t, "RepositoryInfo of an unknown repository", err, meta.ErrRepositoryNotFound)
	// A repository holding only blobs is not one yet.
	s.link(repo("blobs-only"), blob("x"))
	_, err = s.RepositoryInfo(ctx, repo("blobs-only"))
	wantErr(t, "RepositoryInfo of a repository holding only blobs", err, meta.ErrRepositoryNotFound)
	wantErr(t, "UpdateRepositoryAttributes of a repository holding only blobs",
		s.UpdateRepositoryAttributes(ctx, repo("blobs-only"), missing), meta.ErrRepositoryNotFound)
}

func testRepositoryInfo(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	r := repo("a/b")
	a, b := image(r, "a"), image(r, "b")
	s.put(a, "v1")
	s.put(a, "v2")
	s.put(b, "")
	s.put(index(r, "idx", a, b), "latest")
	s.updateTag(r, "v2", lockList) // counted though not listed
	info, err := s.RepositoryInfo(ctx, r)
	wantErr(t, "RepositoryInfo", err, nil)
	if info.Repo != r || info.ManifestCount != 3 || info.TagCount != 3 {
		t.Errorf("RepositoryInfo = %+v, want %v with 3 manifests and 3 tags", info, r)
	}
	if info.CreatedAt.IsZero() || info.UpdatedAt.Before(info.CreatedAt) {
		t.Errorf("RepositoryInfo times: created %v, updated %v", info.CreatedAt, info.UpdatedAt)
	}
}

func testTagInfos(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	r := repo("r")
	a, b := image(r, "a"), image(r, "b")
	// Pushed out of name order, one moved, so that name and time orders differ.
	for _, p := range []struct {
		m   *meta.Manifest
		tag string
	}{{a, "v3"}, {b, "v1"}, {a, "latest"}, {b, "v2"}, {a, "v10"}, {a, "v1"}, {b, "hidden"}, {a, "0"}} {
		s.put(p.m, p.tag)
	}
	s.updateTag(r, "hidden", lockList)
	s.put(image(r, "untagged"), "")

	infos, err := s.TagInfos(ctx, r, meta.ListOptions{})
	wantErr(t, "TagInfos", err, nil)
	names := tagNames(infos)
	sameStrings(t, "TagInfos by name", names, []string{"0", "latest", "v1", "v10", "v2", "v3"})
	for _, info := range infos {
		want, err := s.TagInfo(ctx, r, info.Name)
		wantErr(t, "TagInfo", err, nil)
		if *want != info {
			t.Errorf("TagInfos entry %+v, TagInfo %+v", info, *want)
		}
		if m, _ := s.TaggedManifest(ctx, r, info.Name); m == nil || m.Digest != info.Digest {
			t.Errorf("TagInfos %s digest %s, TaggedManifest %v", info.Name, info.Digest, m)
		}
	}
	asc := slices.Clone(infos)
	slices.SortFunc(asc, func(x, y meta.TagInfo) int {
		return cmp.Or(x.UpdatedAt.Compare(y.UpdatedAt), cmp.Compare(x.Name, y.Name))
	})
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	byDigest := func(d digest.Digest) (out []string) {
		for _, i := range infos {
			if i.Digest == d {
				out = append(out, i.Name)
			}
		}
		return out
	}
	for _, o := range []struct {
		name  string
		order meta.Order
		want  []string
	}{
		{"name", meta.OrderName, names},
		{"timeasc", meta.OrderTimeAsc, tagNames(asc)},
		{"timedesc", meta.OrderTimeDesc, tagNames(desc)},
	} {
		checkInfoPages(t, "TagInfos "+o.name, o.want, func(after string, limit int) ([]string, error) {
			got, err := s.TagInfos(ctx, r, meta.ListOptions{Order: o.order, After: after, Limit: limit})
			return tagNames(got), err
		})
		var want []string
		for _, n := range o.want {
			if slices.Contains(byDigest(b.Digest), n) {
				want = append(want, n)
			}
		}
		checkInfoPages(t, "TagInfos "+o.name+" of one digest", want, func(after string, limit int) ([]string, error) {
			got, err := s.TagInfos(ctx, r, meta.ListOptions{Order: o.order, After: after, Limit: limit, Digest: b.Digest})
			return tagNames(got), err
		})
		// An unlisted tag may be the cursor; a missing one may be, in name order only.
		_, err := s.TagInfos(ctx, r, meta.ListOptions{Order: o.order, After: "hidden"})
		wantErr(t, "TagInfos after an unlisted tag", err, nil)
		_, err = s.TagInfos(ctx, r, meta.ListOptions{Order: o.order, After: "v1-missing"})
		if o.order == meta.OrderName {
			wantErr(t, "TagInfos by name after a missing tag", err, nil)
		} else {
			wantErr(t, "TagInfos "+o.name+" after a missing tag", err, meta.ErrTagNotFound)
		}
	}

	_, err = s.TagInfos(ctx, repo("nope"), meta.ListOptions{})
	wantErr(t, "TagInfos of an unknown repository", err, meta.ErrRepositoryNotFound)
	s.put(image(repo("untagged"), "u"), "")
	infos, err = s.TagInfos(ctx, repo("untagged"), meta.ListOptions{Order: meta.OrderTimeDesc})
	if err != nil || len(infos) != 0 {
		t.Errorf("TagInfos of a repository without tags = %v, %v; want none", infos, err)
	}
	infos, err = s.TagInfos(ctx, r, meta.ListOptions{Digest: digest.FromString("none")})
	if err != nil || len(infos) != 0 {
		t.Errorf("TagInfos of a digest without tags = %v, %v; want none", infos, err)
	}
}

func tagNames(infos []meta.TagInfo) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.Name)
	}
	return out
}

func manifestDigests(infos []meta.ManifestInfo) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.Digest.String())
	}
	return out
}

// checkInfoPages walks list page by page for several page sizes, each page starting
// after the last item of the previous one, and checks the pages add up to want.
func checkInfoPages(t *testing.T, op string, want []string, list func(after string, limit int) ([]string, error)) {
	t.Helper()
	for _, limit := range []int{0, 1, 2, 3, len(want), len(want) + 1} {
		var got []string
		after := ""
		for range len(want) + 2 {
			page, err := list(after, limit)
			if err != nil {
				t.Fatalf("%s after %q limit %d: %v", op, after, limit, err)
			}
			got = append(got, page...)
			if limit <= 0 || len(page) < limit {
				break
			}
			after = page[len(page)-1]
		}
		if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("%s in pages of %d = %q, want %q", op, limit, got, want)
		}
	}
}

func testManifestInfos(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	r := repo("r")
	cfg, l1, l2 := blob("config"), blob("l1"), blob("l2")
	s.link(r, cfg, l1, l2)
	amd := image(r, "amd", cfg, l1, l2)
	arm := image(r, "arm", cfg, l1)
	arm.Architecture = "arm64"
	idx := index(r, "idx", amd, arm)
	sig := referrer(r, "sig", amd.Digest, sigType)
	hidden := image(r, "hidden")
	s.put(amd, "b")
	s.put(arm, "")
	s.put(idx, "latest")
	s.put(amd, "a")
	s.put(sig, "")
	s.put(hidden, "")
	s.updateManifest(hidden, lockList)
	s.updateTag(r, "b", lockList) // an unlisted tag is left out of the manifest's tags

	got, err := s.ManifestInfo(ctx, r, amd.Digest)
	wantErr(t, "ManifestInfo", err, nil)
	if got.Digest != amd.Digest || got.MediaType != ociManifest || got.ConfigMediaType != ociConfig ||
		got.Size != amd.Size || got.OS != "linux" || got.Architecture != "amd64" ||
		got.Attributes != meta.DefaultAttributes || got.CreatedAt.IsZero() || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("ManifestInfo(image) = %+v", got)
	}
	if want := amd.Size + blobSize(cfg) + blobSize(l1) + blobSize(l2); got.ImageSize != want {
		t.Errorf("ManifestInfo(image).ImageSize = %d, want %d (manifest, config and layers)", got.ImageSize, want)
	}
	sameStrings(t, "ManifestInfo(image).Tags", got.Tags, []string{"a"})
	if got.Children != nil {
		t.Errorf("ManifestInfo(image).Children = %v, want none", got.Children)
	}

	got, err = s.ManifestInfo(ctx, r, idx.Digest)
	wantErr(t, "ManifestInfo(index)", err, nil)
	if want := idx.Size + amd.Size + arm.Size; got.ImageSize != want {
		t.Errorf("ManifestInfo(index).ImageSize = %d, want %d (index and children)", got.ImageSize, want)
	}
	wantChildren := []meta.Platform{
		{Digest: amd.Digest, OS: "linux", Architecture: "amd64"},
		{Digest: arm.Digest, OS: "linux", Architecture: "arm64"},
	}
	slices.SortFunc(wantChildren, func(x, y meta.Platform) int { return cmp.Compare(x.Digest, y.Digest) })
	if !slices.Equal(got.Children, wantChildren) {
		t.Errorf("ManifestInfo(index).Children = %+v, want %+v", got.Children, wantChildren)
	}
	sameStrings(t, "ManifestInfo(index).Tags", got.Tags, []string{"latest"})
	if got.OS != "" || got.Architecture != "" || got.ConfigMediaType != "" {
		t.Errorf("ManifestInfo(index) platform %q/%q config %q, want none", got.OS, got.Architecture, got.ConfigMediaType)
	}
	got, err = s.ManifestInfo(ctx, r, hidden.Digest)
	if err != nil || got.Attributes.ListEnabled || got.Tags != nil {
		t.Errorf("ManifestInfo(unlisted, untagged) = %+v, %v", got, err)
	}

	infos, err := s.ManifestInfos(ctx, r, meta.ListOptions{})
	wantErr(t, "ManifestInfos", err, nil)
	byDigest := []string{amd.Digest.String(), arm.Digest.String(), idx.Digest.String(), sig.Digest.String()}
	slices.Sort(byDigest)
	sameStrings(t, "ManifestInfos by digest", manifestDigests(infos), byDigest)
	for _, info := range infos {
		one, err := s.ManifestInfo(ctx, r, info.Digest)
		wantErr(t, "ManifestInfo", err, nil)
		if !reflect.DeepEqual(*one, info) {
			t.Errorf("ManifestInfos entry %+v, ManifestInfo %+v", info, *one)
		}
	}
	asc := slices.Clone(infos)
	slices.SortFunc(asc, func(x, y meta.ManifestInfo) int {
		return cmp.Or(x.UpdatedAt.Compare(y.UpdatedAt), cmp.Compare(x.Digest, y.Digest))
	})
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	for _, o := range []struct {
		name  string
		order meta.Order
		want  []string
	}{
		{"digest", meta.OrderName, byDigest},
		{"timeasc", meta.OrderTimeAsc, manifestDigests(asc)},
		{"timedesc", meta.OrderTimeDesc, manifestDigests(desc)},
	} {
		checkInfoPages(t, "ManifestInfos "+o.name, o.want, func(after string, limit int) ([]string, error) {
			got, err := s.ManifestInfos(ctx, r, meta.ListOptions{Order: o.order, After: after, Limit: limit})
			return manifestDigests(got), err
		})
		_, err := s.ManifestInfos(ctx, r, meta.ListOptions{Order: o.order, After: digest.FromString("missing").String()})
		if o.order == meta.OrderName {
			wantErr(t, "ManifestInfos by digest after a missing digest", err, nil)
		} else {
			wantErr(t, "ManifestInfos "+o.name+" after a missing digest", err, meta.ErrManifestNotFound)
		}
	}
	_, err = s.ManifestInfos(ctx, repo("nope"), meta.ListOptions{})
	wantErr(t, "ManifestInfos of an unknown repository", err, meta.ErrRepositoryNotFound)
}

// testLocks checks every write and delete against every attribute that may forbid it:
// a refused operation returns ErrDisallowed and changes nothing; the same operation
// succeeds once the lock is lifted.
func testLocks(t *testing.T, newStore func(*testing.T) *store) {
	type fixture struct {
		s       *store
		r       meta.Repo
		m, next *meta.Manifest // m is tagged "v1" and "v2"; next is pushed, untagged
		layer   digest.Digest
	}
	type op struct {
		name string
		run  func(f *fixture) error
	}
	push := op{"push to v1", func(f *fixture) error { return f.s.PutManifest(f.s.t.Context(), f.next, "v1") }}
	pushNew := op{"push a new tag", func(f *fixture) error { return f.s.PutManifest(f.s.t.Context(), f.next, "new") }}
	pushUntagged := op{"push untagged", func(f *fixture) error { return f.s.PutManifest(f.s.t.Context(), image(f.r, "third"), "") }}
	deleteTag := op{"delete tag v1", func(f *fixture) error { return f.s.DeleteTag(f.s.t.Context(), f.r, "v1") }}
	deleteOtherTag := op{"delete tag v2", func(f *fixture) error { return f.s.DeleteTag(f.s.t.Context(), f.r, "v2") }}
	deleteManifest := op{"delete manifest", func(f *fixture) error { return f.s.DeleteManifest(f.s.t.Context(), f.r, f.m.Digest) }}
	deleteOther := op{"delete untagged manifest", func(f *fixture) error { return f.s.DeleteManifest(f.s.t.Context(), f.r, f.next.Digest) }}
	deleteRepo := op{"delete repository", func(f *fixture) error {
		_, err := f.s.DeleteRepository(f.s.t.Context(), f.r)
		return err
	}}
	unlink := op{"unlink blob", func(f *fixture) error { return f.s.UnlinkBlob(f.s.t.Context(), f.r, f.layer) }}
	all := []op{push, pushNew, pushUntagged, deleteTag, deleteOtherTag, deleteManifest, deleteOther, deleteRepo, unlink}

	for _, tc := range []struct {
		name    string
		lock    func(f *fixture, u meta.AttributesUpdate)
		u       meta.AttributesUpdate
		refused []op
	}{
		{"repository write", func(f *fixture, u meta.AttributesUpdate) { f.s.updateRepo(f.r, u) }, lockWrite,
			[]op{push, pushNew, pushUntagged, deleteTag, deleteOtherTag, deleteManifest, deleteOther, deleteRepo, unlink}},
		{"repository delete", func(f *fixture, u meta.AttributesUpdate) { f.s.updateRepo(f.r, u) }, lockDelete,
			[]op{deleteRepo}},
		{"repository read", func(f *fixture, u meta.AttributesUpdate) { f.s.updateRepo(f.r, u) }, lockRead, nil},
		{"repository list", func(f *fixture, u meta.AttributesUpdate) { f.s.updateRepo(f.r, u) }, lockList, nil},
		{"tag write", func(f *fixture, u meta.AttributesUpdate) { f.s.updateTag(f.r, "v1", u) }, lockWrite,
			[]op{push, deleteTag, deleteManifest, deleteRepo}},
		{"tag delete", func(f *fixture, u meta.AttributesUpdate) { f.s.updateTag(f.r, "v1", u) }, lockDelete,
			[]op{deleteTag, deleteManifest, deleteRepo}},
		{"tag read", func(f *fixture, u meta.AttributesUpdate) { f.s.updateTag(f.r, "v1", u) }, lockRead, nil},
		{"tag list", func(f *fixture, u meta.AttributesUpdate) { f.s.updateTag(f.r, "v1", u) }, lockList, nil},
		{"manifest write", func(f *fixture, u meta.AttributesUpdate) { f.s.updateManifest(f.m, u) }, lockWrite,
			[]op{deleteManifest, deleteRepo}},
		{"manifest delete", func(f *fixture, u meta.AttributesUpdate) { f.s.updateManifest(f.m, u) }, lockDelete,
			[]op{deleteManifest, deleteRepo}},
		{"manifest read", func(f *fixture, u meta.AttributesUpdate) { f.s.updateManifest(f.m, u) }, lockRead, nil},
		{"manifest list", func(f *fixture, u meta.AttributesUpdate) { f.s.updateManifest(f.m, u) }, lockList, nil},
	} {
		for _, o := range all {
			t.Run(tc.name+"/"+o.name, func(t *testing.T) {
				s := newStore(t)
				r := repoIn(registryID(t))("r")
				f := &fixture{s: s, r: r, m: image(r, "m", blob("layer")), next: image(r, "next"), layer: blob("layer")}
				s.link(r, f.layer)
				s.put(f.m, "v1")
				s.put(f.m, "v2")
				s.put(f.next, "")
				tc.lock(f, tc.u)
				before := snapshot(t, s, r)
				err := o.run(f)
				if !slices.ContainsFunc(tc.refused, func(x op) bool { return x.name == o.name }) {
					wantErr(t, o.name, err, nil)
					return
				}
				wantErr(t, o.name, err, meta.ErrDisallowed)
				if after := snapshot(t, s, r); !slices.Equal(before, after) {
					t.Errorf("%s refused, yet the repository changed:\n got %q\nwant %q", o.name, after, before)
				}
				// Lifting the lock lets it through.
				tc.lock(f, meta.AttributesUpdate{DeleteEnabled: &yes, WriteEnabled: &yes})
				wantErr(t, o.name+" after unlocking", o.run(f), nil)
			})
		}
	}
}

// snapshot lists what a repository holds, for checking that a refused operation left it
// alone: tags with their digests, manifests, and whether the test layer is linked.
func snapshot(t *testing.T, s *store, r meta.Repo) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	tags, err := s.TagInfos(ctx, r, meta.ListOptions{})
	if errors.Is(err, meta.ErrRepositoryNotFound) {
		return []string{"no repository"}
	}
	wantErr(t, "TagInfos", err, nil)
	for _, tag := range tags {
		out = append(out, tag.Name+"="+tag.Digest.String())
	}
	ms, err := s.ManifestInfos(ctx, r, meta.ListOptions{})
	wantErr(t, "ManifestInfos", err, nil)
	out = append(out, manifestDigests(ms)...)
	if _, err := s.BlobSize(ctx, r, blob("layer")); err == nil {
		out = append(out, "layer linked")
	}
	return out
}

func testReadDisabled(t *testing.T, newStore func(*testing.T) *store) {
	for _, tc := range []struct {
		name              string
		lock              func(s *store, r meta.Repo, m *meta.Manifest)
		byDigest, byTagV1 bool // want ReadDisabled
	}{
		{"nothing locked", func(*store, meta.Repo, *meta.Manifest) {}, false, false},
		{"repository", func(s *store, r meta.Repo, _ *meta.Manifest) { s.updateRepo(r, lockRead) }, true, true},
		{"manifest", func(s *store, _ meta.Repo, m *meta.Manifest) { s.updateManifest(m, lockRead) }, true, true},
		{"tag", func(s *store, r meta.Repo, _ *meta.Manifest) { s.updateTag(r, "v1", lockRead) }, false, true},
		{"other attributes", func(s *store, r meta.Repo, m *meta.Manifest) {
			u := meta.AttributesUpdate{WriteEnabled: &no, DeleteEnabled: &no, ListEnabled: &no}
			s.updateRepo(r, u)
			s.updateTag(r, "v1", u)
			s.updateManifest(m, u)
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			r := repoIn(registryID(t))("r")
			m := image(r, "m")
			s.put(m, "v1")
			s.put(m, "v2")
			tc.lock(s, r, m)
			got, err := s.Manifest(ctx, r, m.Digest)
			if err != nil || got.ReadDisabled != tc.byDigest {
				t.Errorf("Manifest: ReadDisabled %v, %v; want %v", got != nil && got.ReadDisabled, err, tc.byDigest)
			}
			got, err = s.TaggedManifest(ctx, r, "v1")
			if err != nil || got.ReadDisabled != tc.byTagV1 {
				t.Errorf("TaggedManifest(v1): ReadDisabled %v, %v; want %v", got != nil && got.ReadDisabled, err, tc.byTagV1)
			}
			got, err = s.TaggedManifest(ctx, r, "v2")
			if err != nil || got.ReadDisabled != tc.byDigest {
				t.Errorf("TaggedManifest(v2): ReadDisabled %v, %v; want %v", got != nil && got.ReadDisabled, err, tc.byDigest)
			}
		})
	}
}

func testListDisabled(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	s := newStore(t)
	ctx := t.Context()
	for _, name := range []string{"a", "b", "c"} {
		m := image(repo(name), "m")
		s.put(m, "v1")
		s.put(m, "v2")
		s.put(m, "v3")
	}
	s.updateRepo(repo("b"), lockList)
	s.updateTag(repo("a"), "v2", lockList)
	repos, err := s.Repositories(ctx, reg, "", 0)
	wantErr(t, "Repositories", err, nil)
	sameStrings(t, "Repositories with b unlisted", repos, []string{"a", "c"})
	tags, err := s.Tags(ctx, repo("a"), "", 0)
	wantErr(t, "Tags", err, nil)
	sameStrings(t, "Tags with v2 unlisted", tags, []string{"v1", "v3"})
	tags, err = s.Tags(ctx, repo("a"), "v1", 1)
	wantErr(t, "Tags", err, nil)
	sameStrings(t, "Tags after v1, one, with v2 unlisted", tags, []string{"v3"})
	// An unlisted repository's tags are listed; its tags and manifests are still read.
	tags, err = s.Tags(ctx, repo("b"), "", 0)
	wantErr(t, "Tags of an unlisted repository", err, nil)
	sameStrings(t, "Tags of an unlisted repository", tags, []string{"v1", "v2", "v3"})
	if _, err := s.TaggedManifest(ctx, repo("a"), "v2"); err != nil {
		t.Errorf("TaggedManifest of an unlisted tag: %v", err)
	}
}

func testUnreachableLocked(t *testing.T, newStore func(*testing.T) *store) {
	reg := registryID(t)
	repo := repoIn(reg)
	r := repo("r")
	a, b := image(r, "a"), image(r, "b")
	idx := index(r, "idx", a)
	for _, tc := range []struct {
		name  string
		setup func(*store)
		want  []*meta.Manifest
	}{
		{"delete-locked untagged manifest is kept", func(s *store) {
			s.put(a, "")
			s.put(b, "")
			s.updateManifest(a, lockDelete)
		}, []*meta.Manifest{b}},
		{"write-locked untagged manifest is kept", func(s *store) {
			s.put(a, "")
			s.put(b, "")
			s.updateManifest(b, lockWrite)
		}, []*meta.Manifest{a}},
		{"read- or list-locked untagged manifest is not", func(s *store) {
			s.put(a, "")
			s.put(b, "")
			s.updateManifest(a, lockRead)
			s.updateManifest(b, lockList)
		}, []*meta.Manifest{a, b}},
		{"locked untagged index keeps its children", func(s *store) {
			s.put(a, "")
			s.put(idx, "")
			s.updateManifest(idx, lockDelete)
		}, nil},
		{"write-locked repository keeps everything", func(s *store) {
			s.put(a, "")
			s.put(b, "v1")
			s.put(image(repo("other"), "c"), "")
			s.updateRepo(r, lockWrite)
		}, []*meta.Manifest{image(repo("other"), "c")}},
		{"delete-locked repository does not", func(s *store) {
			s.put(a, "")
			s.put(b, "v1")
			s.updateRepo(r, lockDelete)
		}, []*meta.Manifest{a}},
		{"locked tag moved away leaves its old manifest", func(s *store) {
			s.put(a, "v1")
			s.updateTag(r, "v1", lockDelete)
			s.put(b, "v1")
		}, []*meta.Manifest{a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			tc.setup(s)
			got, err := s.UnreachableManifests(t.Context())
			wantErr(t, "UnreachableManifests", err, nil)
			var gotDigests, want []digest.Digest
			for _, ref := range got {
				if ref.Repo.Registry == reg {
					gotDigests = append(gotDigests, ref.Digest)
				}
			}
			for _, m := range tc.want {
				want = append(want, m.Digest)
			}
			sameDigestSet(t, "UnreachableManifests", gotDigests, want)
		})
	}
}

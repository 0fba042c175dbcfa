package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// url is the registry's https URL of path (written as the server routes it: repository
// names keep their slashes) with query.
func (c *crawl) url(path, query string) *url.URL {
	return &url.URL{Scheme: "https", Host: c.target.LoginServer, Path: path, RawQuery: query}
}

// repoCrawl collects one repository's records; they are written together at its end.
type repoCrawl struct {
	*crawl
	name      string
	scope     string
	manifests []Record
	tags      []Record
	referrers []Record
	errors    []Record
}

// repository crawls one repository: its attributes, then (when it changed since Since)
// its manifests and tags, each manifest's details, and its referrers. Failures become
// error records; only a failed write is returned.
func (c *crawl) repository(ctx context.Context, name string) error {
	r := &repoCrawl{crawl: c, name: name, scope: repoScope(name)}
	defer c.progress.repositoryDone()
	var attrs acrRepository
	if _, err := c.getJSON(ctx, c.url("/acr/v1/"+name, ""), &attrs, r.scope); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.fail(errorRecord("repository", name, "", err))
	}
	if since := c.target.Since; !since.IsZero() && attrs.LastUpdateTime.Before(since) {
		c.count(func(n *Counts) { n.Skipped++ })
		return nil
	}
	mc, tc := attrs.ManifestCount, attrs.TagCount
	repo := Record{Kind: KindRepository, Registry: c.target.LoginServer, Repository: name,
		CreatedTime: attrs.CreatedTime, LastUpdateTime: attrs.LastUpdateTime, ManifestCount: &mc, TagCount: &tc,
		ChangeableAttributes: attrs.ChangeableAttributes.attributes()}

	listed := r.listManifests(ctx)
	r.listTags(ctx)
	if c.opts.Detail == DetailFull {
		r.details(ctx, listed)
	}
	if c.opts.Referrers == ReferrersAPI {
		r.referrersAPI(ctx)
	}
	if ctx.Err() != nil {
		return nil
	}
	c.count(func(n *Counts) {
		n.Repositories++
		n.Manifests += len(r.manifests)
		n.Tags += len(r.tags)
		n.Referrers += len(r.referrers)
		n.Errors += len(r.errors)
	})
	c.progress.add(len(r.manifests), len(r.tags), len(r.errors))
	recs := make([]Record, 0, 1+len(r.manifests)+len(r.tags)+len(r.referrers)+len(r.errors))
	recs = append(recs, repo)
	recs = append(recs, r.manifests...)
	recs = append(recs, r.tags...)
	recs = append(recs, r.referrers...)
	recs = append(recs, r.errors...)
	return c.out.write(recs...)
}

// fail keeps an error record of the repository.
func (r *repoCrawl) fail(op, digest string, err error) {
	r.errors = append(r.errors, errorRecord(op, r.name, digest, err))
	r.errors[len(r.errors)-1].Registry = r.target.LoginServer
}

// listQuery is the first page's query of a listing, newest first: an incremental run
// stops at the first item older than Since.
func (r *repoCrawl) listQuery() string {
	return fmt.Sprintf("n=%d&orderby=timedesc", r.opts.PageSize)
}

// listManifests pages through _manifests and keeps a manifest record of each listed
// manifest updated at or after Since. It returns the listing's entries in order.
func (r *repoCrawl) listManifests(ctx context.Context) []acrManifest {
	var listed []acrManifest
	err := r.pages(ctx, "/acr/v1/"+r.name+"/_manifests", func(body []byte) error {
		var page struct {
			Manifests []acrManifest `json:"manifests"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, m := range page.Manifests {
			if r.old(m.LastUpdateTime) {
				return errStop
			}
			listed = append(listed, m)
			r.manifests = append(r.manifests, Record{Kind: KindManifest, Registry: r.target.LoginServer,
				Repository: r.name, Digest: m.Digest, MediaType: m.MediaType, ConfigMediaType: m.ConfigMediaType,
				ImageSize: m.ImageSize, Architecture: m.Architecture, OS: m.OS, CreatedTime: m.CreatedTime,
				LastUpdateTime: m.LastUpdateTime, Tags: m.Tags, References: m.References,
				ChangeableAttributes: m.ChangeableAttributes.attributes()})
		}
		return nil
	})
	if err != nil {
		r.fail("manifests", "", err)
	}
	return listed
}

// listTags pages through _tags and keeps a tag record of each tag updated at or after
// Since.
func (r *repoCrawl) listTags(ctx context.Context) {
	err := r.pages(ctx, "/acr/v1/"+r.name+"/_tags", func(body []byte) error {
		var page struct {
			Tags []acrTag `json:"tags"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, t := range page.Tags {
			if r.old(t.LastUpdateTime) {
				return errStop
			}
			r.tags = append(r.tags, Record{Kind: KindTag, Registry: r.target.LoginServer, Repository: r.name,
				Tag: t.Name, Digest: t.Digest, CreatedTime: t.CreatedTime, LastUpdateTime: t.LastUpdateTime,
				ChangeableAttributes: t.ChangeableAttributes.attributes()})
		}
		return nil
	})
	if err != nil {
		r.fail("tags", "", err)
	}
}

// old reports whether an item updated at t is left out of an incremental run.
func (r *repoCrawl) old(t time.Time) bool {
	return !r.target.Since.IsZero() && t.Before(r.target.Since)
}

// pages GETs path's listing newest first and hands each page's body to each, following
// Link until the last page or until each returns errStop.
func (r *repoCrawl) pages(ctx context.Context, path string, each func([]byte) error) error {
	u := r.url(path, r.listQuery())
	for u != nil {
		a, err := r.get(ctx, u, "application/json", maxListBody, r.scope)
		if err != nil {
			return err
		}
		if err := each(a.body); err == errStop {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", u.Path, err)
		}
		if u, err = nextLink(a.url, a.header); err != nil {
			return err
		}
	}
	return nil
}

// details reads each listed manifest (and each image's config), Concurrency at a time,
// filling in its record; with ReferrersScan each manifest with a subject also becomes a
// referrer record.
func (r *repoCrawl) details(ctx context.Context, listed []acrManifest) {
	type found struct {
		referrer *Record
		err      error
		op       string
	}
	results := make([]found, len(listed))
	g := new(errgroup.Group)
	g.SetLimit(r.opts.Concurrency)
	for i := range listed {
		g.Go(func() error {
			rec := &r.manifests[i]
			op, err := r.detail(ctx, rec)
			results[i] = found{err: err, op: op}
			if err == nil && rec.Subject != "" && r.opts.Referrers == ReferrersScan {
				results[i].referrer = referrerOf(rec)
			}
			return nil
		})
	}
	_ = g.Wait()
	for i, f := range results {
		if f.err != nil && ctx.Err() == nil {
			r.fail(f.op, listed[i].Digest, f.err)
		}
		if f.referrer != nil {
			r.referrers = append(r.referrers, *f.referrer)
		}
	}
}

// detail reads rec's manifest and, for an image, its config. It returns the failing
// step's name with an error.
func (r *repoCrawl) detail(ctx context.Context, rec *Record) (string, error) {
	d, err := digest.Parse(rec.Digest)
	if err != nil {
		return "manifest", err
	}
	a, err := r.getVerified(ctx, r.url("/v2/"+r.name+"/manifests/"+rec.Digest, ""), d, manifestAccept, maxManifestBody, r.scope)
	if err != nil {
		return "manifest", err
	}
	var m manifestBody
	if err := json.Unmarshal(a.body, &m); err != nil {
		return "manifest", fmt.Errorf("manifest %s: %w", rec.Digest, err)
	}
	rec.Size = int64(len(a.body))
	if rec.MediaType == "" {
		rec.MediaType = m.MediaType
	}
	rec.ArtifactType = artifactTypeOf(&m)
	rec.Annotations = m.Annotations
	rec.BaseImageName, rec.BaseImageDigest = m.Annotations[annotationBaseName], m.Annotations[annotationBaseDigest]
	if m.Subject != nil {
		rec.Subject = m.Subject.Digest
	}
	if isIndex(rec.MediaType) && len(rec.References) == 0 {
		for _, child := range m.Manifests {
			rec.References = append(rec.References, Platform{Digest: child.Digest})
		}
	}
	if m.Config == nil || !isImageConfig(m.Config.MediaType) {
		return "", nil
	}
	rec.ConfigDigest = m.Config.Digest
	if rec.ConfigMediaType == "" {
		rec.ConfigMediaType = m.Config.MediaType
	}
	if m.Config.Size > maxConfigBody {
		return "", nil // a huge history: not worth reading for labels
	}
	cfg, err := r.config(ctx, m.Config.Digest)
	if err != nil {
		return "config", err
	}
	rec.Labels, rec.ImageCreated = cfg.labels, cfg.created
	return "", nil
}

// configEntry is one config blob's labels and created time, read once per registry.
type configEntry struct {
	once    sync.Once
	labels  map[string]string
	created time.Time
	err     error
}

// config reads a config blob, or takes it from the registry's cache: blobs are content
// addressed, so a digest read from one repository serves every other.
func (r *repoCrawl) config(ctx context.Context, d string) (*configEntry, error) {
	v, loaded := r.configs.LoadOrStore(d, &configEntry{})
	e := v.(*configEntry)
	if loaded {
		r.configsCached.Add(1)
	}
	e.once.Do(func() {
		dg, err := digest.Parse(d)
		if err != nil {
			e.err = err
			return
		}
		a, err := r.getVerified(ctx, r.url("/v2/"+r.name+"/blobs/"+d, ""), dg, "", maxConfigBody, r.scope)
		if err != nil {
			e.err = err
			return
		}
		var cfg imageConfig
		if err := json.Unmarshal(a.body, &cfg); err != nil {
			e.err = fmt.Errorf("config %s: %w", d, err)
			return
		}
		e.labels = cfg.Config.Labels
		if t, err := time.Parse(time.RFC3339Nano, cfg.Created); err == nil {
			e.created = t
		}
	})
	if e.err != nil {
		// A failure is not cached: another repository may read it (a blob it lacks here).
		r.configs.CompareAndDelete(d, e)
	}
	return e, e.err
}

// referrerOf is the referrer record of a manifest with a subject.
func referrerOf(m *Record) *Record {
	return &Record{Kind: KindReferrer, Registry: m.Registry, Repository: m.Repository, Digest: m.Digest,
		Subject: m.Subject, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Size: m.Size,
		Annotations: m.Annotations, CreatedTime: m.CreatedTime, LastUpdateTime: m.LastUpdateTime}
}

// referrersAPI asks the referrers API for every listed manifest that is not a referrer
// itself, and keeps a referrer record of each descriptor answered.
func (r *repoCrawl) referrersAPI(ctx context.Context) {
	type answerOf struct {
		subject string
		found   []descriptor
		err     error
	}
	var subjects []string
	for _, m := range r.manifests {
		if m.Subject == "" {
			subjects = append(subjects, m.Digest)
		}
	}
	results := make([]answerOf, len(subjects))
	g := new(errgroup.Group)
	g.SetLimit(r.opts.Concurrency)
	for i, s := range subjects {
		g.Go(func() error {
			results[i] = answerOf{subject: s}
			u := r.url("/v2/"+r.name+"/referrers/"+s, "")
			for u != nil {
				a, err := r.get(ctx, u, "application/vnd.oci.image.index.v1+json", maxListBody, r.scope)
				if err != nil {
					results[i].err = err
					return nil
				}
				var idx manifestBody
				if err := json.Unmarshal(a.body, &idx); err != nil {
					results[i].err = fmt.Errorf("referrers of %s: %w", s, err)
					return nil
				}
				results[i].found = append(results[i].found, idx.Manifests...)
				if u, err = nextLink(a.url, a.header); err != nil {
					results[i].err = err
					return nil
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	for _, res := range results {
		if res.err != nil && ctx.Err() == nil {
			r.fail("referrers", res.subject, res.err)
		}
		for _, d := range res.found {
			r.referrers = append(r.referrers, Record{Kind: KindReferrer, Registry: r.target.LoginServer,
				Repository: r.name, Digest: d.Digest, Subject: res.subject, MediaType: d.MediaType,
				ArtifactType: d.ArtifactType, Size: d.Size, Annotations: d.Annotations})
		}
	}
}

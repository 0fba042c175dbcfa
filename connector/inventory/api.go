package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/connector"
)

// The wire side: the /acr/v1 and /v2 requests of a crawl, the JSON they answer
// (acr-protocol.md §2.3; the OCI image and distribution specs) and the Link header that
// pages them (§2.2).

// Client sends authenticated requests to one registry. scopes are the Docker scopes the
// request needs; the client gets (or reuses) a token covering them, answers challenges
// and retries throttled requests. *connector.RegistryClient is one.
type Client interface {
	Do(ctx context.Context, req *http.Request, scopes ...string) (*http.Response, error)
}

// Prefetcher is a Client that can get one token for many scopes ahead of the requests
// that need them, so that a crawl asks the token service once per batch of repositories
// rather than once per repository. Clients without it still work, a token per repository.
type Prefetcher interface {
	Prefetch(ctx context.Context, scopes ...string) error
}

// Bounds on what a crawl reads into memory from one answer.
const (
	maxListBody     = 64 << 20 // a listing page (n=10000 manifests with tags is a few MB)
	maxManifestBody = 4 << 20  // ACR's manifest limit
	maxConfigBody   = 4 << 20  // configs larger than this are not read (their history is huge)
)

// Accept lists every manifest type a crawl understands; GET by digest answers the stored
// one anyway.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.oci.artifact.manifest.v1+json",
	"*/*;q=0.1",
}, ", ")

// Media types a crawl tells apart.
const (
	mtOCIIndex     = "application/vnd.oci.image.index.v1+json"
	mtDockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtOCIConfig    = "application/vnd.oci.image.config.v1+json"
	mtDockerConfig = "application/vnd.docker.container.image.v1+json"
	mtEmpty        = "application/vnd.oci.empty.v1+json"
)

// Annotations the crawl lifts into their own fields.
const (
	annotationBaseName   = "org.opencontainers.image.base.name"
	annotationBaseDigest = "org.opencontainers.image.base.digest"
)

// StatusError is an answer other than the one asked for: its status and the first
// error of the distribution envelope, when there is one.
type StatusError struct {
	Status  int
	Code    string
	Message string
}

func (e *StatusError) Error() string {
	if e.Code == "" && e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// statusOf is the HTTP status in err (a registry's answer, or the token service's
// refusal the connector reports), or 0.
func statusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	var te *connector.TokenError
	if errors.As(err, &te) {
		return te.Status
	}
	return 0
}

// acrAttributes are ACR's changeableAttributes.
type acrAttributes struct {
	DeleteEnabled *bool `json:"deleteEnabled"`
	WriteEnabled  *bool `json:"writeEnabled"`
	ReadEnabled   *bool `json:"readEnabled"`
	ListEnabled   *bool `json:"listEnabled"`
}

// attributes converts; an attribute ACR leaves out is enabled, its default.
func (a *acrAttributes) attributes() *Attributes {
	if a == nil {
		return nil
	}
	on := func(b *bool) bool { return b == nil || *b }
	return &Attributes{DeleteEnabled: on(a.DeleteEnabled), WriteEnabled: on(a.WriteEnabled),
		ReadEnabled: on(a.ReadEnabled), ListEnabled: on(a.ListEnabled)}
}

// acrRepository is RepositoryAttributes (GET /acr/v1/{name}).
type acrRepository struct {
	ImageName            string         `json:"imageName"`
	CreatedTime          time.Time      `json:"createdTime"`
	LastUpdateTime       time.Time      `json:"lastUpdateTime"`
	ManifestCount        int            `json:"manifestCount"`
	TagCount             int            `json:"tagCount"`
	ChangeableAttributes *acrAttributes `json:"changeableAttributes"`
}

// acrManifest is one ManifestAttributesBase of AcrManifests.
type acrManifest struct {
	Digest               string         `json:"digest"`
	ImageSize            int64          `json:"imageSize"`
	CreatedTime          time.Time      `json:"createdTime"`
	LastUpdateTime       time.Time      `json:"lastUpdateTime"`
	Architecture         string         `json:"architecture"`
	OS                   string         `json:"os"`
	MediaType            string         `json:"mediaType"`
	ConfigMediaType      string         `json:"configMediaType"`
	Tags                 []string       `json:"tags"`
	References           []Platform     `json:"references"`
	ChangeableAttributes *acrAttributes `json:"changeableAttributes"`
}

// acrTag is one TagAttributesBase of TagList.
type acrTag struct {
	Name                 string         `json:"name"`
	Digest               string         `json:"digest"`
	CreatedTime          time.Time      `json:"createdTime"`
	LastUpdateTime       time.Time      `json:"lastUpdateTime"`
	ChangeableAttributes *acrAttributes `json:"changeableAttributes"`
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
}

// manifestBody is what a crawl reads from any manifest: an image manifest, an index, an
// artifact manifest or a referrers answer (an index).
type manifestBody struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *descriptor       `json:"config"`
	Subject      *descriptor       `json:"subject"`
	Manifests    []descriptor      `json:"manifests"`
	Annotations  map[string]string `json:"annotations"`
}

// imageConfig is what a crawl reads from an image config blob.
type imageConfig struct {
	Created string `json:"created"`
	Config  struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
}

// repoScope is the one scope every request of a repository's crawl asks: the /acr/v1
// listings need metadata_read, the /v2 manifest, blob and referrers GETs need pull.
func repoScope(name string) string { return "repository:" + name + ":pull,metadata_read" }

// catalogScope lists the catalog; repository-scoped tokens never get it.
const catalogScope = "registry:catalog:*"

// answer is a fully read successful response.
type answer struct {
	body   []byte
	header http.Header
	url    *url.URL // the request's, to resolve a Link against
}

// get sends one GET through the crawl's limit and reads the answer (up to limit bytes).
// Any status but 200 is a *StatusError.
func (c *crawl) get(ctx context.Context, u *url.URL, accept string, limit int64, scopes ...string) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	c.requests.Add(1)
	c.progress.request()
	resp, err := c.client.Do(ctx, req, scopes...)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	c.noteDate(resp.Header.Get("Date"))
	if resp.StatusCode != http.StatusOK {
		return nil, readStatusError(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u.Path, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s: the answer exceeds %d bytes", u.Path, limit)
	}
	return &answer{body: body, header: resp.Header, url: req.URL}, nil
}

// getJSON GETs u into v and returns the next page's URL, nil on the last page.
func (c *crawl) getJSON(ctx context.Context, u *url.URL, v any, scopes ...string) (*url.URL, error) {
	a, err := c.get(ctx, u, "application/json", maxListBody, scopes...)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return nil, fmt.Errorf("%s: %w", u.Path, err)
	}
	return nextLink(a.url, a.header)
}

// getVerified GETs content by digest and checks that the bytes are that digest.
func (c *crawl) getVerified(ctx context.Context, u *url.URL, d digest.Digest, accept string, limit int64, scopes ...string) (*answer, error) {
	a, err := c.get(ctx, u, accept, limit, scopes...)
	if err != nil {
		return nil, err
	}
	if d.Validate() == nil && d.Algorithm().Available() && d.Algorithm().FromBytes(a.body) != d {
		return nil, fmt.Errorf("%s: the content does not match its digest", u.Path)
	}
	return a, nil
}

// readStatusError reads the distribution error envelope of a failed answer.
func readStatusError(resp *http.Response) error {
	se := &StatusError{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Errors) > 0 {
		se.Code, se.Message = env.Errors[0].Code, env.Errors[0].Message
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 200 && !bytes.ContainsAny(body, "<{") {
		se.Message = s
	}
	return se
}

// nextLink returns the rel="next" target of the Link headers, resolved against the
// request's URL and otherwise followed verbatim (ACR writes a path and query, §2.2), or
// nil when there is none. A next page on another host is refused: the client's
// credentials are for this registry only.
func nextLink(base *url.URL, h http.Header) (*url.URL, error) {
	for _, v := range h.Values("Link") {
		for link := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") || !relNext(params) {
				continue
			}
			u, err := base.Parse(target[1 : len(target)-1])
			if err != nil {
				return nil, fmt.Errorf("bad Link %q: %w", v, err)
			}
			if u.Host != base.Host || u.Scheme != base.Scheme {
				return nil, fmt.Errorf("the Link %q leaves the registry", v)
			}
			return u, nil
		}
	}
	return nil, nil
}

// relNext reports whether Link parameters hold rel="next" (or rel=next).
func relNext(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "rel") {
			for r := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(r, "next") {
					return true
				}
			}
		}
	}
	return false
}

// isIndex reports whether mediaType is an index or a Docker manifest list.
func isIndex(mediaType string) bool { return mediaType == mtOCIIndex || mediaType == mtDockerList }

// isImageConfig reports whether mediaType is a container image config, the only config
// a crawl reads.
func isImageConfig(mediaType string) bool {
	return mediaType == mtOCIConfig || mediaType == mtDockerConfig
}

// artifactTypeOf is what the referrers API would report for m: its artifactType, or else
// its config's media type unless that is an image config or the empty descriptor.
func artifactTypeOf(m *manifestBody) string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config != nil && !isImageConfig(m.Config.MediaType) && m.Config.MediaType != mtEmpty {
		return m.Config.MediaType
	}
	return ""
}

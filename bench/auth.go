package bench

import (
	"context"
	"fmt"
	"io"
	"os"
)

// authRates measures what signing in costs, at ManifestConns connections in rounds, each
// round beside the in-process file server's GET of the same manifest: GETs of the
// one-tag repository's manifest with a bearer token (what docker sends after the token
// flow; every other registry figure of the run is taken so) and with Basic credentials on
// every request (what a client that skips the token flow sends, and the server checks the
// client secret each time), and token issuance: GET /oauth2/token with Basic for a pull
// scope, which starts every docker pull. There is no unauthenticated mode to compare
// with: the figures are compared with each other (Report.Auth) and with the baseline.
func (r *runner) authRates(ctx context.Context) error {
	fi, err := os.Stat(r.base.path(manifestFile)) // written by manifestGets: the one-tag image's manifest
	if err != nil {
		return err
	}
	size := fi.Size()
	pull := "repository:" + repoOneTag + ":pull"
	fcs, err := newClients(ctx, r.opts.ManifestConns, r.files.endpoint(), false)
	if err != nil {
		return err
	}
	defer closeClients(fcs)
	bearer, err := newClients(ctx, r.opts.ManifestConns, r.target.endpoint(pull), false)
	if err != nil {
		return err
	}
	defer closeClients(bearer)
	basic, err := newClients(ctx, r.opts.ManifestConns, r.target.basicEndpoint(pull), false)
	if err != nil {
		return err
	}
	defer closeClients(basic)
	issue := func(ctx context.Context, c *client) error {
		_, err := c.token(ctx)
		return err
	}
	var withBearer, withBasic, tokens series
	for k := range r.opts.Rounds {
		base, err := r.hammer(ctx, fcs, getRef(manifestFile, size))
		if err != nil {
			return err
		}
		b, err := r.hammer(ctx, bearer, getRef(oneTagManifest, size))
		if err != nil {
			return err
		}
		s, err := r.hammer(ctx, basic, getRef(oneTagManifest, size))
		if err != nil {
			return err
		}
		t, err := r.hammer(ctx, basic, issue)
		if err != nil {
			return err
		}
		withBearer.add(b, base)
		withBasic.add(s, base)
		tokens.add(t, base)
		printRound(r.out, k, r.opts.Rounds, "req/s", roundFigure{"Bearer", &withBearer}, roundFigure{"Basic", &withBasic},
			roundFigure{"tokens", &tokens})
	}
	r.add(result(rowBearer, "req/s", baselineFileServer, "docker, containerd: Bearer after the token flow", withBearer))
	r.add(result(rowBasic, "req/s", baselineFileServer, "clients that skip the token flow", withBasic))
	r.add(result(rowTokens, "req/s", baselineFileServer, "one per repository a docker pull touches", tokens))
	a := authFigures(withBearer, withBasic, tokens)
	r.report.Auth = &a
	return nil
}

// Names of the auth rows.
const (
	rowBearer = "manifest GET, 1 tag, Bearer"
	rowBasic  = "manifest GET, 1 tag, Basic"
	rowTokens = "token GET, Basic"
)

// AuthFigures compare the ways of signing in, measured in the same rounds: each is the
// ratio of the medians, with the range of the per-round ratios.
type AuthFigures struct {
	// BearerOverBasic is manifest GETs per second with a bearer token ÷ with Basic
	// credentials on every request.
	BearerOverBasic    float64 `json:"bearer_over_basic"`
	BearerOverBasicMin float64 `json:"bearer_over_basic_min"`
	BearerOverBasicMax float64 `json:"bearer_over_basic_max"`
	// TokensOverBearer is tokens issued per second (GET /oauth2/token with Basic) ÷
	// manifest GETs per second with a bearer token.
	TokensOverBearer    float64 `json:"tokens_over_bearer"`
	TokensOverBearerMin float64 `json:"tokens_over_bearer_min"`
	TokensOverBearerMax float64 `json:"tokens_over_bearer_max"`
}

func authFigures(bearer, basic, tokens series) AuthFigures {
	bb, tb := crossRatio(bearer, basic), crossRatio(tokens, bearer)
	return AuthFigures{
		BearerOverBasic: bb.median, BearerOverBasicMin: bb.min, BearerOverBasicMax: bb.max,
		TokensOverBearer: tb.median, TokensOverBearerMin: tb.min, TokensOverBearerMax: tb.max,
	}
}

// crossRatio compares the Cerulean sides of two rows measured in the same rounds: the
// ratio of their medians, and the range of the per-round ratios.
func crossRatio(a, b series) spread {
	am, bm := summarize(values(a.cerulean)).median, summarize(values(b.cerulean)).median
	var per []float64
	for i := range min(len(a.cerulean), len(b.cerulean)) {
		if d := b.cerulean[i].value; d > 0 {
			per = append(per, a.cerulean[i].value/d)
		}
	}
	s := summarize(per)
	s.median = 0
	if bm > 0 {
		s.median = am / bm
	}
	return s
}

// printAuth prints the comparisons of the ways of signing in.
func printAuth(w io.Writer, a AuthFigures) {
	bb := spread{median: a.BearerOverBasic, min: a.BearerOverBasicMin, max: a.BearerOverBasicMax}
	tb := spread{median: a.TokensOverBearer, min: a.TokensOverBearerMin, max: a.TokensOverBearerMax}
	fmt.Fprintf(w, "auth: manifest GETs with a bearer token ÷ with Basic on every request %s; tokens issued ÷ bearer manifest GETs %s\n",
		bb.format(2), tb.format(2))
}

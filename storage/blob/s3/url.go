package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
)

// FromURL returns a store configured by a URL of the form
//
//	s3://<bucket>[/<prefix>][?region=<region>&endpoint=<URL>&pathStyle=true&partSize=8MiB&concurrency=4]
//
// endpoint selects an S3-compatible server (path-style addressing is then the default);
// region defaults to the SDK's configuration (AWS_REGION, shared config), else us-east-1.
// Credentials never come from the URL, which ends up in flags, logs and process
// listings: the SDK's default chain supplies them (environment, shared files, web
// identity, container and instance roles). optFns adjust the client last (tests use
// them for credentials and the HTTP client).
func FromURL(ctx context.Context, u *url.URL, optFns ...func(*awss3.Options)) (*Store, error) {
	s, err := fromURL(ctx, u, optFns)
	if err != nil {
		return nil, fmt.Errorf("blob/s3: %s: %w", u.Redacted(), err)
	}
	return s, nil
}

func fromURL(ctx context.Context, u *url.URL, optFns []func(*awss3.Options)) (*Store, error) {
	o, p, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	var load []func(*config.LoadOptions) error
	if p.region != "" {
		load = append(load, config.WithRegion(p.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	o.Client = awss3.NewFromConfig(cfg, append([]func(*awss3.Options){func(c *awss3.Options) {
		if p.endpoint != "" {
			c.BaseEndpoint = &p.endpoint
		}
		c.UsePathStyle = p.pathStyle
	}}, optFns...)...)
	return New(o)
}

// urlParams are the URL's settings of the client.
type urlParams struct {
	region, endpoint string
	pathStyle        bool
}

func parseURL(u *url.URL) (Options, urlParams, error) {
	var o Options
	var p urlParams
	if u.Scheme != "s3" {
		return o, p, errors.New(`scheme must be "s3"`)
	}
	if u.Host == "" {
		return o, p, errors.New("want s3://<bucket>[/<prefix>]")
	}
	o.Bucket = u.Host
	if prefix := strings.Trim(u.Path, "/"); prefix != "" {
		o.Prefix = prefix + "/"
	}
	q := u.Query()
	for _, secret := range []string{"accessKey", "secretKey", "accessKeyId", "secretAccessKey", "sessionToken"} {
		if q.Has(secret) {
			return o, p, fmt.Errorf("credentials do not go in the URL (%q): use the AWS SDK's environment or shared files", secret)
		}
	}
	p.region, p.endpoint = q.Get("region"), q.Get("endpoint")
	p.pathStyle = p.endpoint != ""
	var err error
	if v := q.Get("pathStyle"); v != "" {
		if p.pathStyle, err = strconv.ParseBool(v); err != nil {
			return o, p, fmt.Errorf("invalid pathStyle %q", v)
		}
	}
	if v := q.Get("partSize"); v != "" {
		if o.PartSize, err = remote.ParseSize(v); err != nil {
			return o, p, err
		}
	}
	if v := q.Get("concurrency"); v != "" {
		if o.Concurrency, err = strconv.Atoi(v); err != nil || o.Concurrency < 1 {
			return o, p, fmt.Errorf("invalid concurrency %q", v)
		}
	}
	return o, p, nil
}

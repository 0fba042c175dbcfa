package azblob

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cerulean-registry/cerulean/storage/blob/internal/remote"
)

// FromURL returns a store configured by a URL of the form
//
//	azblob://<account>/<container>[/<prefix>][?endpoint=<service URL>&auth=key|entra&blockSize=8MiB&concurrency=4]
//
// endpoint defaults to https://<account>.blob.core.windows.net/ (for Azurite:
// http://127.0.0.1:10000/devstoreaccount1). Credentials never come from the URL, which
// ends up in flags, logs and process listings: base supplies them, and the HTTP client
// options; the URL sets base's ServiceURL, AccountName, Container and Prefix.
//
// auth=key takes the account key from base.AccountKey or the environment variable
// AZURE_STORAGE_KEY; auth=entra takes base.Credential or, without one,
// azidentity.NewDefaultAzureCredential (environment, workload identity, managed identity,
// Azure CLI). Without auth, base.Credential wins, then a key, then the default credential.
func FromURL(u *url.URL, base Options) (*Store, error) {
	o, err := optionsFromURL(u, base)
	if err != nil {
		return nil, fmt.Errorf("blob/azblob: %s: %w", u.Redacted(), err)
	}
	return New(o)
}

func optionsFromURL(u *url.URL, o Options) (Options, error) {
	if u.Scheme != "azblob" {
		return o, errors.New(`scheme must be "azblob"`)
	}
	container, prefix, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	if u.Host == "" || container == "" {
		return o, errors.New("want azblob://<account>/<container>[/<prefix>]")
	}
	o.AccountName, o.Container = u.Host, container
	if prefix != "" {
		o.Prefix = prefix + "/"
	}
	q := u.Query()
	for _, secret := range []string{"key", "accountKey", "sig", "secret"} {
		if q.Has(secret) {
			return o, fmt.Errorf("credentials do not go in the URL (%q): use AZURE_STORAGE_KEY or Entra", secret)
		}
	}
	o.ServiceURL = "https://" + u.Host + ".blob.core.windows.net/"
	if e := q.Get("endpoint"); e != "" {
		o.ServiceURL = e
	}
	var err error
	if v := q.Get("blockSize"); v != "" {
		if o.BlockSize, err = remote.ParseSize(v); err != nil {
			return o, err
		}
	}
	if v := q.Get("concurrency"); v != "" {
		if o.Concurrency, err = strconv.Atoi(v); err != nil || o.Concurrency < 1 {
			return o, fmt.Errorf("invalid concurrency %q", v)
		}
	}
	return o, chooseAuth(&o, q.Get("auth"))
}

// chooseAuth leaves exactly one of o.AccountKey and o.Credential set.
func chooseAuth(o *Options, auth string) error {
	if o.AccountKey == "" {
		o.AccountKey = os.Getenv("AZURE_STORAGE_KEY")
	}
	switch {
	case auth == "key" || auth == "" && o.Credential == nil && o.AccountKey != "":
		if o.AccountKey == "" {
			return errors.New("auth=key needs an account key (AZURE_STORAGE_KEY)")
		}
		o.Credential = nil
		return nil
	case auth == "entra" || auth == "":
		o.AccountKey = ""
		if o.Credential != nil {
			return nil
		}
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return fmt.Errorf("default Azure credential: %w", err)
		}
		o.Credential = cred
		return nil
	}
	return fmt.Errorf(`auth must be "key" or "entra", not %q`, auth)
}

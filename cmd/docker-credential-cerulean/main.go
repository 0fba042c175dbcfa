// Command docker-credential-cerulean is the docker credential helper of Cerulean's saved
// connections (package connector/credhelper). Docker, containerd, crane and every client
// of docker's config.json run it for the registries `cerulean connect configure-docker`
// lists under credHelpers:
//
//	echo myreg.azurecr.io | docker-credential-cerulean get
//
// The store is $CERULEAN_CONNECTOR_DIR (default ~/.config/cerulean/connector) and its
// key $CERULEAN_CONNECTOR_KEY or the store's key file, as for `cerulean connect`.
package main

import (
	"fmt"
	"os"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/cerulean-registry/cerulean/connector"
	"github.com/cerulean-registry/cerulean/connector/credhelper"
)

func main() {
	dir, err := connector.DefaultDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	key := connector.DefaultKeySource(dir)
	store, err := connector.OpenStore(dir, key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	credentials.Serve(credhelper.New(store, key))
}

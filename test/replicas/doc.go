// Package replicas tests Cerulean run as several stateless replicas: two or three
// `cerulean serve` processes (internal/testserver) on their own loopback ports, sharing
// one PostgreSQL database (--metadata, a throwaway server from pgtest) and one Azurite
// container (--blobs azblob://…, azuritetest), all presenting the same login server
// (--host registry.test:8443, the load balancer's name; clients reach a chosen replica
// through a dialer that maps that name to it). The first replica starts on an empty data
// directory and bootstraps the shared store; each other starts on a copy of its DIR/tls,
// DIR/keys and DIR/bootstrap.json, as an operator would deploy them.
//
// The scenarios: a push through one replica is visible through the others at once; a
// chunked upload is started, continued and finished on different replicas, and two
// replicas racing on one chunk leave exactly one of them applied; a token issued by one
// replica is accepted by all, and a token disabled through one is refused by all on the
// next request; `cerulean gc` runs next to the replicas while pushes go to them and
// removes only garbage, never anything an acknowledged push needs; one replica is killed
// (SIGKILL) in the middle of pushes and the clients finish on the others, losing nothing
// that was acknowledged; failed sign-ins through any replica spend one shared budget.
//
// The tests skip when PostgreSQL or Azurite cannot run here, and fail instead when
// CI=true. The benchmarks (go test -bench . -run '^$' ./test/replicas/) measure manifest
// GETs with one, two and three replicas and big-blob throughput through one replica on
// Azurite and on the filesystem driver, with the CPU each process used.
package replicas

#!/usr/bin/env bash
# install-test-deps.sh installs the third-party programs that Cerulean's real-client
# integration tests (test/clients) drive, when they are missing. It is idempotent: a
# machine that already has them is left as it is.
#
# Needs root for apt-get; uses sudo when not root and sudo is available, and otherwise
# prints what to install.
set -euo pipefail
"$(dirname "$0")/azurite.sh" --install || [ "${CI:-}" != true ] # Azurite (npm) for storage/blob/azblob; quiet unless it fails

# Debian packages the tests need, as "command:package".
deps=(
	"skopeo:skopeo"
	"az:azure-cli" # test/management, test/identity (the Azure CLI scenarios); large, installed quietly
	"initdb:postgresql" # storage/meta/postgres (pgtest starts a throwaway server)
)
# Debian's PostgreSQL binaries live in /usr/lib/postgresql/VERSION/bin, where pgtest looks too.
PATH=$PATH$(printf ':%s' /usr/lib/postgresql/*/bin)

missing=()
for dep in "${deps[@]}"; do
	cmd=${dep%%:*}
	pkg=${dep#*:}
	if ! command -v "$cmd" >/dev/null 2>&1; then
		missing+=("$pkg")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

# sudo drops the environment, so the variable goes on the command line.
if [ "$(id -u)" -eq 0 ]; then
	as_root=(env DEBIAN_FRONTEND=noninteractive)
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
else
	echo "install-test-deps: not root and no sudo; install these Debian packages: ${missing[*]}" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: apt-get not found; install: ${missing[*]}" >&2
	exit 1
fi

echo "install-test-deps: installing ${missing[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# apt-get's output is shown only when it fails.
if ! { "${as_root[@]}" apt-get update -qq &&
	"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-test-deps: failed to install ${missing[*]}" >&2
	exit 1
fi

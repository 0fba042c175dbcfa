#!/usr/bin/env bash
# azurite.sh runs Azurite, the Azure Blob Storage emulator (npm package "azurite"), for
# the azblob driver's tests and for trying Cerulean on Azure Blob without an account.
#
#   scripts/azurite.sh              install if missing, start one in the background (or
#                                   find the one this script started before), print its
#                                   settings as shell assignments
#   scripts/azurite.sh --install    only install, quietly (scripts/install-test-deps.sh)
#   scripts/azurite.sh --stop       stop the one this script started, remove its data
#
#   eval "$(scripts/azurite.sh)"; go test ./storage/blob/azblob/
#
# Idempotent. Azurite goes to $CERULEAN_AZURITE_DIR or ~/.cache/cerulean/azurite-<version>,
# the place storage/blob/azblob/azuritetest looks (keep the versions in step). It listens
# on a free loopback port, keeps its data in a temporary directory, and sends no
# telemetry. The account is Azurite's well-known development account.
set -euo pipefail

version=3.35.0
account=devstoreaccount1
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
dir=${CERULEAN_AZURITE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cerulean/azurite-$version}
main=$dir/node_modules/azurite/dist/src/blob/main.js
run=${TMPDIR:-/tmp}/cerulean-azurite-$(id -u) # pid, url, log and data of the running one

install() {
	[ -f "$main" ] && return 0
	if ! command -v npm >/dev/null 2>&1; then
		echo "azurite.sh: npm not found; install Node.js and npm" >&2
		return 1
	fi
	mkdir -p "$(dirname "$dir")"
	local tmp
	tmp=$(mktemp -d "$dir.tmp-XXXXXX")
	# npm's output is shown only when it fails. A fresh directory renamed into place
	# keeps a concurrent install (another shell, a Go test) from seeing half of one.
	if ! npm install --no-save --no-audit --no-fund --prefix "$tmp" "azurite@$version" >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		echo "azurite.sh: npm install azurite@$version failed" >&2
		return 1
	fi
	rm -f "$tmp.log"
	mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another install won the race
}

running() {
	[ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null
}

settings() {
	local url
	url=$(cat "$run/url")
	echo "export CERULEAN_AZURITE_URL=$url/$account"
	echo "export AZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=$url/$account;'"
	echo "# Azurite pid $(cat "$run/pid"), port ${url##*:}, data in $run/data; stop: $0 --stop"
}

start() {
	if running; then
		settings
		return 0
	fi
	install
	command -v node >/dev/null 2>&1 || {
		echo "azurite.sh: node not found" >&2
		return 1
	}
	rm -rf "$run"
	mkdir -p "$run/data"
	# Port 0: the kernel picks a free port and Azurite prints it, so no race for one.
	nohup node "$main" --blobHost 127.0.0.1 --blobPort 0 --location "$run/data" --silent \
		--skipApiVersionCheck --disableTelemetry >"$run/log" 2>&1 &
	echo $! >"$run/pid"
	local url=
	for _ in $(seq 300); do
		url=$(grep -o 'listens on http://127\.0\.0\.1:[0-9]*' "$run/log" | head -n1 | sed 's/^listens on //') || true
		[ -n "$url" ] && break
		running || break
		sleep 0.1
	done
	if [ -z "$url" ]; then
		cat "$run/log" >&2
		stop
		echo "azurite.sh: Azurite did not start" >&2
		return 1
	fi
	echo "$url" >"$run/url"
	settings
}

stop() {
	if running; then
		kill "$(cat "$run/pid")" 2>/dev/null || true
	fi
	rm -rf "$run"
}

case ${1:-} in
"") start ;;
--install) install ;;
--stop) stop ;;
*)
	echo "usage: $0 [--install|--stop]" >&2
	exit 2
	;;
esac

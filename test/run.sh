#!/usr/bin/env bash
# The one test command: bash test/run.sh [go test flags and packages...]
#
# Needs: Go, python3 with moto[server] (installed here with pip if missing),
# PostgreSQL answering on 127.0.0.1:5432 (started here with pg_ctlcluster if
# it is installed but down, and stopped again on exit), headless Chromium
# (Debian's chromium, installed here with apt-get if missing). Screenshots of
# the browser test go to $KILLSWITCH_ARTIFACTS/browser (default test/artifacts).
# The Go tests start and stop the moto AWS emulator themselves (test/moto).
# Extra arguments go to `go test`; with none, every package is tested.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'test/run.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- the AWS emulator --------------------------------------------------------
command -v python3 >/dev/null 2>&1 || die "python3 is not installed; install python3 (>= 3.9), then: python3 -m pip install 'moto[server]'"
if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
	log "moto is missing; installing moto[server] with pip"
	python3 -m pip install --quiet 'moto[server]' ||
		die "could not install the AWS emulator; run: python3 -m pip install 'moto[server]'"
	python3 -c 'import moto.server' >/dev/null 2>&1 ||
		die "moto installed but 'import moto.server' still fails; run: python3 -m pip install 'moto[server]'"
fi

# --- PostgreSQL --------------------------------------------------------------
started_pg=""
stop_pg() {
	if [[ -n "$started_pg" ]]; then
		log "stopping PostgreSQL $started_pg/main"
		pg_ctlcluster --skip-systemctl-redirect "$started_pg" main stop || true
	fi
}
trap stop_pg EXIT

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }

command -v pg_isready >/dev/null 2>&1 || die "pg_isready not found: install PostgreSQL (client and server) so 127.0.0.1:5432 answers"
if ! pg_up; then
	command -v pg_ctlcluster >/dev/null 2>&1 ||
		die "PostgreSQL is not answering on 127.0.0.1:5432 and pg_ctlcluster is not installed; start PostgreSQL and retry"
	version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
	[[ -n "$version" ]] || die "PostgreSQL is not answering on 127.0.0.1:5432 and no cluster is configured in /etc/postgresql"
	log "starting PostgreSQL $version/main"
	if pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
		started_pg="$version"
	fi
	for _ in $(seq 1 30); do
		pg_up && break
		sleep 1
	done
	pg_up || die "PostgreSQL still does not answer on 127.0.0.1:5432 after 30s"
fi

# --- headless Chromium (test/e2e's browser test) ----------------------------
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then
	log "Chromium is missing; installing Debian's chromium package"
	sudo=""
	[[ "$(id -u)" -eq 0 ]] || sudo="sudo"
	{ $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null ||
		die "could not install Chromium; run: apt-get install -y chromium"
fi

# --- Go ----------------------------------------------------------------------
go vet ./...
if [[ $# -eq 0 ]]; then
	set -- ./...
else
	# Flags only (e.g. -run X -v): test every package.
	has_pkg=""
	for a in "$@"; do
		case "$a" in ./* | github.com/*) has_pkg=1 ;; esac
	done
	[[ -n "$has_pkg" ]] || set -- "$@" ./...
fi
# The two property tests of the drills play hundreds of drills through the
# service and its SQLite store; under the race detector they take most of
# the run, and they test simulation semantics, not concurrency (a drill's
# lanes run one at a time). They run without -race, after the rest; every
# other test, the drills' own included, runs with it.
heavy='^(TestLockdownHoldsOnRandomOrganizations|TestEveryTechniqueAtEveryPoint)$'
go test -race -count=1 -timeout 20m -skip "$heavy" "$@"
if [[ " $* " == *" ./... "* || " $* " == *"./bot/drill"* ]]; then
	go test -count=1 -timeout 20m -run "$heavy" ./bot/drill/
fi

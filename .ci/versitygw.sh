#!/usr/bin/env bash
# Starts a versitygw S3 gateway for the S3 integration tests and prints the
# environment they read, so that a caller can do:
#
#   eval "$(.ci/versitygw.sh)"
#   go test ./persistence/objstore/ -run Versitygw
#   kill "$FLOE_VERSITYGW_PID"     # when done
#
# versitygw (Apache-2.0, one Go binary) is installed with `go install` if it is
# not on PATH or in GOPATH/bin (about 2-4 minutes on 2 cores, cold). It runs
# its posix backend on a fresh temporary directory, listening on 127.0.0.1 only,
# port 7070 or the next free one (FLOE_VERSITYGW_PORT to start elsewhere), with
# random credentials and a 32 KiB I/O buffer (FLOE_VERSITYGW_IO_BUFFER to
# change it; see below). Only the export lines go to stdout; progress goes to
# stderr and the gateway's own output to versitygw.log in its directory.
set -euo pipefail

version=v1.8.0
port=${FLOE_VERSITYGW_PORT:-7070}
export PATH="$PATH:$(go env GOPATH)/bin"

if ! command -v versitygw >/dev/null 2>&1; then
  echo "versitygw.sh: installing versitygw $version" >&2
  go install "github.com/versity/versitygw/cmd/versitygw@$version" >&2
fi

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Skip ports taken by something else (an earlier gateway, say).
last=$((port + 20))
while answers "$port"; do
  port=$((port + 1))
  if [ "$port" -gt "$last" ]; then
    echo "versitygw.sh: no free port in ${FLOE_VERSITYGW_PORT:-7070}..$last" >&2
    exit 1
  fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/floe-versitygw.XXXXXX")
mkdir "$dir/data"
access="floe-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
secret="$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"

# The posix backend makes a new read buffer of --io-buffer-size for every
# ranged GET (1 MiB by default, not pooled). floe's cold reads are ranged
# GETs, a dozen or so a second in a catch-up, and at 1 MiB each the gateway
# collected its heap three times a second and faulted in a thousand fresh
# pages a second, on the CPUs the broker and its clients share here. A real
# S3 spends that on its own machines; 32 KiB keeps the stand-in's cost
# small without changing what it stores or answers.
# The gateway must not hold the caller's stdout, or "$(...)" would wait for it.
versitygw --access "$access" --secret "$secret" --port "127.0.0.1:$port" --keep-alive -q \
  posix --io-buffer-size "${FLOE_VERSITYGW_IO_BUFFER:-32768}" "$dir/data" </dev/null >"$dir/versitygw.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/versitygw.pid"

for _ in $(seq 1 100); do # up to 10 s; it is usually ready in under 0.1 s
  if answers "$port"; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "versitygw.sh: versitygw exited; its log:" >&2
    cat "$dir/versitygw.log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! answers "$port"; then
  echo "versitygw.sh: versitygw did not answer on 127.0.0.1:$port" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
fi
echo "versitygw.sh: versitygw $version pid $pid on 127.0.0.1:$port, data in $dir/data" >&2

cat <<EXPORTS
export FLOE_TEST_S3_URL='s3://floe-test?endpoint=http://127.0.0.1:$port&region=us-east-1&path_style=true&create_bucket=true'
export FLOE_S3_ACCESS_KEY_ID='$access'
export FLOE_S3_SECRET_ACCESS_KEY='$secret'
export FLOE_VERSITYGW_PID='$pid'
export FLOE_VERSITYGW_DIR='$dir'
EXPORTS

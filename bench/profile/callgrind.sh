#!/usr/bin/env bash
# Instructions per request of a gateway binary (or nginx) under load: the contender runs
# under valgrind's callgrind on CPU 1 with one worker, wrk (1 thread, 50 connections) on
# CPU 0 drives /noop; counters are zeroed after a 2 s warm-up and dumped after SECONDS.
# Instruction counts do not depend on the machine's load. Function names need symbols and a
# binary valgrind 3.19 can map: a glibc build (CARGO_PROFILE_RELEASE_STRIP=false
# CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p gateway); of the
# static-pie musl binary it reads totals only. Break the file down with callgrind_report.py.
#
# usage: bench/profile/callgrind.sh BIN|nginx [SECONDS]   (BACKEND as in ab.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$1; secs=${2:-10}
backend=${BACKEND:-target/release/bench-backend}
dir=$(mktemp -d)
sed "s#DIR#$dir#g; s#^daemon off;#daemon off;\nmaster_process off;#" "$here/nginx.conf" > "$dir/nginx.conf"
taskset -c 0 "$backend" --port 8000 2>/dev/null & backend_pid=$!
if [ "$bin" = nginx ]; then
  taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out.%p" \
    nginx -c "$dir/nginx.conf" -e "$dir/error.log" >/dev/null 2>"$dir/valgrind.log" & pid=$!
else
  TOKIO_WORKER_THREADS=1 taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out.%p" \
    "$bin" run -c "$here/gateway.json" >/dev/null 2>"$dir/valgrind.log" & pid=$!
fi
trap 'kill $pid $backend_pid 2>/dev/null' EXIT
for _ in $(seq 200); do curl -sf -o /dev/null localhost:8080/noop && break; sleep 0.1; done
taskset -c 0 wrk -t1 -c50 -d2s http://127.0.0.1:8080/noop >/dev/null
callgrind_control -z $pid >/dev/null 2>&1
requests=$(taskset -c 0 wrk -t1 -c50 -d"${secs}s" http://127.0.0.1:8080/noop | awk '/requests in/{print $1}')
callgrind_control -d $pid >/dev/null 2>&1
sleep 1
file=$(ls -t "$dir"/callgrind.out.*.* | head -1)
total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$file")
echo "$bin: $requests requests, $total instructions, $((total / requests)) per request"
echo "profile: $file (requests: $requests)"

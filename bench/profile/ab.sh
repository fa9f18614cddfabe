#!/usr/bin/env bash
# Same-minute A/B of gateway binaries (and nginx) on the no-op proxy path: wrk (1 thread,
# CONNS connections) on CPU 0, the contender and bench-backend on CPU 1, one worker each.
# Prints req/s and CPU time per request (user + system, from /proc) for every run, then the
# median req/s of each contender. Drop the page cache first (echo 3 > /proc/sys/vm/drop_caches):
# a binary written a minute before runs slower than one read back from disk.
#
# usage: bench/profile/ab.sh ROUNDS SECONDS BIN|nginx...
#   BACKEND=path/to/bench-backend (default: target/release/bench-backend), CONNS=50
set -u
here=$(cd "$(dirname "$0")" && pwd)
rounds=$1; secs=$2; shift 2
backend=${BACKEND:-target/release/bench-backend}
conns=${CONNS:-50}
dir=$(mktemp -d)
sed "s#DIR#$dir#g" "$here/nginx.conf" > "$dir/nginx.conf"
taskset -c 1 "$backend" --port 8000 2>/dev/null & backend_pid=$!
trap 'kill $backend_pid 2>/dev/null; rm -rf "$dir"' EXIT
sleep 0.5
tick=$(getconf CLK_TCK)
declare -A results
for round in $(seq 1 "$rounds"); do
  for bin in "$@"; do
    if [ "$bin" = nginx ]; then
      taskset -c 1 nginx -c "$dir/nginx.conf" -e "$dir/error.log" & pid=$!
      sleep 0.5; measured=$(pgrep -P $pid | head -1)
    else
      TOKIO_WORKER_THREADS=1 taskset -c 1 "$bin" run -c "$here/gateway.json" >/dev/null 2>&1 & pid=$!
      measured=$pid
    fi
    for _ in $(seq 50); do curl -sf -o /dev/null localhost:8080/noop && break; sleep 0.05; done
    taskset -c 0 wrk -t1 -c"$conns" -d1s http://127.0.0.1:8080/noop >/dev/null
    read -r user0 sys0 < <(awk '{print $14, $15}' /proc/$measured/stat)
    out=$(taskset -c 0 wrk -t1 -c"$conns" -d"${secs}s" http://127.0.0.1:8080/noop)
    read -r user1 sys1 < <(awk '{print $14, $15}' /proc/$measured/stat)
    requests=$(echo "$out" | awk '/requests in/{print $1}')
    rate=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    cpu=$(awk -v u=$((user1 - user0)) -v s=$((sys1 - sys0)) -v n="$requests" -v t="$tick" \
      'BEGIN { printf "%.2f us (%.2f + %.2f)", (u + s) / t / n * 1e6, u / t / n * 1e6, s / t / n * 1e6 }')
    echo "round $round $bin: $rate req/s, CPU/req $cpu"
    results[$bin]+="$rate "
    kill $pid; wait $pid 2>/dev/null
    sleep 0.3
  done
done
for bin in "$@"; do
  echo "median $bin: $(echo ${results[$bin]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') req/s"
done

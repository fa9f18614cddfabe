-- Loaded by `cargo xtask bench` into every wrk run: prints one machine-readable line at the
-- end (latencies in microseconds), which xtask/src/bench/loadgen.rs parses.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "CEPHALO_WRK requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max))
end

#!/bin/bash
# A write flood that outruns the receivers: a 3-node cluster on loopback, the same five write
# commands twice against node a (docs/benchmarks.md, "Back-pressure instead of loss").
# usage: GEOCACHE=/path/to/geocache [N=1000000] [BASE=32100] docs/bench-backpressure.sh
# Prints per command the requests per second and each node's CPU µs per request, then each
# node's loss and repair counters from INFO replication.
# Ports: BASE+1..3 RESP of nodes a..c, BASE+11..13 HTTP, BASE+21..23 libp2p.
GEOCACHE=${GEOCACHE:-./geocache}; BASE=${BASE:-32100}; N=${N:-1000000}
D=$(mktemp -d); pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf $D' EXIT
for i in 1 2 3; do
  args=(--resp-listen 127.0.0.1:$((BASE+i)) --http-listen 127.0.0.1:$((BASE+10+i))
    --p2p-listen /ip4/127.0.0.1/tcp/$((BASE+20+i)) --max-memory 2GiB --log-level warn)
  for j in 1 2 3; do [ $j != $i ] && args+=(--join /ip4/127.0.0.1/tcp/$((BASE+20+j))); done
  $GEOCACHE "${args[@]}" > $D/n$i.log 2>&1 & pids+=($!)
done
for i in 1 2 3; do
  for t in $(seq 150); do curl -sf 127.0.0.1:$((BASE+10+i))/readyz >/dev/null && break; sleep 0.2; done
done
for t in $(seq 300); do
  [ "$(redis-cli -p $((BASE+1)) info replication | tr -d '\r' | grep cluster_peers_connected: | cut -d: -f2)" = 2 ] && break; sleep 0.1
done
tck=$(getconf CLK_TCK)
cpu() { for p in ${pids[@]}; do awk '{printf "%d ", $14+$15}' /proc/$p/stat; done; }
bench() {
  local a b out
  a=($(cpu)); out=$(redis-benchmark -p $((BASE+1)) -n $N -c 50 -P 16 -r 100000 --csv "$@" | tail -1); b=($(cpu))
  printf "%-45s rps=%s cpu_us a=%.2f b=%.2f c=%.2f\n" "$*" "$(echo $out | cut -d, -f2 | tr -d '"')" \
    $(for i in 0 1 2; do echo "(${b[$i]}-${a[$i]})*1000000/$tck/$N" | bc -l; done)
}
for r in 1 2; do
  echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg)"
  bench set 'k:__rand_int__' xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
  bench hset 'myhash:__rand_int__' f v
  bench hset myhash '__rand_int__' v
  bench sadd myset '__rand_int__'
  bench zadd myzset '__rand_int__' 'm__rand_int__'
done
for i in 1 2 3; do
  echo "node $i: $(redis-cli -p $((BASE+i)) info replication | tr -d '\r' | grep -E \
    '^(repl_deltas_dropped|repl_sync_sessions|repl_deltas_received_sync|repl_snapshots_sent|repl_sync_paced|repl_passes_waited|cluster_dropped_outbound):' | tr '\n' ' ')"
done

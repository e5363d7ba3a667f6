#!/bin/bash
# p99 of paced GETs during BGSAVE vs without, geocache (--data-dir) and redis-server, alternating
# Usage: go build -o /tmp/geocache ./cmd/geocache && go build -o /tmp/pacedget ./cmd/pacedget && docs/bench-save-p99.sh
G=${GEOCACHE:-/tmp/geocache}; P=${PACEDGET:-/tmp/pacedget}; D=${DIR:-/tmp/bench-save-p99}; rm -rf $D; mkdir -p $D/g $D/r
$G --resp-listen 127.0.0.1:22501 --http-listen 127.0.0.1:22511 --p2p-listen "" --max-memory 4GiB --save-interval 0 --log-level warn --data-dir $D/g > $D/g.log 2>&1 & GP=$!
redis-server --port 22502 --bind 127.0.0.1 --appendonly no --save "" --dir $D/r --daemonize no > $D/r.log 2>&1 & RP=$!
sleep 1
redis-benchmark -p 22501 -t set -r 1000000 -n 2000000 -d 100 -P 32 -q >/dev/null 2>&1
redis-benchmark -p 22502 -t set -r 1000000 -n 2000000 -d 100 -P 32 -q >/dev/null 2>&1
echo "keys: geocache $(redis-cli -p 22501 dbsize) redis $(redis-cli -p 22502 dbsize); load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in 1 2 3; do
  for side in g r; do
    port=22501; [ $side = r ] && port=22502
    echo "round $r $side (load $(cut -d' ' -f1 /proc/loadavg)):"; $P -addr 127.0.0.1:$port -rate 3000 -conns 8 -duration 20s -keyspace 1000000 -bgsave 2>&1 | tail -3
  done
done
kill $GP $RP; wait

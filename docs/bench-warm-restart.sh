#!/bin/bash
# Warm-restart benchmark (docs/benchmarks.md): redis-server SAVE and restart load against a
# geocache cluster node (one peer connected) SAVE and restart (kill -9, then load), the same data
# shape in the same run, plus GET latency at a steady rate on each, idle and while BGSAVE runs
# back to back.
#   go build -o /tmp/geocache ./cmd/geocache && go build -o /tmp/pacedget ./cmd/pacedget
#   GEOCACHE=/tmp/geocache PACEDGET=/tmp/pacedget N=1000000 REQ=2000000 docs/bench-warm-restart.sh
# FIRST=geocache runs the geocache side first (default redis); alternate it between runs.
# RATE (default 5000) GETs/s over 8 connections for LATSEC (default 12) seconds.
# Needs redis-server, redis-cli, redis-benchmark (Debian redis-server, redis-tools), curl, bc.
# Uses loopback ports BASE+1, BASE+11..13, BASE+21..23 (BASE=27200 unless set).
set -u
N=${N:-1000000}; REQ=${REQ:-2000000}; B=${BASE:-27200}; FIRST=${FIRST:-redis}
RATE=${RATE:-5000}; LATSEC=${LATSEC:-12}; P=${PACEDGET:-/tmp/pacedget}; G=${GEOCACHE:-./geocache}
RP1=$((B+1)); A1=$((B+11)); A2=$((B+12)); A3=$((B+13)); B1=$((B+21)); B2=$((B+22)); B3=$((B+23))
D=${DIR:-/tmp/warm-bench}; rm -rf $D; mkdir -p $D/redis $D/a $D/b
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
waitn() {
  local deadline=$(( $(date +%s) + 120 )) # port want -> seconds until PING answers and DBSIZE == want
  local t0=$1 port=$2 want=$3
  while :; do
    r=$(redis-cli -p $port DBSIZE 2>/dev/null)
    [ "$r" = "$want" ] && break
    [ $(date +%s) -gt $deadline ] && { echo "TIMEOUT($r)"; return; }
    sleep 0.005
  done
  echo "$(now) - $t0" | bc
}
# latency SIDE PORT: paced GETs for LATSEC s while BGSAVE runs every other period (pacedget
# -bgsave: a save, then as long without one), p99 of the requests due during saves against the
# p99 of the others.
latency() {
  $P -addr 127.0.0.1:$2 -rate $RATE -duration ${LATSEC}s -keyspace $N -bgsave | sed "s/^/$1 get /"
  echo "$1 latency measured at load $(load)"
}
redis_side() {
  redis-server --port $RP1 --bind 127.0.0.1 --dir $D/redis --save '' --appendonly no --daemonize no --logfile $D/redis.log & RP=$!
  for i in $(seq 100); do redis-cli -p $RP1 PING >/dev/null 2>&1 && break; sleep 0.1; done
  redis-benchmark -p $RP1 -t set -r $N -n $REQ -d 100 -P 32 -q >/dev/null
  RN=$(redis-cli -p $RP1 DBSIZE)
  local l=$(load); t0=$(now); redis-cli -p $RP1 SAVE >/dev/null; RS=$(echo "$(now) - $t0" | bc)
  RB=$(stat -c %s $D/redis/dump.rdb)
  latency redis $RP1
  kill $RP; wait $RP 2>/dev/null
  local l2=$(load); t0=$(now)
  redis-server --port $RP1 --bind 127.0.0.1 --dir $D/redis --save '' --appendonly no --daemonize no --logfile $D/redis.log & RP=$!
  RL=$(waitn $t0 $RP1 $RN)
  kill $RP; wait $RP 2>/dev/null
  echo "redis keys=$RN save_s=$RS (load $l) load_s=$RL (load $l2) bytes=$RB bytes_per_key=$((RB/RN))"
}
geocache_side() {
  local common="--max-memory 4GiB --save-interval 0 --log-level warn"
  $G $common --data-dir $D/a --resp-listen 127.0.0.1:$A1 --http-listen 127.0.0.1:$A2 --p2p-listen /ip4/127.0.0.1/tcp/$A3 > $D/a.log 2>&1 & AP=$!
  for i in $(seq 100); do grep -q "/p2p/12D" $D/a.log && break; sleep 0.1; done
  AID=$(grep -o "/p2p/12D[A-Za-z0-9]*" $D/a.log | head -1 | cut -d/ -f3)
  $G $common --data-dir $D/b --resp-listen 127.0.0.1:$B1 --http-listen 127.0.0.1:$B2 --p2p-listen /ip4/127.0.0.1/tcp/$B3 --join /ip4/127.0.0.1/tcp/$A3/p2p/$AID > $D/b.log 2>&1 & BP=$!
  for i in $(seq 100); do curl -sf 127.0.0.1:$B2/readyz >/dev/null && break; sleep 0.1; done
  redis-benchmark -p $A1 -t set -r $N -n $REQ -d 100 -P 32 -q >/dev/null
  GN=$(redis-cli -p $A1 DBSIZE)
  waitn $(now) $B1 $GN >/dev/null   # the peer holds everything too
  local l=$(load); t0=$(now); redis-cli -p $A1 SAVE >/dev/null; GS=$(echo "$(now) - $t0" | bc)
  GB=$(stat -c %s $D/a/cache.snap)
  latency geocache $A1
  redis-cli -p $A1 INFO persistence | grep -E "rdb_saves|snapshot_last_save_duration_sec"
  redis-cli -p $A1 SAVE >/dev/null
  kill -9 $AP; wait $AP 2>/dev/null
  local l2=$(load); t0=$(now)
  $G $common --data-dir $D/a --resp-listen 127.0.0.1:$A1 --http-listen 127.0.0.1:$A2 --p2p-listen /ip4/127.0.0.1/tcp/$A3 >> $D/a.log 2>&1 & AP=$!
  GL=$(waitn $t0 $A1 $GN)
  echo "geocache keys=$GN save_s=$GS (load $l) load_s=$GL (load $l2) bytes=$GB bytes_per_key=$((GB/GN))"
  redis-cli -p $A1 INFO persistence | grep -E "rdb_last_load_keys_loaded|snapshot_last_load_duration_sec"
  grep -i snapshot $D/a.log | tail -2
  kill $AP $BP; wait $AP $BP 2>/dev/null
}
echo "start: load average $(cat /proc/loadavg)"
if [ "$FIRST" = geocache ]; then geocache_side; redis_side; else redis_side; geocache_side; fi
echo "end: load average $(cat /proc/loadavg)"

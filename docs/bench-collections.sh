#!/bin/bash
# Collections against redis-server, standalone, alternating servers each round (docs/benchmarks.md).
# usage: GEOCACHE=/path/to/geocache [N=100000] [BASE=32000] [CLUSTER=1] docs/bench-collections.sh ROUNDS
#        GEOCACHE=/path/to/geocache [BASE=32000] [E=300000] docs/bench-collections.sh mem
# Throughput: prints per run server, command, requests per second, server CPU µs per request.
# CLUSTER=1: the geocache side is a cluster node with two peers connected (3 processes on
# loopback); the requests go to one, and the CPU is that of all three processes. It also runs
# a third side, redis-repl: a redis-server primary with two --replicaof replicas (the requests
# go to the primary, the CPU is that of all three), the replicated anchor of issue 12's
# aggregate row, so the cost of replication on this machine is measured for Redis too.
# mem: per type, a fresh server, E elements loaded into one key 1000 per command
# (redis-cli --pipe); prints RSS growth and INFO used_memory growth per element.
# Ports: BASE+1..BASE+3 node A (RESP, HTTP, libp2p), BASE+11.. node B, BASE+21.. node C, BASE+10 redis,
# BASE+30 and BASE+31 its replicas (redis-repl).
GEOCACHE=${GEOCACHE:-./geocache}; BASE=${BASE:-32000}
GPORT=$((BASE+1)); RPORT=$((BASE+10))
D=$(mktemp -d); trap 'stop 2>/dev/null; rm -rf $D' EXIT
cpu() { local s=0; for p in "$@"; do s=$((s + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $s; }
rss() { awk '/VmRSS/ {print $2*1024}' /proc/$1/status; }
tck=$(getconf CLK_TCK)
# idle: waits (at most ~10 s) until the processes use under 2 ticks (20 ms) in 0.3 s, so that peers still
# applying the previous row's writes are not counted in the next row (nor missing from theirs).
idle() { for i in $(seq 30); do a=$(cpu "$@"); sleep 0.3; [ $(( $(cpu "$@") - a )) -lt 2 ] && return; done; }
run() { # port "pids" name n args...
  port=$1; pids=$2; who=$3; n=$4; shift 4
  idle $pids
  c0=$(cpu $pids)
  out=$(redis-benchmark -h 127.0.0.1 -p $port -n $n -c 50 -P 16 -r 100000 --csv "$@" 2>/dev/null | tail -1)
  idle $pids # the peers' (or replicas') apply of this row's writes is this row's
  c1=$(cpu $pids)
  rps=$(echo "$out" | cut -d, -f2 | tr -d '"')
  us=$(echo "($c1-$c0)*1000000/$tck/$n" | bc -l)
  printf "%s %s rps=%s cpu_us=%.2f\n" "$who" "$*" "$rps" "$us"
}
gnode() { # name offset [join]: starts a cluster node, appends its pid to pids
  local j=(); [ -n "$3" ] && j=(--join "$3")
  $GEOCACHE --resp-listen 127.0.0.1:$((BASE+$2+1)) --http-listen 127.0.0.1:$((BASE+$2+2)) \
    --p2p-listen /ip4/127.0.0.1/tcp/$((BASE+$2+3)) --max-memory 2GiB "${j[@]}" > $D/$1.log 2>&1 &
  pids="$pids $!"
}
start() { # who -> sets pids, port
  if [ $1 = redis ] || [ $1 = redis-repl ]; then
    redis-server --port $RPORT --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 & pids=$!; port=$RPORT
    if [ $1 = redis-repl ]; then
      for rp in $((BASE+30)) $((BASE+31)); do
        redis-server --port $rp --bind 127.0.0.1 --save "" --appendonly no --replicaof 127.0.0.1 $RPORT >/dev/null 2>&1 &
        pids="$pids $!"
      done
      for i in $(seq 100); do
        [ "$(redis-cli -p $RPORT info replication 2>/dev/null | tr -d '\r' | grep -c 'slave[01]:.*state=online')" = 2 ] && break; sleep 0.1
      done
    fi
  elif [ -z "$CLUSTER" ]; then
    $GEOCACHE --resp-listen 127.0.0.1:$GPORT --http-listen 127.0.0.1:$((BASE+2)) --p2p-listen "" --max-memory 2GiB --pprof >/dev/null 2>&1 & pids=$!; port=$GPORT
  else
    pids=""; gnode a 0
    for i in $(seq 100); do grep -q "/p2p/12D" $D/a.log && break; sleep 0.1; done
    aid=$(grep -o "/p2p/12D[A-Za-z0-9]*" $D/a.log | head -1 | cut -d/ -f3)
    gnode b 10 /ip4/127.0.0.1/tcp/$((BASE+3))/p2p/$aid; gnode c 20 /ip4/127.0.0.1/tcp/$((BASE+3))/p2p/$aid
    port=$GPORT
    for i in $(seq 300); do
      [ "$(redis-cli -p $GPORT info replication 2>/dev/null | tr -d '\r' | grep cluster_peers_connected: | cut -d: -f2)" = 2 ] && break; sleep 0.1
    done
  fi
  for i in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.2; done
  # A port of ours may be held by another connection's ephemeral port (TIME_WAIT): start again.
  for p in $pids; do kill -0 $p 2>/dev/null || { echo "a server did not start; again" >&2; stop 2>/dev/null; sleep 2; start $1; return; }; done
}
stop() { for p in $pids; do kill $p; done; for p in $pids; do wait $p 2>/dev/null; done; }
if [ "$1" = mem ]; then
  E=${E:-300000}
  gen() { # type -> redis protocol, 1000 elements per command
    awk -v t=$1 -v e=$E 'function cmd(n, s) { printf "*%d\r\n%s", n, s } BEGIN {
      for (i = 0; i < e; i += 1000) { s = ""; n = 2
        for (j = i; j < i + 1000 && j < e; j++) {
          if (t == "hash") { f = sprintf("field:%07d", j); v = sprintf("value:%07d", j); s = s sprintf("$%d\r\n%s\r\n$%d\r\n%s\r\n", length(f), f, length(v), v); n += 2 }
          else if (t == "set") { m = sprintf("member:%07d", j); s = s sprintf("$%d\r\n%s\r\n", length(m), m); n++ }
          else { sc = sprintf("%d", j); m = sprintf("member:%07d", j); s = s sprintf("$%d\r\n%s\r\n$%d\r\n%s\r\n", length(sc), sc, length(m), m); n += 2 } }
        c = (t == "hash") ? "HSET" : (t == "set") ? "SADD" : "ZADD"
        printf "*%d\r\n$%d\r\n%s\r\n$1\r\nk\r\n%s", n, length(c), c, s } }'
  }
  for t in hash set zset; do gen $t > $D/$t.proto; done
  for who in geocache redis ${CLUSTER:+redis-repl}; do
    for t in hash set zset; do
      start $who; p=$(echo $pids | cut -d' ' -f1)
      r0=$(rss $p); u0=$(redis-cli -p $port info memory | tr -d '\r' | grep '^used_memory:' | cut -d: -f2)
      redis-cli -p $port --pipe < $D/$t.proto >/dev/null
      sleep 2
      r1=$(rss $p); u1=$(redis-cli -p $port info memory | tr -d '\r' | grep '^used_memory:' | cut -d: -f2)
      printf "%s %s elements=%d rss_per_elem=%.1f used_memory_per_elem=%.1f card=%s\n" $who $t $E \
        $(echo "($r1-$r0)/$E" | bc -l) $(echo "($u1-$u0)/$E" | bc -l) \
        "$(redis-cli -p $port $( [ $t = hash ] && echo HLEN || ([ $t = set ] && echo SCARD) || echo ZCARD) k)"
      stop
    done
  done
  exit 0
fi
N=${N:-200000}
for r in $(seq ${1:-3}); do
  for who in geocache redis ${CLUSTER:+redis-repl}; do
    start $who
    echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg) ${CLUSTER:+cluster}"
    run $port "$pids" $who $N hset 'myhash:__rand_int__' f v
    run $port "$pids" $who $N hset myhash '__rand_int__' v
    run $port "$pids" $who $N hget myhash '__rand_int__'
    run $port "$pids" $who $N sadd myset '__rand_int__'
    run $port "$pids" $who $N sismember myset '__rand_int__'
    run $port "$pids" $who $N zadd myzset '__rand_int__' 'm__rand_int__'
    run $port "$pids" $who $N zrange myzset 0 9
    stop
  done
done

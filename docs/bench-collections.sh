#!/bin/bash
# Collections against redis-server, standalone, alternating servers each round (docs/benchmarks.md).
# usage: GEOCACHE=/path/to/geocache [N=100000] [GPORT=32001 HPORT=32002 RPORT=32010] docs/bench-collections.sh ROUNDS
# Prints per run: server, command, requests per second, server CPU µs per request.
GEOCACHE=${GEOCACHE:-./geocache}; GPORT=${GPORT:-32001}; HPORT=${HPORT:-32002}; RPORT=${RPORT:-32010}
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
tck=$(getconf CLK_TCK)
run() { # port pid name n args...
  port=$1; pid=$2; who=$3; n=$4; shift 4
  c0=$(cpu $pid)
  out=$(redis-benchmark -h 127.0.0.1 -p $port -n $n -c 50 -P 16 -r 100000 --csv "$@" 2>/dev/null | tail -1)
  c1=$(cpu $pid)
  rps=$(echo "$out" | cut -d, -f2 | tr -d '"')
  us=$(echo "($c1-$c0)*1000000/$tck/$n" | bc -l)
  printf "%s %s rps=%s cpu_us=%.2f\n" "$who" "$*" "$rps" "$us"
}
N=${N:-200000}
for r in $(seq ${1:-3}); do
  for who in geocache redis; do
    if [ $who = geocache ]; then
      $GEOCACHE --resp-listen 127.0.0.1:$GPORT --http-listen 127.0.0.1:$HPORT --p2p-listen "" --max-memory 2GiB --pprof >/dev/null 2>&1 & port=$GPORT
    else
      redis-server --port $RPORT --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 & port=$RPORT
    fi
    pid=$!
    for i in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.2; done
    echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg)"
    run $port $pid $who $N hset 'myhash:__rand_int__' f v
    run $port $pid $who $N hset myhash '__rand_int__' v
    run $port $pid $who $N hget myhash '__rand_int__'
    run $port $pid $who $N sadd myset '__rand_int__'
    run $port $pid $who $N sismember myset '__rand_int__'
    run $port $pid $who $N zadd myzset '__rand_int__' 'm__rand_int__'
    run $port $pid $who $N zrange myzset 0 9
    kill $pid; wait $pid 2>/dev/null
  done
done

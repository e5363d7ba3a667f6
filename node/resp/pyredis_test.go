package resp_test

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/geocache/geocache/node/resp"
)

// pyScript drives the server with redis-py, unchanged: its default pipeline (MULTI/EXEC), a
// WATCH transaction, and Lock, whose release is an EVALSHA (a lock that cannot be released
// stays held until its timeout).
const pyScript = `
import sys, redis
host, port = sys.argv[1], int(sys.argv[2])
r = redis.Redis(host=host, port=port)
p = r.pipeline()
p.set('py:a', '1'); p.get('py:a'); p.set('py:b', '2')
assert p.execute() == [True, b'1', True]
with r.pipeline() as pipe:
    pipe.watch('py:a')
    v = int(pipe.get('py:a'))
    pipe.multi()
    pipe.set('py:a', v + 1)
    pipe.execute()
assert r.get('py:a') == b'2'
lock = r.lock('py:lock', timeout=60)
assert lock.acquire(blocking=False)
assert not r.lock('py:lock', timeout=60).acquire(blocking=False)
lock.release()
assert r.get('py:lock') is None, 'the lock is still held after release'
again = r.lock('py:lock', timeout=60)
assert again.acquire(blocking=False), 'the lock could not be taken again at once'
again.release()
# Introspection redis-py parses into dicts: every field Redis prints, the ID filter.
r.client_setname('py-client')
info = r.client_info()
for k in ('id', 'addr', 'laddr', 'fd', 'name', 'age', 'idle', 'flags', 'db', 'sub', 'psub', 'multi',
          'qbuf', 'qbuf-free', 'argv-mem', 'multi-mem', 'obl', 'oll', 'omem', 'tot-mem', 'events', 'cmd',
          'user', 'redir', 'resp'):
    assert k in info, 'client_info() lacks ' + k
assert info['name'] == 'py-client' and info['cmd'] == 'client|info', info
mine = r.client_list(client_id=[str(info['id'])])
assert len(mine) == 1 and mine[0]['name'] == 'py-client', mine
assert r.client_list(_type='pubsub') == []
ks = r.info('keyspace')
assert ks['db0']['expires'] == 0 and 'avg_ttl' in ks['db0'], ks
print('ok')
`

func TestRedisPy(t *testing.T) {
	t.Parallel()
	// The Debian package installs into the system Python, which may not be the first python3
	// on PATH.
	py := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import redis").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		if os.Getenv("GEOCACHE_REQUIRE_REDIS") != "" {
			t.Fatal("python3 with the redis module (Debian python3-redis) is required")
		}
		t.Skip("python3 with the redis module (Debian python3-redis) is not installed")
	}
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(py, "-c", pyScript, host, port).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("redis-py: %v\n%s", err, out)
	}
}

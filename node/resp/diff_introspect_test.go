package resp_test

import (
	"bufio"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/geocache/geocache/node/resp"
)

// Introspection that clients and tools parse: the HELP texts, CLIENT LIST / CLIENT INFO with
// Redis's fields and filters, INFO keyspace, COMMAND LIST FILTERBY.

// clientInfoVaries masks the CLIENT INFO fields whose values depend on the connection and the
// moment (ids, ports, descriptors, ages, buffer sizes) and the reply's length header; the field
// names, their order and every other value are compared.
var clientInfoVaries = `(?m)^[$=]\d+|\b(?:id|addr|laddr|fd|age|idle|qbuf|qbuf-free|argv-mem|rbs|rbp|tot-mem)=\S*`

// keyspaceVaries masks Redis's avg_ttl, an estimate its expiry cycle updates, and the length.
var keyspaceVaries = `(?m)^\$\d+|avg_ttl=\d+`

// onlyGeocacheCommands keeps, in a COMMAND LIST reply, the names geocache implements, so that a
// filtered list from Redis (which has more commands) compares with geocache's.
func onlyGeocacheCommands(s string) string {
	v, err := parseTree(bufio.NewReader(strings.NewReader(s)))
	if err != nil || v.head[0] != '*' {
		return s
	}
	known := resp.CommandNames()
	var kept []*tree
	for _, e := range v.elems {
		if slices.Contains(known, strings.TrimSuffix(e.body, "\r\n")) {
			kept = append(kept, e)
		}
	}
	v.elems = kept
	v.head = "*" + strconv.Itoa(len(kept)) + "\r\n"
	v.sortLeaves()
	return v.String()
}

func (s step) onlyGeocache() step { s.norm = onlyGeocacheCommands; return s }

func init() {
	sessions = append(sessions, session{name: "introspection", steps: []step{
		cmd("CLIENT", "HELP"),
		cmd("CONFIG", "HELP"),
		cmd("COMMAND", "HELP"),
		cmd("client", "help"),
		cmd("CLIENT", "HELP", "extra"),
		cmd("COMMAND", "HELP", "extra"),

		cmd("CLIENT", "SETNAME", "introspect"),
		cmd("CLIENT", "INFO").masked(clientInfoVaries),
		cmd("CLIENT", "LIST", "TYPE", "master"),
		cmd("CLIENT", "LIST", "TYPE", "replica"),
		cmd("CLIENT", "LIST", "TYPE", "slave"),
		cmd("CLIENT", "LIST", "TYPE", "PubSub"),
		cmd("CLIENT", "LIST", "TYPE", "bogus"),
		cmd("CLIENT", "LIST", "TYPE"),
		cmd("CLIENT", "LIST", "ID"),
		cmd("CLIENT", "LIST", "ID", "abc"),
		cmd("CLIENT", "LIST", "ID", "1.5"),
		cmd("CLIENT", "LIST", "ID", "99999999", "-1"),
		cmd("CLIENT", "LIST", "ID", "99999999", "x"),
		cmd("CLIENT", "LIST", "foo"),
		cmd("CLIENT", "LIST", "TYPE", "normal", "extra"),
		cmd("HELLO", "3").helloID(),
		cmd("CLIENT", "INFO").masked(clientInfoVaries),
		cmd("HELLO", "2").helloID(),

		cmd("INFO", "keyspace"),
		cmd("SET", "plain", "1"),
		cmd("INFO", "keyspace"),
		cmd("SET", "ex", "1", "EX", "1000"),
		cmd("SET", "px", "1", "PX", "5000000"),
		cmd("HSET", "h", "f", "v"),
		cmd("EXPIRE", "h", "2000"),
		cmd("INFO", "keyspace").masked(keyspaceVaries),
		cmd("PERSIST", "ex"),
		cmd("DEL", "px"),
		cmd("INFO", "keyspace").masked(keyspaceVaries),
		cmd("FLUSHALL"),
		cmd("INFO", "keyspace"),

		cmd("COMMAND", "LIST", "FILTERBY", "MODULE", "nosuch"),
		cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"),
		cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection").onlyGeocache(),
		cmd("COMMAND", "LIST", "FILTERBY", "aclcat", "HASH").onlyGeocache(),
		cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "keyspace").onlyGeocache(),
		cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "write").onlyGeocache(),
		cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "dangerous").onlyGeocache(),
		cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*").onlyGeocache(),
		cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "Z*STORE").onlyGeocache(),
		cmd("COMMAND", "LIST", "FILTERBY"),
		cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT"),
		cmd("COMMAND", "LIST", "FILTERBY", "foo", "x"),
		cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "x", "FILTERBY", "ACLCAT", "hash"),
		cmd("COMMAND", "LIST", "foo"),
	}})
}

// TestClientListByIDAgainstRedis compares CLIENT LIST ID with the connection's own id, which
// differs between the servers, so it cannot be a scripted step.
func TestClientListByIDAgainstRedis(t *testing.T) {
	redisAddr := startRedis(t)
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			geoAddr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			mask := maskWith(regexp.MustCompile(clientInfoVaries))
			var got [2]string
			for i, addr := range []string{redisAddr, geoAddr} {
				c := dialRaw(t, addr)
				c.do(t, "CLIENT", "SETNAME", "by-id")
				id := strings.TrimSpace(strings.TrimPrefix(c.do(t, "CLIENT", "ID"), ":"))
				got[i] = mask(c.do(t, "CLIENT", "LIST", "ID", id, "99999999", id))
				if strings.Count(got[i], "name=by-id") != 2 {
					t.Fatalf("%s: CLIENT LIST ID %s %s twice: %q", addr, id, id, got[i])
				}
			}
			if got[0] != got[1] {
				t.Fatalf("CLIENT LIST ID:\nredis:    %q\ngeocache: %q", got[0], got[1])
			}
		})
	}
}

// clientInfoExact masks fewer CLIENT INFO fields than clientInfoVaries: qbuf (the bytes of the
// batch the command came in), argv-mem, obl and the flags compare exactly.
var clientInfoExact = `(?m)^[$=]\d+|\b(?:id|addr|laddr|fd|age|idle|qbuf-free|rbs|rbp|tot-mem)=\S*`

func init() {
	commandsWithRedisMetadata = append(commandsWithRedisMetadata, "client|kill", "client|reply", "monitor")
	sessions = append(sessions, session{name: "client-kill-reply", steps: []step{
		// CLIENT KILL's errors, in the order Redis parses the options.
		cmd("CLIENT", "KILL"),
		cmd("CLIENT", "KILL", "id", "10", "wrong_arg"),
		cmd("CLIENT", "KILL", "ID", "str"),
		cmd("CLIENT", "KILL", "ID", "-1"),
		cmd("CLIENT", "KILL", "ID", "0"),
		cmd("CLIENT", "KILL", "ID", "1.5"),
		cmd("CLIENT", "KILL", "TYPE", "wrong_type"),
		cmd("CLIENT", "KILL", "USER", "wrong_user"),
		cmd("CLIENT", "KILL", "SKIPME", "yes_or_no"),
		cmd("CLIENT", "KILL", "MAXAGE", "5"),
		cmd("CLIENT", "KILL", "ADDR"),
		cmd("CLIENT", "KILL", "TYPE", "wrong_type", "ID", "0"),
		cmd("CLIENT", "KILL", "ID", "0", "TYPE", "wrong_type"),
		cmd("CLIENT", "KILL", "1.2.3.4:5"),
		cmd("CLIENT", "KILL", "ID", "99999"),
		cmd("CLIENT", "KILL", "TYPE", "master"),
		cmd("CLIENT", "KILL", "TYPE", "replica", "SKIPME", "no"),
		cmd("CLIENT", "KILL", "TYPE", "slave"),
		cmd("CLIENT", "KILL", "TYPE", "pubsub", "SKIPME", "NO"),
		cmd("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "LADDR", "1.2.3.4:6"),
		cmd("CLIENT", "KILL", "USER", "default", "ADDR", "1.2.3.4:5"),

		// CLIENT REPLY, pipelined as clients use it.
		cmd("CLIENT", "REPLY", "bogus"),
		cmd("CLIENT", "REPLY"),
		cmd("CLIENT", "REPLY", "ON"),
		raw("CLIENT REPLY OFF\r\nPING a\r\nPING b\r\nCLIENT REPLY ON\r\nPING c\r\n", 2),
		raw("CLIENT REPLY SKIP\r\nPING a\r\nPING b\r\n", 1),
		raw("CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n", 2),
		raw("CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING a\r\nPING b\r\n", 1),
		raw("CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING a\r\nCLIENT REPLY ON\r\n", 1),
		raw("CLIENT REPLY OFF\r\nSET k v\r\nGET k\r\nNOSUCH\r\nCLIENT REPLY ON\r\nGET k\r\n", 2),
		raw("CLIENT REPLY SKIP\r\nEVAL \"return redis.call('get', 'k')\" 0\r\nPING\r\n", 1),
		raw("CLIENT REPLY SKIP\r\nMULTI\r\nSET a 1\r\nEXEC\r\n", 2),

		// MONITOR where it cannot run; CLIENT INFO with the fields geocache knows exactly.
		cmd("MULTI"),
		cmd("MONITOR"),
		cmd("EXEC"),
		cmd("EVAL", "return redis.call('monitor')", "0"),
		cmd("CLIENT", "INFO").masked(clientInfoExact),
		raw("PING\r\nCLIENT INFO\r\n", 2).masked(clientInfoExact),
		cmd("CLIENT", "SETNAME", "x"),
		raw("MULTI\r\nSET a 1\r\nGET a\r\n", 3),
		cmd("CLIENT", "LIST", "ID", "99999"),
		cmd("EXEC"),
		raw("MULTI\r\nSET a 1\r\nCLIENT INFO\r\nEXEC\r\n", 4).masked(clientInfoExact),
	}})
}

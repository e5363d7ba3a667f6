package resp

import (
	"context"
	"crypto/subtle"
	"strings"
)

func cmdPing(_ context.Context, _ *Server, c *client, argv [][]byte) {
	switch len(argv) {
	case 1:
		c.out = append(c.out, "+PONG\r\n"...)
	case 2:
		c.out = appendBulk(c.out, argv[1])
	default:
		c.out = appendError(c.out, "ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(_ context.Context, _ *Server, c *client, argv [][]byte) {
	c.out = appendBulk(c.out, argv[1])
}

func cmdSelect(_ context.Context, _ *Server, c *client, argv [][]byte) {
	id, ok := string2ll(argv[1])
	if !ok {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	if id != int64(int32(id)) {
		c.out = appendError(c.out, "ERR value is out of range, value must between -2147483648 and 2147483647")
		return
	}
	if id != 0 {
		// geocache has one keyspace: database 0.
		c.out = appendError(c.out, "ERR DB index is out of range")
		return
	}
	c.out = append(c.out, "+OK\r\n"...)
}

func cmdQuit(_ context.Context, _ *Server, c *client, _ [][]byte) {
	c.out = append(c.out, "+OK\r\n"...)
	c.closeAfterReply = true
}

// cmdReset restores the connection to its state after connect: RESP2, no name, database 0,
// authenticated only if no password is required.
func cmdReset(_ context.Context, s *Server, c *client, _ [][]byte) {
	c.mu.Lock()
	c.proto, c.name, c.user = 2, "", "default"
	c.mu.Unlock()
	c.authed = !s.authOn
	c.multi, c.watched = nil, nil
	c.reply = 0      // CLIENT REPLY ON
	s.stopMonitor(c) // as Redis's clearClientConnectionState
	c.out = append(c.out, "+RESET\r\n"...)
}

// authenticate checks a user name and password the way Redis's ACLAuthenticateUser does for
// geocache's users: "default" with Config.Password (any password when there is none and no
// other users), or a user from Config.Users.
func (s *Server) authenticate(user, pass []byte) bool {
	if string(user) == "default" {
		if s.cfg.Password == "" {
			return len(s.cfg.Users) == 0 // the default user is "nopass", or disabled
		}
		return subtle.ConstantTimeCompare(pass, []byte(s.cfg.Password)) == 1
	}
	want, ok := s.cfg.Users[string(user)]
	if !ok {
		// Compare anyway so that timing does not tell which users exist.
		subtle.ConstantTimeCompare(pass, pass)
		return false
	}
	return subtle.ConstantTimeCompare(pass, []byte(want)) == 1
}

func (c *client) login(user []byte) {
	c.authed = true
	c.mu.Lock()
	c.user = string(user)
	c.mu.Unlock()
}

func cmdAuth(_ context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv) > 3 {
		c.out = appendError(c.out, errSyntax)
		return
	}
	user, pass := []byte("default"), argv[1]
	if len(argv) == 2 {
		if !s.authOn {
			c.out = appendError(c.out, "ERR AUTH <password> called without any password configured "+
				"for the default user. Are you sure your configuration is correct?")
			return
		}
	} else {
		user, pass = argv[1], argv[2]
	}
	if !s.authenticate(user, pass) {
		c.out = appendError(c.out, errWrongPass)
		return
	}
	c.login(user)
	c.out = append(c.out, "+OK\r\n"...)
}

// redisVersion is the Redis version geocache answers as in HELLO and INFO: the version whose
// replies it reproduces. Clients use it to decide which commands they may send.
const redisVersion = "7.0.15"

func cmdHello(_ context.Context, s *Server, c *client, argv [][]byte) {
	ver := int64(0)
	next := 1
	if len(argv) >= 2 {
		v, ok := string2ll(argv[1])
		if !ok {
			c.out = appendError(c.out, "ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.out = appendError(c.out, "NOPROTO unsupported protocol version")
			return
		}
		ver = v
		next = 2
	}
	var user, pass, name []byte
	for j := next; j < len(argv); j++ {
		more := len(argv) - 1 - j
		opt := cstr(argv[j])
		switch {
		case equalFold(opt, "auth") && more >= 2:
			user, pass = argv[j+1], argv[j+2]
			j += 2
		case equalFold(opt, "setname") && more >= 1:
			name = argv[j+1]
			j++
		default:
			c.out = appendError(c.out, "ERR Syntax error in HELLO option '"+string(opt)+"'")
			return
		}
	}
	if user != nil {
		if !s.authenticate(user, pass) {
			c.out = appendError(c.out, errWrongPass)
			return
		}
		c.login(user)
	}
	if !c.authed {
		c.out = appendError(c.out, "NOAUTH HELLO must be called with the client already authenticated, "+
			"otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and "+
			"select the RESP protocol version at the same time")
		return
	}
	if name != nil && !c.setName(name) {
		return
	}
	if ver != 0 {
		c.mu.Lock()
		c.proto = int(ver)
		c.mu.Unlock()
	}
	c.out = appendMapLen(c.out, 7, c.proto)
	c.out = appendBulkString(c.out, "server")
	c.out = appendBulkString(c.out, "redis")
	c.out = appendBulkString(c.out, "version")
	c.out = appendBulkString(c.out, redisVersion)
	c.out = appendBulkString(c.out, "proto")
	c.out = appendInt(c.out, int64(c.proto))
	c.out = appendBulkString(c.out, "id")
	c.out = appendInt(c.out, int64(c.id))
	c.out = appendBulkString(c.out, "mode")
	c.out = appendBulkString(c.out, "standalone")
	c.out = appendBulkString(c.out, "role")
	c.out = appendBulkString(c.out, "master")
	c.out = appendBulkString(c.out, "modules")
	c.out = appendArrayLen(c.out, 0)
}

// setName is Redis's clientSetNameOrReply. On failure it has replied with the error.
func (c *client) setName(name []byte) bool {
	for _, ch := range name {
		if ch < '!' || ch > '~' {
			c.out = appendError(c.out, "ERR Client names cannot contain spaces, newlines or special characters.")
			return false
		}
	}
	c.mu.Lock()
	c.name = string(name)
	c.mu.Unlock()
	return true
}

func cmdClientID(_ context.Context, _ *Server, c *client, _ [][]byte) {
	c.out = appendInt(c.out, int64(c.id))
}

func cmdClientGetName(_ context.Context, _ *Server, c *client, _ [][]byte) {
	if c.name == "" {
		c.out = appendNull(c.out, c.proto)
		return
	}
	c.out = appendBulkString(c.out, c.name)
}

func cmdClientSetName(_ context.Context, _ *Server, c *client, argv [][]byte) {
	if c.setName(argv[2]) {
		c.out = append(c.out, "+OK\r\n"...)
	}
}

// cmdClientSetInfo accepts CLIENT SETINFO LIB-NAME|LIB-VER value, which clients such as
// go-redis send on connect (Redis 7.2). The values are accepted and not kept.
func cmdClientSetInfo(_ context.Context, _ *Server, c *client, argv [][]byte) {
	attr := cstr(argv[2])
	if !equalFold(attr, "lib-name") && !equalFold(attr, "lib-ver") {
		c.out = appendError(c.out, "ERR Unrecognized option '"+string(attr)+"'")
		return
	}
	for _, ch := range argv[3] {
		if ch < '!' || ch > '~' {
			c.out = appendError(c.out, "ERR "+strings.ToLower(string(attr))+
				" cannot contain spaces, newlines or special characters.")
			return
		}
	}
	c.out = append(c.out, "+OK\r\n"...)
}

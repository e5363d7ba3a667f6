package node

// Match reports whether s matches the Redis glob pattern: '*' any run, '?' any byte, '[abc]',
// '[^a-z]' classes, and '\' escaping the next byte. It follows Redis's stringmatchlen, so SCAN
// MATCH and KEYS select the same keys as Redis would. It works on bytes, not runes.
func Match(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 1 && pattern[1] == '*' {
				pattern = pattern[1:]
			}
			if len(pattern) == 1 {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if Match(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
			s = s[1:]
		case '[':
			if len(s) == 0 {
				return false
			}
			var ok bool
			ok, pattern = matchClass(pattern[1:], s[0])
			if !ok {
				return false
			}
			s = s[1:]
			continue
		case '\\':
			if len(pattern) >= 2 {
				pattern = pattern[1:]
			}
			fallthrough
		default:
			if len(s) == 0 || pattern[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		pattern = pattern[1:]
	}
	return len(s) == 0
}

// matchClass matches c against the class starting after '[' and returns the pattern after the
// closing ']' (or the end, as Redis tolerates an unterminated class).
func matchClass(p string, c byte) (bool, string) {
	not := len(p) > 0 && p[0] == '^'
	if not {
		p = p[1:]
	}
	match := false
	for {
		switch {
		case len(p) == 0:
			return match != not, p
		case p[0] == '\\' && len(p) >= 2:
			if p[1] == c {
				match = true
			}
			p = p[2:]
		case p[0] == ']':
			return match != not, p[1:]
		case len(p) >= 3 && p[1] == '-':
			lo, hi := p[0], p[2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				match = true
			}
			p = p[3:]
		default:
			if p[0] == c {
				match = true
			}
			p = p[1:]
		}
	}
}

package node

// Match reports whether s matches the Redis glob pattern: '*' any run, '?' any byte, '[abc]',
// '[^a-z]' classes, and '\' escaping the next byte. It is a port of Redis's stringmatchlen,
// including its defences against pathological patterns (CVE-2022-36021): a star that failed
// to match the rest at some offset stops every enclosing star from trying longer matches, and
// recursion is capped at 1000 nested stars. So SCAN MATCH and KEYS select what Redis would, in
// time polynomial in the pattern and key lengths. It works on bytes, not runes.
func Match(pattern, s string) bool {
	skip := false
	return matchGlob(pattern, s, &skip, 0)
}

const maxGlobNesting = 1000

func matchGlob(p, s string, skipLonger *bool, nesting int) bool {
	if nesting > maxGlobNesting {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if matchGlob(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			p, s = p[1:], s[1:]
		case '[':
			ok, rest := matchClass(p[1:], s[0])
			if !ok {
				return false
			}
			p, s = rest, s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
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

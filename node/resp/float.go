package resp

import (
	"math/big"
)

// INCRBYFLOAT computes in C's long double, which redis-server on x86-64 has as the x87 80-bit
// format: a 64-bit mantissa and a 15-bit exponent. Its replies are that arithmetic formatted
// with "%.17Lf" and trimmed, so reproducing them byte for byte takes the same precision, not
// float64 (10.5 + 0.1 is "10.6" in long double and "10.599999999999999" in float64). big.Float
// with 64 bits of mantissa and round-to-nearest-even is that arithmetic; the exponent range is
// checked by hand.

const (
	ldPrec    = 64     // x87 extended mantissa bits
	ldMaxExp  = 16384  // |x| < 2**16384 (big.Float exponents: x = m * 2**exp, 0.5 <= m < 1)
	ldMinExp  = -16444 // smallest subnormal is 2**-16445; below half of it strtold gives 0
	ldMaxChar = 5 * 1024
)

// parseLongDouble is Redis's string2ld: strtold over the whole argument, rejecting leading
// space, trailing bytes (an embedded NUL included), NaN, and values that overflow or underflow
// to zero. "inf" and "infinity" are accepted (the addition then fails as Redis's does), so
// inf reports whether the value is infinite rather than returning it in x.
func parseLongDouble(b []byte) (x *big.Float, inf, ok bool) {
	if len(b) == 0 || len(b) >= ldMaxChar {
		return nil, false, false
	}
	s := string(b)
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	rest := s[i:]
	if isInfWord(rest) {
		return nil, true, true
	}
	hex := len(rest) >= 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X')
	if hex {
		if !validNumber(rest[2:], true) {
			return nil, false, false
		}
	} else if !validNumber(rest, false) {
		return nil, false, false
	}
	x, _, err := big.ParseFloat(s, 0, ldPrec, big.ToNearestEven)
	if err != nil {
		return nil, false, false
	}
	if x.Sign() == 0 {
		if neg {
			x.Neg(x)
		}
		return x, false, true
	}
	e := x.MantExp(nil)
	if e > ldMaxExp || e < ldMinExp {
		return nil, false, false // ERANGE with HUGE_VAL or 0: Redis refuses
	}
	return x, false, true
}

func isInfWord(s string) bool {
	return equalFold([]byte(s), "inf") || equalFold([]byte(s), "infinity")
}

// validNumber checks the strtold syntax after the sign (and the "0x" of a hex float): digits
// with at most one '.', at least one digit, then optionally an exponent ('e' for decimal, 'p'
// for hex) with an optional sign and at least one decimal digit. Anything else would leave
// strtold's end pointer short of the end, which Redis refuses. big.ParseFloat is more lenient
// ("1_000", "0b101"), hence this check first.
func validNumber(s string, hex bool) bool {
	digits, i := 0, 0
	dot := false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', hex && (c|0x20) >= 'a' && (c|0x20) <= 'f':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			goto exp
		}
	}
exp:
	if digits == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if c := s[i] | 0x20; (!hex && c != 'e') || (hex && c != 'p') {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// addLongDouble returns a+b rounded to long double, or ok=false if the sum is infinite.
func addLongDouble(a, b *big.Float) (*big.Float, bool) {
	z := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven)
	z.Add(a, b)
	if z.Sign() != 0 && z.MantExp(nil) > ldMaxExp {
		return nil, false
	}
	return z, true
}

// formatLongDouble is Redis's ld2string in LD_STR_HUMAN mode: "%.17Lf" with trailing zeros
// (and a trailing '.') removed, and "-0" written as "0".
func formatLongDouble(x *big.Float) []byte {
	b := x.Append(nil, 'f', 17)
	for i := len(b) - 1; i > 0 && b[i] == '0'; i-- {
		b = b[:i]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	if string(b) == "-0" {
		b = b[1:]
	}
	return b
}

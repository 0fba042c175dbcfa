package access

// globElem is one element of a compiled pattern: a literal rune, "*" or "?".
type globElem struct {
	wild rune // '*', '?', or 0 for the literal lit
	lit  rune
}

// glob matches s against pattern, where "*" matches any run of characters and, when
// like is true, "?" matches exactly one and a backslash makes the next character literal
// (the StringLike operators: "these characters can be escaped by add a backslash \* and
// \?", conditions-format.md). RBAC action patterns (like false) know only "*".
func glob(pattern, s string, like bool) bool {
	p, t := compileGlob(pattern, like), []rune(s)
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi].wild == '?' || p[pi].wild == 0 && p[pi].lit == t[ti]):
			pi, ti = pi+1, ti+1
		case pi < len(p) && p[pi].wild == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			mark++
			pi, ti = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi].wild == '*' {
		pi++
	}
	return pi == len(p)
}

// compileGlob splits a pattern into elements.
func compileGlob(pattern string, like bool) []globElem {
	var out []globElem
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '*':
			out = append(out, globElem{wild: '*'})
		case like && r == '?':
			out = append(out, globElem{wild: '?'})
		case like && r == '\\' && i+1 < len(rs):
			i++
			out = append(out, globElem{lit: rs[i]})
		default:
			out = append(out, globElem{lit: r})
		}
	}
	return out
}

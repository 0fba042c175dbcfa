package access

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is a kind of lexical token.
type tokKind int

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokLBrace
	tokRBrace
	tokComma
	tokNot
	tokAnd
	tokOr
	tokString
	tokAttribute
	tokWord
)

// token is one lexical token and its byte offset in the expression.
type token struct {
	kind tokKind
	text string
	pos  int
}

// punctuation maps single-character tokens to their kinds.
var punctuation = map[byte]tokKind{
	'(': tokLParen, ')': tokRParen, '{': tokLBrace, '}': tokRBrace, ',': tokComma, '!': tokNot,
}

// lex splits an expression into tokens.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c, rest := s[i], s[i:]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case punctuation[c] != tokEOF: // bytes that are not punctuation map to tokEOF
			toks = append(toks, token{punctuation[c], rest[:1], i})
			i++
		case strings.HasPrefix(rest, "&&"):
			toks = append(toks, token{tokAnd, rest[:2], i})
			i += 2
		case strings.HasPrefix(rest, "||"):
			toks = append(toks, token{tokOr, rest[:2], i})
			i += 2
		case c == '\'':
			end := strings.IndexByte(rest[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%w: offset %d: unterminated string", ErrInvalidCondition, i)
			}
			toks = append(toks, token{tokString, rest[1 : end+1], i})
			i += end + 2
		case c == '@':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("%w: offset %d: attribute without closing ]", ErrInvalidCondition, i)
			}
			toks = append(toks, token{tokAttribute, rest[:end+1], i})
			i += end + 1
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{wordKind(s[i:j]), s[i:j], i})
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(rest)
			return nil, fmt.Errorf("%w: offset %d: unexpected character %q", ErrInvalidCondition, i, r)
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(s)}), nil
}

// isWordByte reports whether c may appear in a keyword or operator name.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':'
}

// wordKind classifies AND, OR and NOT (any case); other words are tokWord.
func wordKind(w string) tokKind {
	switch strings.ToUpper(w) {
	case "AND":
		return tokAnd
	case "OR":
		return tokOr
	case "NOT":
		return tokNot
	}
	return tokWord
}

// describe names a token in an error message.
func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return "'" + t.text + "'"
	}
	return fmt.Sprintf("%q", t.text)
}

// parser is a recursive-descent parser over tokens.
type parser struct {
	toks []token
	i    int
}

// peek returns the next token without consuming it.
func (p *parser) peek() token { return p.toks[p.i] }

// next consumes and returns the next token (EOF stays put).
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// errorf returns an ErrInvalidCondition naming t's offset.
func (p *parser) errorf(t token, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrInvalidCondition, t.pos, fmt.Sprintf(format, args...))
}

// expr parses operands joined by one kind of boolean operator.
func (p *parser) expr(depth int) (node, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	nodes, op := []node{first}, tokEOF
	for k := p.peek().kind; k == tokAnd || k == tokOr; k = p.peek().kind {
		t := p.next()
		if op != tokEOF && k != op {
			return nil, p.errorf(t, "AND and OR mixed without parentheses; group them, as in (a AND b) OR c")
		}
		op = k
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	switch op {
	case tokAnd:
		return andNode(nodes), nil
	case tokOr:
		return orNode(nodes), nil
	}
	return first, nil
}

// unary parses an optionally negated primary; every level of nesting passes through it.
func (p *parser) unary(depth int) (node, error) {
	if depth > maxConditionDepth {
		return nil, p.errorf(p.peek(), "expression nested more than %d deep", maxConditionDepth)
	}
	if p.peek().kind != tokNot {
		return p.primary(depth)
	}
	p.next()
	operand, err := p.unary(depth + 1)
	if err != nil {
		return nil, err
	}
	return notNode{operand}, nil
}

// primary parses a parenthesised expression, ActionMatches or a comparison.
func (p *parser) primary(depth int) (node, error) {
	t := p.next()
	switch {
	case t.kind == tokLParen:
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, p.errorf(c, "want ), got %s", describe(c))
		}
		return n, nil
	case t.kind == tokWord && strings.EqualFold(t.text, "ActionMatches"):
		return p.actionMatches()
	case t.kind == tokAttribute:
		return p.comparison(t)
	}
	return nil, p.errorf(t, "unexpected %s; want (, !, ActionMatches{'<action>'} or @Request[%s] <operator> <value>", describe(t), RepositoryNameAttribute)
}

// actionMatches parses the {'<pattern>'} after ActionMatches.
func (p *parser) actionMatches() (node, error) {
	values, err := p.values()
	if err != nil {
		return nil, err
	}
	if len(values) != 1 {
		return nil, p.errorf(p.toks[p.i-1], "ActionMatches takes exactly one action")
	}
	return actionMatchesNode(values[0]), nil
}

// comparison parses <operator> <values> after the attribute token.
func (p *parser) comparison(attr token) (node, error) {
	if err := p.checkAttribute(attr); err != nil {
		return nil, err
	}
	opTok := p.next()
	if opTok.kind != tokWord {
		return nil, p.errorf(opTok, "want a string operator after the attribute, got %s", describe(opTok))
	}
	n, quantified, err := p.operator(opTok)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tokString {
		n.values = []string{p.next().text}
		return n, nil
	}
	if !quantified {
		return nil, p.errorf(p.peek(), "%s takes one quoted value; for a set use ForAnyOfAnyValues:%s {'a', 'b'}", opTok.text, opTok.text)
	}
	if n.values, err = p.values(); err != nil {
		return nil, err
	}
	return n, nil
}

// checkAttribute accepts @Request or @Resource of the repository name.
func (p *parser) checkAttribute(attr token) error {
	source, name, ok := strings.Cut(strings.TrimSuffix(attr.text, "]"), "[")
	if !ok || !strings.EqualFold(source, "@Request") && !strings.EqualFold(source, "@Resource") ||
		!strings.EqualFold(name, RepositoryNameAttribute) {
		return p.errorf(attr, "unsupported attribute %s; ACR conditions test only @Request[%s]", attr.text, RepositoryNameAttribute)
	}
	return nil
}

// operator parses an operator name such as ForAnyOfAnyValues:StringStartsWithIgnoreCase.
func (p *parser) operator(t token) (n compareNode, quantified bool, err error) {
	name := strings.ToLower(t.text)
	if quant, base, ok := strings.Cut(name, ":"); ok {
		switch quant {
		case "foranyofanyvalues", "forallofanyvalues":
		case "foranyofallvalues", "forallofallvalues":
			n.all = true
		default:
			return n, false, p.errorf(t, "unknown cross-product operator %q; want ForAnyOfAnyValues, ForAllOfAnyValues, ForAnyOfAllValues or ForAllOfAllValues", t.text)
		}
		name, quantified = base, true
	}
	name, n.ignoreCase = strings.CutSuffix(name, "ignorecase")
	o, ok := stringOperators[name]
	if !ok {
		return n, false, p.errorf(t, "unsupported operator %q; want StringEquals, StringNotEquals, StringStartsWith, StringNotStartsWith, StringLike or StringNotLike, optionally IgnoreCase", t.text)
	}
	n.op, n.negate = o.op, o.negate
	return n, quantified, nil
}

// values parses {'a', 'b', ...}: at least one quoted value.
func (p *parser) values() ([]string, error) {
	if t := p.next(); t.kind != tokLBrace {
		return nil, p.errorf(t, "want {, got %s", describe(t))
	}
	var out []string
	for {
		t := p.next()
		if t.kind != tokString {
			return nil, p.errorf(t, "want a quoted value, got %s", describe(t))
		}
		out = append(out, t.text)
		switch t := p.next(); t.kind {
		case tokRBrace:
			return out, nil
		case tokComma:
		default:
			return nil, p.errorf(t, "want , or }, got %s", describe(t))
		}
	}
}

package access

import (
	"errors"
	"strings"
)

// ErrInvalidCondition reports a role assignment condition outside the supported language;
// the management plane answers it with 400 and the error's text.
var ErrInvalidCondition = errors.New("invalid condition")

// RepositoryNameAttribute is the one attribute ACR's conditions test: the name of the
// repository a request touches, as @Request[...] (the ABAC doc's examples) or
// @Resource[...] (earlier examples; acr-protocol.md §5.2).
const RepositoryNameAttribute = "Microsoft.ContainerRegistry/registries/repositories:name"

// maxConditionDepth bounds nesting, so a hostile expression cannot exhaust the stack.
const maxConditionDepth = 64

// Condition is a parsed role assignment condition (conditionVersion 2.0). The zero
// Condition is no condition and allows everything; a Condition that failed to parse
// allows nothing, so dropping ParseCondition's error can never widen an assignment.
type Condition struct {
	root    node
	invalid bool
}

// ParseCondition parses the condition language of Azure role assignments
// (conditions-format.md), restricted to what ACR's repository permissions use
// (container-registry-rbac-abac-repository-permissions.md):
//
//	(
//	 (
//	  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})
//	  AND
//	  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})
//	 )
//	 OR
//	 (
//	  @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'backend/'
//	  OR
//	  @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'nginx'
//	 )
//	)
//
// Supported: AND (&&), OR (||), NOT (!), parentheses; ActionMatches{'<pattern>'}; the
// repository-name attribute as @Request[...] or @Resource[...] compared with
// StringEquals, StringNotEquals, StringStartsWith, StringNotStartsWith, StringLike or
// StringNotLike, each optionally IgnoreCase, against one quoted value, or prefixed with
// ForAnyOfAnyValues:, ForAllOfAnyValues:, ForAnyOfAllValues: or ForAllOfAllValues:
// against one value or a set {'a/', 'b/'}. Keywords are case-insensitive. As Azure
// requires, AND and OR may not be mixed without parentheses ("a AND b OR c" must be
// written "(a AND b) OR c").
//
// Anything else (other attributes, numeric operators, suboperations, malformed text) is
// refused with ErrInvalidCondition, never read as "no condition". An empty expression is
// no condition.
func ParseCondition(expr string) (Condition, error) {
	if strings.TrimSpace(expr) == "" {
		return Condition{}, nil
	}
	toks, err := lex(expr)
	if err != nil {
		return Condition{invalid: true}, err
	}
	p := &parser{toks: toks}
	root, err := p.expr(0)
	if err == nil && p.peek().kind != tokEOF {
		err = p.errorf(p.peek(), "unexpected %s after the end of the expression", describe(p.peek()))
	}
	if err != nil {
		return Condition{invalid: true}, err
	}
	return Condition{root: root}, nil
}

// Allows reports whether the condition lets the assignment cover action (the RBAC
// operation being checked, such as DataActionContentRead) on the repository. An empty
// repository means the request touches none (listing the catalog): every comparison of
// the repository name is then false.
func (c Condition) Allows(action, repository string) bool {
	if c.invalid {
		return false
	}
	return c.root == nil || c.root.eval(action, repository)
}

// node is a parsed expression.
type node interface {
	eval(action, repository string) bool
}

// andNode holds when all its operands do.
type andNode []node

func (n andNode) eval(action, repository string) bool {
	for _, o := range n {
		if !o.eval(action, repository) {
			return false
		}
	}
	return true
}

// orNode holds when one of its operands does.
type orNode []node

func (n orNode) eval(action, repository string) bool {
	for _, o := range n {
		if o.eval(action, repository) {
			return true
		}
	}
	return false
}

// notNode negates its operand.
type notNode struct{ operand node }

func (n notNode) eval(action, repository string) bool { return !n.operand.eval(action, repository) }

// actionMatchesNode is ActionMatches{'<pattern>'}.
type actionMatchesNode string

func (n actionMatchesNode) eval(action, _ string) bool { return actionMatches(string(n), action) }

// stringOp is a string comparison.
type stringOp int

const (
	opEquals stringOp = iota
	opStartsWith
	opLike
)

// stringOperators maps lower-case operator names, without IgnoreCase, to their
// comparison and whether it is negated (conditions-format.md, "Operators").
var stringOperators = map[string]struct {
	op     stringOp
	negate bool
}{
	"stringequals":        {opEquals, false},
	"stringnotequals":     {opEquals, true},
	"stringstartswith":    {opStartsWith, false},
	"stringnotstartswith": {opStartsWith, true},
	"stringlike":          {opLike, false},
	"stringnotlike":       {opLike, true},
}

// compareNode compares the repository name with one or more values.
type compareNode struct {
	op         stringOp
	negate     bool
	ignoreCase bool
	// all is true when every value must satisfy the comparison (ForAnyOfAllValues,
	// ForAllOfAllValues); otherwise one suffices. The repository name is a single
	// value, so ForAnyOf and ForAllOf on the left coincide.
	all    bool
	values []string
}

func (n compareNode) eval(_, repository string) bool {
	if repository == "" {
		return false
	}
	for _, v := range n.values {
		if ok := n.test(repository, v); ok != n.all {
			return ok // any: the first true decides; all: the first false does
		}
	}
	return n.all
}

// test applies the (possibly negated) comparison to one value.
func (n compareNode) test(name, value string) bool {
	if n.ignoreCase {
		name, value = strings.ToLower(name), strings.ToLower(value)
	}
	var r bool
	switch n.op {
	case opEquals:
		r = name == value
	case opStartsWith:
		r = strings.HasPrefix(name, value)
	case opLike:
		r = glob(value, name, true)
	}
	return r != n.negate
}

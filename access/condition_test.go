package access

import (
	"errors"
	"strings"
	"testing"
)

const (
	attr = "@Request[Microsoft.ContainerRegistry/registries/repositories:name]"
	read = DataActionContentRead
	meta = DataActionMetadataRead
)

func TestConditionAllows(t *testing.T) {
	t.Parallel()
	type check struct {
		action, repo string
		want         bool
	}
	for _, tc := range []struct {
		name   string
		expr   string
		checks []check
	}{
		{"empty is no condition", "  ", []check{{read, "a", true}, {DataActionCatalogRead, "", true}}},
		{"doc: exact repository", docExact, []check{
			{read, "nginx", true}, {meta, "NGINX", true}, {read, "nginx2", false}, {meta, "backend/nginx", false},
			{DataActionContentWrite, "other", true}, // not targeted by ActionMatches
		}},
		{"doc: prefix", docPrefix, []check{
			{read, "team1/app", true}, {read, "team1/a/b", true}, {read, "team1", false}, {read, "team1x/app", false},
		}},
		{"doc: two prefixes", docTwo, []check{
			{read, "team1/app", true}, {read, "samples/x", true}, {read, "team2/app", false},
		}},
		{"one action, no outer parentheses", contentOnly, []check{
			{read, "team1/app", true}, {read, "team2/app", false}, {meta, "team2/app", true},
		}},
		{"action wildcard and ForAnyOfAnyValues", anyRepoAction, []check{
			{DataActionContentDelete, "team2/x", true}, {DataActionContentDelete, "team1/x", false},
			{DataActionCatalogRead, "", true},
		}},
		{"absent repository fails every comparison", `!(` + attr + ` StringEquals 'a') AND ` + attr + ` StringNotEquals 'a'`, []check{
			{read, "", false}, {read, "b", true}, {read, "a", false},
		}},
		{"StringEquals is case-sensitive", attr + ` StringEquals 'Nginx'`, []check{{read, "nginx", false}, {read, "Nginx", true}}},
		{"StringNotEquals", attr + ` StringNotEquals 'secret'`, []check{{read, "secret", false}, {read, "public", true}}},
		{"StringNotEqualsIgnoreCase", attr + ` stringnotequalsignorecase 'SECRET'`, []check{{read, "secret", false}, {read, "public", true}}},
		{"StringNotStartsWith", attr + ` StringNotStartsWith 'app/secret/'`, []check{{read, "app/secret/x", false}, {read, "app/x", true}}},
		{"StringNotStartsWithIgnoreCase", attr + ` StringNotStartsWithIgnoreCase 'APP/'`, []check{{read, "app/x", false}, {read, "lib/x", true}}},
		{"StringLike", attr + ` StringLike 'team?/*'`, []check{{read, "team1/app", true}, {read, "team12/app", false}, {read, "Team1/app", false}}},
		{"StringLikeIgnoreCase", attr + ` StringLikeIgnoreCase 'TEAM?/*'`, []check{{read, "team1/app", true}}},
		{"StringNotLike", attr + ` StringNotLike '*secret*'`, []check{{read, "a/secret/b", false}, {read, "a/b", true}}},
		{"escaped wildcard", attr + ` StringLike 'a\*'`, []check{{read, "a*", true}, {read, "ab", false}}},
		{"ForAnyOfAllValues needs every value", attr + ` ForAnyOfAllValues:StringStartsWith {'a', 'ab'}`, []check{
			{read, "abc", true}, {read, "ac", false},
		}},
		{"ForAllOfAllValues with negation: none of the values", attr + ` ForAllOfAllValues:StringNotEquals {'x', 'y'}`, []check{
			{read, "x", false}, {read, "z", true},
		}},
		{"ForAllOfAnyValues single value", attr + ` ForAllOfAnyValues:StringEqualsIgnoreCase 'A'`, []check{{read, "a", true}, {read, "b", false}}},
		{"ForAnyOfAnyValues:StringNotEquals: differs from one", attr + ` ForAnyOfAnyValues:StringNotEquals {'x', 'y'}`, []check{
			{read, "x", true}, {read, "z", true},
		}},
		{"NOT keyword and && ||", `NOT (` + attr + ` StringEquals 'a') && (` + attr + ` StringStartsWith 'b' || ` + attr + ` StringStartsWith 'c')`, []check{
			{read, "a", false}, {read, "bx", true}, {read, "cx", true}, {read, "dx", false},
		}},
		{"double negation", `!!(ActionMatches{'` + read + `'})`, []check{{read, "a", true}, {meta, "a", false}}},
		{"keywords in any case", `(ActionMatches{'` + read + `'} and ` + attr + ` StringEquals 'a') or ActionMatches{'` + meta + `'}`, []check{
			{read, "a", true}, {read, "b", false}, {meta, "b", true},
		}},
		{"@Resource source", `@Resource[microsoft.containerregistry/registries/repositories:NAME] StringEquals 'a'`, []check{{read, "a", true}}},
		{"ActionMatches is case-insensitive", `ActionMatches{'microsoft.containerregistry/REGISTRIES/repositories/content/read'}`, []check{{read, "a", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cond(t, tc.expr)
			for _, ch := range tc.checks {
				if got := c.Allows(ch.action, ch.repo); got != ch.want {
					t.Errorf("Allows(%s, %q) = %v, want %v", ch.action, ch.repo, got, ch.want)
				}
			}
		})
	}
}

func TestParseConditionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr, mentions string
	}{
		{"(", "unexpected end of expression"},
		{"()", `unexpected ")"`},
		{attr + " StringEquals 'a') ", `unexpected ")" after the end`},
		{"(" + attr + " StringEquals 'a'", "want ), got end of expression"},
		{attr + " StringEquals 'a", "unterminated string"},
		{"@Request[Microsoft.ContainerRegistry/registries/repositories:name StringEquals 'a'", "without closing ]"},
		{attr + " StringEquals 'a' & " + attr + " StringEquals 'b'", `unexpected character '&'`},
		{attr + " StringEquals \"a\"", `unexpected character '"'`},
		{"a AND b", `unexpected "a"`},
		{attr + " StringEquals 'a' ∧ ActionMatches{'b'}", `unexpected character '∧'`},
		{attr + " StringEquals 'a' AND " + attr + " StringEquals 'b' OR " + attr + " StringEquals 'c'", "AND and OR mixed without parentheses"},
		{"@Request[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'a'", "unsupported attribute"},
		{"@Principal[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'a'", "unsupported attribute"},
		{"@Request StringEquals 'a'", "without closing ]"},
		{"@Request] StringEquals 'a'", "unsupported attribute"},
		{"@Request[subOperation] ForAnyOfAnyValues:StringEqualsIgnoreCase {'x'}", "unsupported attribute"},
		{attr + " NumericEquals '1'", `unsupported operator "NumericEquals"`},
		{attr + " StringContains 'a'", `unsupported operator "StringContains"`},
		{attr + " ForSomeValues:StringEquals {'a'}", "unknown cross-product operator"},
		{attr + " 'a'", "want a string operator"},
		{attr + " StringEquals {'a', 'b'}", "takes one quoted value; for a set use ForAnyOfAnyValues:StringEquals"},
		{attr + " StringEquals", "takes one quoted value"},
		{attr + " ForAnyOfAnyValues:StringEquals {}", "want a quoted value, got \"}\""},
		{attr + " ForAnyOfAnyValues:StringEquals {'a',}", "want a quoted value"},
		{attr + " ForAnyOfAnyValues:StringEquals {'a' 'b'}", "want , or }"},
		{attr + " ForAnyOfAnyValues:StringEquals 'a' 'b'", `unexpected 'b' after the end`},
		{attr + " ForAnyOfAnyValues:StringEquals ('a')", `want {, got "("`},
		{"ActionMatches{'a', 'b'}", "ActionMatches takes exactly one action"},
		{"ActionMatches'a'", "want {"},
		{"ActionMatches{a}", "want a quoted value"},
		{"!", "unexpected end of expression"},
		{"ActionMatches{'a'} AND", "unexpected end of expression"},
		{strings.Repeat("(", 100) + attr + " StringEquals 'a'" + strings.Repeat(")", 100), "nested more than 64 deep"},
		{strings.Repeat("!", 100) + "ActionMatches{'a'}", "nested more than 64 deep"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			c, err := ParseCondition(tc.expr)
			if !errors.Is(err, ErrInvalidCondition) {
				t.Fatalf("ParseCondition = %v; want ErrInvalidCondition", err)
			}
			if !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("error %q should say %q", err, tc.mentions)
			}
			// Even with the error dropped, the condition denies.
			if c.Allows(read, "a") || c.Allows(DataActionCatalogRead, "") {
				t.Error("an unparsable condition allows")
			}
		})
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, s string
		like, want bool
	}{
		{"*", "", false, true},
		{"*", "anything/at/all", false, true},
		{"*/read", "microsoft.containerregistry/registries/read", false, true},
		{"*/read", "microsoft.containerregistry/registries/write", false, false},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"a?c", "abc", false, false}, // ? is literal in RBAC action patterns
		{"a?c", "a?c", false, true},
		{"a?c", "abc", true, true},
		{"a?c", "ac", true, false},
		{`a\?c`, "abc", true, false},
		{`a\?c`, "a?c", true, true},
		{`a\\`, `a\`, true, true},
		{`a\`, `a\`, true, true}, // a trailing backslash is literal
		{"", "", true, true},
		{"", "a", true, false},
		{"**", "ab", true, true},
	} {
		if got := glob(tc.pattern, tc.s, tc.like); got != tc.want {
			t.Errorf("glob(%q, %q, like=%v) = %v, want %v", tc.pattern, tc.s, tc.like, got, tc.want)
		}
	}
}

package connector

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// NullGUID is the username that goes with an ACR token used as a password (docker
// login, ESO's generator, az acr login).
const NullGUID = "00000000-0000-0000-0000-000000000000"

// Token is an ACR refresh or access token. Printing it (%v, slog) shows its expiry and
// scopes, never its value.
type Token struct {
	Value     string
	ExpiresAt time.Time
	IssuedAt  time.Time
	// Scopes are the Docker scopes asked for (access tokens).
	Scopes []string
	// Access is what the token service granted (the JWT's access claim, unverified).
	Access []Access
	// Claims reports whether the token is a JWT whose claims were read: only then does
	// an empty Access mean that nothing was granted.
	Claims bool
}

// Access is one entry of an ACR access token's access claim (Docker token spec).
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (t Token) String() string {
	return "token(expires " + t.ExpiresAt.UTC().Format(time.RFC3339) + ", scopes " + strings.Join(t.Scopes, " ") + ")"
}

// GoString keeps the value out of %#v.
func (t Token) GoString() string { return "connector.Token{" + t.String() + "}" }

// LogValue keeps the value out of logs.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expiresAt", t.ExpiresAt), slog.Any("scopes", t.Scopes))
}

// Grants reports whether the token's access claim allows action on resource type:name
// ("*" in the claim's actions allows every action).
func (t Token) Grants(typ, name, action string) bool {
	for _, a := range t.Access {
		if a.Type != typ || a.Name != name {
			continue
		}
		for _, got := range a.Actions {
			if got == action || got == "*" {
				return true
			}
		}
	}
	return false
}

// valid reports whether t can still be used at now, renewing early: a tenth of its
// lifetime before it expires, at least 10 s and at most 5 min.
func (t *Token) valid(now time.Time) bool {
	if t == nil || t.Value == "" {
		return false
	}
	life := t.ExpiresAt.Sub(t.IssuedAt)
	margin := min(max(life/10, 10*time.Second), 5*time.Minute)
	return now.Add(margin).Before(t.ExpiresAt)
}

// Claims are the JWT claims the connector reads (without verifying: the registry does).
type Claims struct {
	Audience  any      `json:"aud"`
	Subject   string   `json:"sub"`
	Tenant    string   `json:"tenant"`
	TenantID  string   `json:"tid"`
	ObjectID  string   `json:"oid"`
	AppID     string   `json:"appid"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	Grant     string   `json:"grant_type"`
	Access    []Access `json:"access"`
}

// AudienceString is the aud claim (the first one, when it is a list).
func (c Claims) AudienceString() string {
	switch v := c.Audience.(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}

// DecodeClaims reads a JWT's payload without verifying its signature.
func DecodeClaims(jwt string) (Claims, error) {
	var c Claims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, err
	}
	err = json.Unmarshal(b, &c)
	return c, err
}

// newToken makes a Token of a raw value: its expiry from the JWT's exp, else from
// expiresIn, else 60 s (what docker assumes).
func newToken(raw string, scopes []string, now time.Time, expiresIn int) Token {
	t := Token{Value: raw, Scopes: scopes, IssuedAt: now, ExpiresAt: now.Add(60 * time.Second)}
	if expiresIn > 0 {
		t.ExpiresAt = now.Add(time.Duration(expiresIn) * time.Second)
	}
	if c, err := DecodeClaims(raw); err == nil {
		if c.Expiry > 0 {
			t.ExpiresAt = time.Unix(c.Expiry, 0)
		}
		if c.IssuedAt > 0 {
			t.IssuedAt = time.Unix(c.IssuedAt, 0)
		}
		t.Access, t.Claims = c.Access, true
	}
	return t
}

// canonicalScopes splits space-joined scopes, drops empties and duplicates, and sorts:
// one scope set, one cache key.
func canonicalScopes(scopes []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range scopes {
		for _, f := range strings.Fields(s) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return out
}

// holds reports whether the scope set has every action of scope (same type and name;
// "*" holds everything).
func holds(set []string, scope string) bool {
	typ, name, actions, ok := splitScope(scope)
	if !ok {
		return false
	}
	for _, want := range actions {
		found := false
		for _, s := range set {
			t, n, acts, ok := splitScope(s)
			if !ok || t != typ || n != name {
				continue
			}
			for _, a := range acts {
				if a == want || a == "*" {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// splitScope splits type:name:actions; the name may contain ':' (a port in a
// repository name never does, but be lenient): the type is before the first colon, the
// actions after the last.
func splitScope(s string) (typ, name string, actions []string, ok bool) {
	i, j := strings.Index(s, ":"), strings.LastIndex(s, ":")
	if i < 0 || j <= i {
		return "", "", nil, false
	}
	return s[:i], s[i+1 : j], strings.Split(s[j+1:], ","), true
}

// Challenge is a parsed WWW-Authenticate header.
type Challenge struct {
	Scheme  string
	Realm   string
	Service string
	Scope   []string
	Error   string
}

// ParseChallenge reads the first challenge of a WWW-Authenticate header: scheme, then
// key="value" pairs separated by commas (quoted values may hold commas and spaces).
func ParseChallenge(h string) Challenge {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	c := Challenge{Scheme: scheme}
	for rest != "" {
		rest = strings.TrimLeft(rest, ", ")
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				val, rest = after[1:], ""
			} else {
				val, rest = after[1:1+end], after[2+end:]
			}
		} else {
			val, rest, _ = strings.Cut(after, ",")
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "realm":
			c.Realm = val
		case "service":
			c.Service = val
		case "scope":
			c.Scope = append(c.Scope, strings.Fields(val)...)
		case "error":
			c.Error = val
		}
	}
	return c
}

package management

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Validation of registry settings in PUT and PATCH bodies: every value is checked, enums
// match case-insensitively and come out in ARM's casing.

// registryInput is the body of a registry PUT or PATCH: pointers tell what was sent.
type registryInput struct {
	Location   *string            `json:"location"`
	Tags       *map[string]string `json:"tags"`
	SKU        *skuJSON           `json:"sku"`
	Properties *propsInput        `json:"properties"`
}

type propsInput struct {
	AdminUserEnabled     *bool           `json:"adminUserEnabled"`
	AnonymousPullEnabled *bool           `json:"anonymousPullEnabled"`
	PublicNetworkAccess  *string         `json:"publicNetworkAccess"`
	NetworkRuleSet       *networkRuleSet `json:"networkRuleSet"`
	Policies             *policiesInput  `json:"policies"`
	RoleAssignmentMode   *string         `json:"roleAssignmentMode"`
	DataEndpointEnabled  *bool           `json:"dataEndpointEnabled"`
}

type policiesInput struct {
	AzureADAuthenticationAsArmPolicy *statusJSON `json:"azureADAuthenticationAsArmPolicy"`
	QuarantinePolicy                 *statusJSON `json:"quarantinePolicy"`
	TrustPolicy                      *statusJSON `json:"trustPolicy"`
	RetentionPolicy                  *statusJSON `json:"retentionPolicy"`
	ExportPolicy                     *statusJSON `json:"exportPolicy"`
}

// skus are the tiers ACR sells (Classic is retired).
var skus = []string{"Basic", "Standard", "Premium"}

// apply changes r as in says, validating every value.
func (in *registryInput) apply(r *meta.Registry) error {
	if in.SKU != nil {
		i := slices.IndexFunc(skus, func(s string) bool { return strings.EqualFold(s, in.SKU.Name) })
		if i < 0 {
			return invalidValue("sku.name", in.SKU.Name, "Basic, Standard or Premium")
		}
		r.SKU = skus[i]
	}
	if in.Tags != nil {
		r.Tags = *in.Tags
	}
	if in.Properties != nil {
		if err := in.Properties.apply(&r.Settings); err != nil {
			return err
		}
	}
	return checkTier(r)
}

func (p *propsInput) apply(st *meta.RegistrySettings) error {
	if p.AdminUserEnabled != nil {
		st.AdminUserEnabled = *p.AdminUserEnabled
	}
	if p.AnonymousPullEnabled != nil {
		st.AnonymousPullEnabled = *p.AnonymousPullEnabled
	}
	if v := p.PublicNetworkAccess; v != nil {
		on, err := oneOf("publicNetworkAccess", *v, enabled, disabled)
		if err != nil {
			return err
		}
		st.PublicNetworkAccess = on == enabled
	}
	if n := p.NetworkRuleSet; n != nil {
		action, err := oneOf("networkRuleSet.defaultAction", n.DefaultAction, allow, deny)
		if err != nil {
			return err
		}
		rules, err := ipRules(n.IPRules)
		if err != nil {
			return err
		}
		st.NetworkDefaultAction, st.IPRules = action, rules
	}
	if v := p.RoleAssignmentMode; v != nil {
		mode, err := oneOf("roleAssignmentMode", *v, string(access.LegacyRegistryPermissions), string(access.AbacRepositoryPermissions))
		if err != nil {
			return err
		}
		st.RoleAssignmentMode = mode
	}
	if p.DataEndpointEnabled != nil && *p.DataEndpointEnabled {
		return notSupported("dedicated data endpoints (dataEndpointEnabled)")
	}
	if p.Policies != nil {
		return p.Policies.apply(st)
	}
	return nil
}

// apply takes the AAD-as-ARM policy and refuses to switch on the policies Cerulean does
// not implement, rather than pretending to.
func (p *policiesInput) apply(st *meta.RegistrySettings) error {
	if v := p.AzureADAuthenticationAsArmPolicy; v != nil {
		status, err := oneOf("policies.azureADAuthenticationAsArmPolicy.status", v.Status, "enabled", "disabled")
		if err != nil {
			return err
		}
		st.AADAuthAsARMPolicy = status == "enabled"
	}
	for _, unsupported := range []struct {
		name   string
		policy *statusJSON
		off    string
	}{
		{"quarantinePolicy", p.QuarantinePolicy, "disabled"},
		{"trustPolicy", p.TrustPolicy, "disabled"},
		{"retentionPolicy", p.RetentionPolicy, "disabled"},
		{"exportPolicy", p.ExportPolicy, "enabled"},
	} {
		if v := unsupported.policy; v != nil && v.Status != "" && !strings.EqualFold(v.Status, unsupported.off) {
			return notSupported("policies." + unsupported.name + " " + v.Status)
		}
	}
	return nil
}

// ipRules validates network rules: addresses or CIDR ranges, each allowed.
func ipRules(in []ipRule) ([]string, error) {
	out := []string{}
	for _, r := range in {
		if r.Action != "" && !strings.EqualFold(r.Action, allow) {
			return nil, invalidValue("networkRuleSet.ipRules.action", r.Action, allow)
		}
		if _, _, err := net.ParseCIDR(r.Value); err != nil && net.ParseIP(r.Value) == nil {
			return nil, invalidValue("networkRuleSet.ipRules.value", r.Value, "an IP address or CIDR range")
		}
		out = append(out, r.Value)
	}
	return out, nil
}

// checkTier refuses settings the registry's SKU does not offer, as ACR does: anonymous
// pull needs Standard or Premium, network rules Premium.
func checkTier(r *meta.Registry) error {
	st := r.Settings
	if st.AnonymousPullEnabled && r.SKU == "Basic" {
		return badRequest("InvalidParameter", "Anonymous pull access is only available in the Standard and Premium SKUs.")
	}
	if (st.NetworkDefaultAction == deny || len(st.IPRules) > 0) && r.SKU != "Premium" {
		return badRequest("InvalidParameter", "Network rules (networkRuleSet) are only available in the Premium SKU.")
	}
	return nil
}

// oneOf matches v case-insensitively against the allowed values and returns the canonical one.
func oneOf(field, v string, values ...string) (string, error) {
	for _, want := range values {
		if strings.EqualFold(v, want) {
			return want, nil
		}
	}
	return "", invalidValue(field, v, strings.Join(values, " or "))
}

func invalidValue(field, v, want string) *Error {
	return badRequest("InvalidParameter", fmt.Sprintf("The value '%s' of '%s' is not valid: want %s.", v, field, want))
}

func notSupported(what string) *Error {
	return badRequest("FeatureNotSupported", "Cerulean does not support "+what+".")
}

// Package cliconn owns how the cerulean client verbs find a server and sign in to it:
// the flags and environment they read, the bootstrap file `cerulean serve` writes for
// them, and the HTTP client and azidentity credential that come out. The directory verbs
// (through identity/graph) and the management verbs (management/cli) both connect here,
// so that the two resolve the same settings the same way; neither plane imports the
// other.
package cliconn

// Bootstrap is the content of DIR/bootstrap.json, which `cerulean serve` writes (0600) on
// first start: what an operator needs to sign in as the owner, and what the management
// plane makes real (subscription, resource group, registry).
type Bootstrap struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup"`
	RegistryName   string `json:"registryName"`
	LoginServer    string `json:"loginServer"`
	// AuthorityHost is azidentity's cloud.Configuration.ActiveDirectoryAuthorityHost.
	AuthorityHost string `json:"authorityHost"`
	ClientID      string `json:"clientId"`
	ClientSecret  string `json:"clientSecret"`
	// OwnerObjectID is the owner service principal: the management plane assigns it Owner
	// over the subscription.
	OwnerObjectID string `json:"ownerObjectId"`
	// CAFile is the local CA clients must trust ("" when serving the operator's own
	// certificate).
	CAFile string `json:"caFile,omitempty"`
}

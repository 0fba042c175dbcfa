package diagnose

// Codes: stable identifiers of what a step found. They never change meaning; new ones
// may be added. Each step's Reason says the same in plain words, with names and dates.
const (
	OK = "OK"

	// endpoint
	EndpointDNS         = "ENDPOINT_DNS"          // the login server's name does not resolve
	EndpointUnreachable = "ENDPOINT_UNREACHABLE"  // no TCP connection (refused, timed out)
	TLSUntrusted        = "TLS_UNTRUSTED"         // certificate from an unknown authority
	TLSNameMismatch     = "TLS_NAME_MISMATCH"     // certificate not issued for the host
	TLSExpired          = "TLS_EXPIRED"           // certificate expired or not yet valid
	TLSHandshake        = "TLS_HANDSHAKE_FAILED"  // no TLS (plain HTTP, protocol mismatch)
	NetworkDenied       = "NETWORK_ACCESS_DENIED" // 403 on /v2/: network rules refuse this client
	NotARegistry        = "NOT_A_REGISTRY"        // /v2/ is not a registry endpoint (404, ...)
	RegistryUnavailable = "REGISTRY_UNAVAILABLE"  // 5xx
	Throttled           = "THROTTLED"             // 429 after retries
	HostNotAllowed      = "HOST_NOT_ALLOWED"      // the login server is not one the connection covers

	// challenge
	ChallengeMissing      = "CHALLENGE_MISSING"       // /v2/ answered 401 without a Bearer challenge
	ChallengeHostMismatch = "CHALLENGE_HOST_MISMATCH" // realm or service names another host

	// signin (Entra)
	SignInFailed           = "SIGNIN_FAILED"
	SignInInvalidSecret    = "SIGNIN_INVALID_SECRET"
	SignInSecretExpired    = "SIGNIN_SECRET_EXPIRED"
	SignInUnknownClient    = "SIGNIN_UNKNOWN_CLIENT"
	SignInAppDisabled      = "SIGNIN_APP_DISABLED"
	SignInTenantNotFound   = "SIGNIN_TENANT_NOT_FOUND"
	SignInCertRejected     = "SIGNIN_CERTIFICATE_REJECTED"
	SignInNoFederation     = "SIGNIN_NO_FEDERATED_CREDENTIAL"
	SignInAssertion        = "SIGNIN_ASSERTION_REJECTED"
	SignInTokenFile        = "SIGNIN_TOKEN_FILE"
	SignInIssuer           = "SIGNIN_ISSUER_UNREACHABLE"
	ManagedIdentityAbsent  = "MANAGED_IDENTITY_UNAVAILABLE"
	ManagedIdentityUnknown = "MANAGED_IDENTITY_NOT_FOUND"
	AzureCLINotSignedIn    = "AZURE_CLI_NOT_SIGNED_IN"
	AzureCLIMissing        = "AZURE_CLI_NOT_FOUND"
	SignInThrottled        = "SIGNIN_THROTTLED"

	// exchange (the registry's token service)
	ExchangeRefusedARMAudience = "EXCHANGE_REFUSED_ARM_AUDIENCE" // azureADAuthenticationAsArmPolicy disabled
	ExchangeRefused            = "EXCHANGE_REFUSED"
	RegistryUnknown            = "REGISTRY_UNKNOWN" // the server hosts no registry at this login server
	CredentialsRejected        = "CREDENTIALS_REJECTED"
	TokenDisabled              = "TOKEN_DISABLED"
	TokenNotFound              = "TOKEN_NOT_FOUND"
	PasswordExpired            = "PASSWORD_EXPIRED"
	PasswordWrong              = "PASSWORD_WRONG"
	AdminUserDisabled          = "ADMIN_USER_DISABLED"

	// catalog, tags, manifest
	ACRPullMissing             = "ACRPULL_MISSING"
	RepositoryReaderMissing    = "REPOSITORY_READER_MISSING" // ABAC registries
	CatalogListerMissing       = "CATALOG_LISTER_MISSING"    // ABAC registries
	CatalogNotAllowedForTokens = "CATALOG_NOT_ALLOWED_FOR_TOKENS"
	CatalogNotAllowedAnonymous = "CATALOG_NOT_ALLOWED_ANONYMOUS"
	ScopeMapDenies             = "SCOPE_MAP_DENIES"
	AnonymousPullDisabled      = "ANONYMOUS_PULL_DISABLED"
	AccessDenied               = "ACCESS_DENIED"
	RegistryEmpty              = "REGISTRY_EMPTY"
	NoRepository               = "NO_REPOSITORY"
	RepositoryNotFound         = "REPOSITORY_NOT_FOUND"
	NoTags                     = "NO_TAGS"
	ManifestNotFound           = "MANIFEST_NOT_FOUND"
	UnexpectedResponse         = "UNEXPECTED_RESPONSE"

	// arm
	ARMForbidden        = "ARM_FORBIDDEN"
	ARMTokenRefused     = "ARM_TOKEN_REFUSED"
	ARMUnreachable      = "ARM_UNREACHABLE"
	ARMRegistryNotFound = "ARM_REGISTRY_NOT_FOUND"
	ARMNotApplicable    = "ARM_NOT_APPLICABLE"
	ARMFailed           = "ARM_FAILED"

	// any step
	Blocked = "BLOCKED" // skipped because an earlier step failed
)

package metatest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// RunDirectory runs the suite of meta.Directory. open dirMust return a new, empty directory
// on every call (once per subtest, sequentially) and close it when the test ends. The
// suite pins what the interface comments leave open: times round-trip at nanosecond
// precision in UTC; an empty list is nil; deleting an application takes its service
// principal and credentials; deleting a host takes its system-assigned identity.
func RunDirectory(t *testing.T, open func(t *testing.T) meta.Directory) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, meta.Directory)
	}{
		{"Tenants", testTenants},
		{"Applications", testApplications},
		{"Principals", testPrincipals},
		{"UpdatePrincipal", testUpdatePrincipal},
		{"ClientCredentials", testClientCredentials},
		{"FederatedCredentials", testFederatedCredentials},
		{"IdentityHosts", testIdentityHosts},
		{"SigningKeys", testSigningKeys},
		{"UseOnce", testUseOnce},
		{"DeviceCodes", testDeviceCodes},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// dirEpoch is a fixed time with a nanosecond part, so that truncation shows.
var dirEpoch = time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)

// dirMust fails the test on a setup error.
func dirMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dirWantErr checks that err is target (nil for success).
func dirWantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if target == nil && err != nil || target != nil && !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// dirDiff compares got with want, failing the test with the difference.
func dirDiff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

const dirTenantA, dirTenantB = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"

func dirTenants(t *testing.T, d meta.Directory) {
	t.Helper()
	dirMust(t, d.CreateTenant(t.Context(), &meta.Tenant{ID: dirTenantA, DisplayName: "A", CreatedAt: dirEpoch}))
	dirMust(t, d.CreateTenant(t.Context(), &meta.Tenant{ID: dirTenantB, DisplayName: "B", CreatedAt: dirEpoch.Add(time.Second)}))
}

func testTenants(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	dirTenants(t, d)
	dirWantErr(t, "duplicate tenant", d.CreateTenant(ctx, &meta.Tenant{ID: dirTenantA, CreatedAt: dirEpoch}), meta.ErrObjectExists)
	got, err := d.Tenant(ctx, dirTenantA)
	dirWantErr(t, "Tenant", err, nil)
	dirDiff(t, "Tenant", got, &meta.Tenant{ID: dirTenantA, DisplayName: "A", CreatedAt: dirEpoch})
	_, err = d.Tenant(ctx, "missing")
	dirWantErr(t, "missing tenant", err, meta.ErrObjectNotFound)
	all, err := d.Tenants(ctx)
	dirWantErr(t, "Tenants", err, nil)
	if len(all) != 2 || all[0].ID != dirTenantA || all[1].ID != dirTenantB {
		t.Errorf("Tenants = %+v, want A then B", all)
	}
}

func dirApp(tenant, objectID, appID, name string) *meta.Application {
	return &meta.Application{ObjectID: objectID, AppID: appID, TenantID: tenant, DisplayName: name, CreatedAt: dirEpoch}
}

func dirSP(tenant, objectID, appID string) *meta.Principal {
	return &meta.Principal{ObjectID: objectID, TenantID: tenant, Kind: meta.KindServicePrincipal, DisplayName: "sp " + appID,
		AppID: appID, Enabled: true, CreatedAt: dirEpoch}
}

func testApplications(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	dirTenants(t, d)
	dirWantErr(t, "application of missing tenant", d.CreateApplication(ctx, dirApp("missing", "o0", "a0", "x")), meta.ErrObjectNotFound)
	dirMust(t, d.CreateApplication(ctx, dirApp(dirTenantA, "o1", "a1", "zeta")))
	dirMust(t, d.CreateApplication(ctx, dirApp(dirTenantA, "o2", "a2", "alpha")))
	dirMust(t, d.CreateApplication(ctx, dirApp(dirTenantB, "o3", "a3", "beta")))
	dirWantErr(t, "duplicate client id", d.CreateApplication(ctx, dirApp(dirTenantB, "o4", "a1", "x")), meta.ErrObjectExists)
	dirWantErr(t, "duplicate object id", d.CreateApplication(ctx, dirApp(dirTenantB, "o1", "a5", "x")), meta.ErrObjectExists)

	got, err := d.Application(ctx, "o1")
	dirWantErr(t, "Application", err, nil)
	dirDiff(t, "Application", got, dirApp(dirTenantA, "o1", "a1", "zeta"))
	got, err = d.ApplicationByAppID(ctx, "a2")
	dirWantErr(t, "ApplicationByAppID", err, nil)
	dirDiff(t, "ApplicationByAppID", got, dirApp(dirTenantA, "o2", "a2", "alpha"))
	_, err = d.ApplicationByAppID(ctx, "missing")
	dirWantErr(t, "missing application", err, meta.ErrObjectNotFound)
	list, err := d.Applications(ctx, dirTenantA)
	dirWantErr(t, "Applications", err, nil)
	dirDiff(t, "Applications", list, []meta.Application{*dirApp(dirTenantA, "o2", "a2", "alpha"), *dirApp(dirTenantA, "o1", "a1", "zeta")})

	// Deleting takes the service principal and the credentials along.
	dirMust(t, d.CreatePrincipal(ctx, dirSP(dirTenantA, "sp1", "a1")))
	dirMust(t, d.AddClientCredential(ctx, &meta.ClientCredential{KeyID: "k1", AppID: "a1", Kind: meta.CredentialSecret, SecretHash: []byte{1}, CreatedAt: dirEpoch}))
	dirMust(t, d.AddFederatedCredential(ctx, &meta.FederatedCredential{ID: "f1", AppID: "a1", Name: "n", Audiences: []string{"x"}, CreatedAt: dirEpoch}))
	dirWantErr(t, "DeleteApplication", d.DeleteApplication(ctx, "o1"), nil)
	dirWantErr(t, "DeleteApplication again", d.DeleteApplication(ctx, "o1"), meta.ErrObjectNotFound)
	_, err = d.PrincipalByAppID(ctx, "a1")
	dirWantErr(t, "service principal after delete", err, meta.ErrObjectNotFound)
	if cs, err := d.ClientCredentials(ctx, "a1"); err != nil || cs != nil {
		t.Errorf("ClientCredentials after delete = %v, %v", cs, err)
	}
	if fs, err := d.FederatedCredentials(ctx, "a1"); err != nil || fs != nil {
		t.Errorf("FederatedCredentials after delete = %v, %v", fs, err)
	}
}

func dirUser(tenant, objectID, upn string) *meta.Principal {
	return &meta.Principal{ObjectID: objectID, TenantID: tenant, Kind: meta.KindUser, DisplayName: upn,
		Enabled: true, UserPrincipalName: upn, PasswordHash: "$argon2id$...", PasswordChangedAt: dirEpoch, CreatedAt: dirEpoch}
}

func testPrincipals(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	dirTenants(t, d)
	sp := dirSP(dirTenantA, "sp1", "a1")
	sp.Owner = true
	mi := &meta.Principal{ObjectID: "mi1", TenantID: dirTenantA, Kind: meta.KindManagedIdentity, DisplayName: "id",
		AppID: "c1", Enabled: true, ResourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id", CreatedAt: dirEpoch}
	u := dirUser(dirTenantA, "u1", "ann@example.com")
	for _, p := range []*meta.Principal{sp, mi, u, dirUser(dirTenantA, "u2", "bob@example.com"), dirUser(dirTenantB, "u3", "cy@example.com")} {
		dirMust(t, d.CreatePrincipal(ctx, p))
	}
	for _, tc := range []struct {
		name string
		p    *meta.Principal
		want error
	}{
		{"duplicate object id", dirUser(dirTenantA, "u1", "other@example.com"), meta.ErrObjectExists},
		{"duplicate upn", dirUser(dirTenantB, "u9", "ann@example.com"), meta.ErrObjectExists},
		{"duplicate client id", dirSP(dirTenantA, "sp9", "c1"), meta.ErrObjectExists},
		{"missing tenant", dirUser("missing", "u8", "dan@example.com"), meta.ErrObjectNotFound},
	} {
		dirWantErr(t, tc.name, d.CreatePrincipal(ctx, tc.p), tc.want)
	}

	for _, tc := range []struct {
		name string
		get  func() (*meta.Principal, error)
		want *meta.Principal
	}{
		{"Principal", func() (*meta.Principal, error) { return d.Principal(ctx, "sp1") }, sp},
		{"PrincipalByAppID", func() (*meta.Principal, error) { return d.PrincipalByAppID(ctx, "c1") }, mi},
		{"PrincipalByUPN", func() (*meta.Principal, error) { return d.PrincipalByUPN(ctx, "ann@example.com") }, u},
	} {
		got, err := tc.get()
		dirWantErr(t, tc.name, err, nil)
		dirDiff(t, tc.name, got, tc.want)
	}
	_, err := d.PrincipalByUPN(ctx, "nobody@example.com")
	dirWantErr(t, "missing dirUser", err, meta.ErrObjectNotFound)

	users, err := d.Principals(ctx, dirTenantA, meta.KindUser)
	dirWantErr(t, "Principals", err, nil)
	if len(users) != 2 || users[0].ObjectID != "u1" || users[1].ObjectID != "u2" {
		t.Errorf("users of A = %+v, want u1, u2", users)
	}
	all, err := d.Principals(ctx, dirTenantA, "")
	dirWantErr(t, "all Principals", err, nil)
	if len(all) != 4 {
		t.Errorf("principals of A = %d, want 4", len(all))
	}
	dirWantErr(t, "DeletePrincipal", d.DeletePrincipal(ctx, "u2"), nil)
	dirWantErr(t, "DeletePrincipal again", d.DeletePrincipal(ctx, "u2"), meta.ErrObjectNotFound)
}

func testUpdatePrincipal(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	dirTenants(t, d)
	dirMust(t, d.CreatePrincipal(ctx, dirUser(dirTenantA, "u1", "ann@example.com")))
	later := dirEpoch.Add(time.Hour)
	got, err := d.UpdatePrincipal(ctx, "u1", func(p *meta.Principal) error {
		p.DisplayName, p.Enabled, p.Owner, p.PasswordHash, p.PasswordChangedAt = "Ann", false, true, "new", later
		p.UserPrincipalName, p.TenantID = "changed@example.com", dirTenantB // not updatable: kept
		return nil
	})
	dirWantErr(t, "UpdatePrincipal", err, nil)
	want := dirUser(dirTenantA, "u1", "ann@example.com")
	want.DisplayName, want.Enabled, want.Owner, want.PasswordHash, want.PasswordChangedAt = "Ann", false, true, "new", later
	stored, err := d.Principal(ctx, "u1")
	dirWantErr(t, "Principal", err, nil)
	dirDiff(t, "stored after update", stored, want)
	if got.DisplayName != "Ann" {
		t.Errorf("UpdatePrincipal returned %+v", got)
	}

	abort := errors.New("abort")
	_, err = d.UpdatePrincipal(ctx, "u1", func(p *meta.Principal) error { p.DisplayName = "x"; return abort })
	dirWantErr(t, "aborted update", err, abort)
	if p, _ := d.Principal(ctx, "u1"); p.DisplayName != "Ann" {
		t.Errorf("aborted update changed the name to %q", p.DisplayName)
	}
	_, err = d.UpdatePrincipal(ctx, "missing", func(*meta.Principal) error { return nil })
	dirWantErr(t, "update missing", err, meta.ErrObjectNotFound)
}

func testClientCredentials(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	dirTenants(t, d)
	dirMust(t, d.CreateApplication(ctx, dirApp(dirTenantA, "o1", "a1", "app")))
	secret := meta.ClientCredential{KeyID: "k1", AppID: "a1", Kind: meta.CredentialSecret, DisplayName: "ci", Hint: "abc",
		SecretHash: []byte("hash"), StartAt: dirEpoch, EndAt: dirEpoch.Add(24 * time.Hour), CreatedAt: dirEpoch}
	cert := meta.ClientCredential{KeyID: "k2", AppID: "a1", Kind: meta.CredentialCertificate, Certificate: []byte{0x30, 0x82},
		StartAt: dirEpoch, CreatedAt: dirEpoch.Add(time.Second)}
	dirMust(t, d.AddClientCredential(ctx, &cert))
	dirMust(t, d.AddClientCredential(ctx, &secret))
	dirWantErr(t, "duplicate key id", d.AddClientCredential(ctx, &secret), meta.ErrObjectExists)
	orphan := secret
	orphan.KeyID, orphan.AppID = "k3", "missing"
	dirWantErr(t, "credential of missing application", d.AddClientCredential(ctx, &orphan), meta.ErrObjectNotFound)

	got, err := d.ClientCredentials(ctx, "a1")
	dirWantErr(t, "ClientCredentials", err, nil)
	dirDiff(t, "ClientCredentials", got, []meta.ClientCredential{secret, cert})
	dirWantErr(t, "DeleteClientCredential", d.DeleteClientCredential(ctx, "a1", "k1"), nil)
	dirWantErr(t, "DeleteClientCredential again", d.DeleteClientCredential(ctx, "a1", "k1"), meta.ErrObjectNotFound)
	dirWantErr(t, "DeleteClientCredential of other dirApp", d.DeleteClientCredential(ctx, "a9", "k2"), meta.ErrObjectNotFound)
}

func testFederatedCredentials(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	dirTenants(t, d)
	dirMust(t, d.CreateApplication(ctx, dirApp(dirTenantA, "o1", "a1", "app")))
	gh := meta.FederatedCredential{ID: "f1", AppID: "a1", Name: "github", Issuer: "https://token.actions.githubusercontent.com",
		Subject: "repo:o/r:ref:refs/heads/main", Audiences: []string{"api://AzureADTokenExchange"}, Description: "ci", CreatedAt: dirEpoch}
	k8s := meta.FederatedCredential{ID: "f2", AppID: "a1", Name: "aks", Issuer: "https://oidc.example/", Subject: "system:serviceaccount:ns:sa",
		Audiences: []string{"a", "b"}, CreatedAt: dirEpoch}
	dirMust(t, d.AddFederatedCredential(ctx, &gh))
	dirMust(t, d.AddFederatedCredential(ctx, &k8s))
	dup := gh
	dup.ID = "f3"
	dirWantErr(t, "duplicate name", d.AddFederatedCredential(ctx, &dup), meta.ErrObjectExists)
	dup.AppID, dup.Name = "missing", "other"
	dirWantErr(t, "federated credential of missing application", d.AddFederatedCredential(ctx, &dup), meta.ErrObjectNotFound)

	got, err := d.FederatedCredentials(ctx, "a1")
	dirWantErr(t, "FederatedCredentials", err, nil)
	dirDiff(t, "FederatedCredentials", got, []meta.FederatedCredential{k8s, gh})
	dirWantErr(t, "delete by name", d.DeleteFederatedCredential(ctx, "a1", "github"), nil)
	dirWantErr(t, "delete by id", d.DeleteFederatedCredential(ctx, "a1", "f2"), nil)
	dirWantErr(t, "delete again", d.DeleteFederatedCredential(ctx, "a1", "f2"), meta.ErrObjectNotFound)
}

func dirMI(tenant, objectID, clientID string) *meta.Principal {
	return &meta.Principal{ObjectID: objectID, TenantID: tenant, Kind: meta.KindManagedIdentity, DisplayName: objectID,
		AppID: clientID, Enabled: true, CreatedAt: dirEpoch}
}

func testIdentityHosts(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	dirTenants(t, d)
	dirMust(t, d.CreatePrincipal(ctx, dirMI(dirTenantA, "ua1", "c1")))
	dirMust(t, d.CreatePrincipal(ctx, dirMI(dirTenantA, "ua2", "c2")))
	host := &meta.IdentityHost{ID: "h1", TenantID: dirTenantA, Name: "edge1", SecretHash: []byte("s1"), Identities: []string{"ua1"}, CreatedAt: dirEpoch}
	system := dirMI(dirTenantA, "sys1", "c3")
	dirMust(t, d.CreateIdentityHost(ctx, host, system))
	if system.HostID != "h1" {
		t.Errorf("system identity HostID = %q, want h1", system.HostID)
	}
	for _, tc := range []struct {
		name   string
		host   *meta.IdentityHost
		system *meta.Principal
		want   error
	}{
		{"duplicate name", &meta.IdentityHost{ID: "h2", TenantID: dirTenantA, Name: "edge1", SecretHash: []byte("s2")}, dirMI(dirTenantA, "sys2", "c4"), meta.ErrObjectExists},
		{"duplicate secret", &meta.IdentityHost{ID: "h2", TenantID: dirTenantA, Name: "edge2", SecretHash: []byte("s1")}, dirMI(dirTenantA, "sys2", "c4"), meta.ErrObjectExists},
		{"missing identity", &meta.IdentityHost{ID: "h2", TenantID: dirTenantA, Name: "edge2", SecretHash: []byte("s2"), Identities: []string{"nope"}}, dirMI(dirTenantA, "sys2", "c4"), meta.ErrObjectNotFound},
	} {
		dirWantErr(t, tc.name, d.CreateIdentityHost(ctx, tc.host, tc.system), tc.want)
	}
	if _, err := d.Principal(ctx, "sys2"); !errors.Is(err, meta.ErrObjectNotFound) {
		t.Errorf("a failed CreateIdentityHost left its system identity behind: %v", err)
	}

	dirWantErr(t, "AssignIdentity", d.AssignIdentity(ctx, "h1", "ua2"), nil)
	dirWantErr(t, "AssignIdentity again", d.AssignIdentity(ctx, "h1", "ua2"), nil)
	dirWantErr(t, "AssignIdentity of missing identity", d.AssignIdentity(ctx, "h1", "nope"), meta.ErrObjectNotFound)
	dirWantErr(t, "AssignIdentity to missing host", d.AssignIdentity(ctx, "nope", "ua1"), meta.ErrObjectNotFound)

	want := &meta.IdentityHost{ID: "h1", TenantID: dirTenantA, Name: "edge1", SecretHash: []byte("s1"), Identities: []string{"ua1", "ua2"},
		SystemIdentity: "sys1", CreatedAt: dirEpoch}
	for _, tc := range []struct {
		name string
		get  func() (*meta.IdentityHost, error)
	}{
		{"IdentityHost", func() (*meta.IdentityHost, error) { return d.IdentityHost(ctx, "h1") }},
		{"IdentityHostByName", func() (*meta.IdentityHost, error) { return d.IdentityHostByName(ctx, dirTenantA, "edge1") }},
		{"IdentityHostBySecret", func() (*meta.IdentityHost, error) { return d.IdentityHostBySecret(ctx, []byte("s1")) }},
	} {
		got, err := tc.get()
		dirWantErr(t, tc.name, err, nil)
		dirDiff(t, tc.name, got, want)
	}
	if _, err := d.IdentityHostBySecret(ctx, []byte("other")); !errors.Is(err, meta.ErrObjectNotFound) {
		t.Errorf("IdentityHostBySecret(other) = %v, want ErrObjectNotFound", err)
	}
	if hosts, err := d.IdentityHosts(ctx, dirTenantA); err != nil || len(hosts) != 1 {
		t.Errorf("IdentityHosts = %+v, %v", hosts, err)
	}

	dirWantErr(t, "DeleteIdentityHost", d.DeleteIdentityHost(ctx, "h1"), nil)
	dirWantErr(t, "DeleteIdentityHost again", d.DeleteIdentityHost(ctx, "h1"), meta.ErrObjectNotFound)
	_, err := d.Principal(ctx, "sys1")
	dirWantErr(t, "system identity after host delete", err, meta.ErrObjectNotFound)
	_, err = d.Principal(ctx, "ua1")
	dirWantErr(t, "user-assigned identity after host delete", err, nil)
}

func testSigningKeys(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	key := func(id string, gen int64, publishUntil time.Time) meta.SigningKey {
		return meta.SigningKey{ID: id, Purpose: "identity", Generation: gen, Algorithm: "RS256", Certificate: []byte("c" + id),
			PrivateKey: []byte("p" + id), SignFrom: dirEpoch, SignUntil: dirEpoch.Add(time.Hour), PublishUntil: publishUntil, CreatedAt: dirEpoch}
	}
	k1, k2 := key("k1", 1, dirEpoch.Add(2*time.Hour)), key("k2", 2, dirEpoch.Add(4*time.Hour))
	other := key("r1", 1, dirEpoch)
	other.Purpose = "registry"
	for _, k := range []meta.SigningKey{k2, k1, other} {
		dirMust(t, d.AddSigningKey(ctx, &k))
	}
	dup := key("k3", 2, dirEpoch)
	dirWantErr(t, "generation taken", d.AddSigningKey(ctx, &dup), meta.ErrObjectExists)
	got, err := d.SigningKeys(ctx, "identity")
	dirWantErr(t, "SigningKeys", err, nil)
	dirDiff(t, "SigningKeys", got, []meta.SigningKey{k1, k2})

	n, err := d.DeleteSigningKeys(ctx, "identity", dirEpoch.Add(3*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("DeleteSigningKeys = %d, %v; want 1", n, err)
	}
	got, _ = d.SigningKeys(ctx, "identity")
	dirDiff(t, "SigningKeys after delete", got, []meta.SigningKey{k2})
	if got, _ := d.SigningKeys(ctx, "registry"); len(got) != 1 {
		t.Errorf("keys of another purpose were deleted: %+v", got)
	}
}

func testUseOnce(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	exp := dirEpoch.Add(10 * time.Minute)
	dirWantErr(t, "first use", d.UseOnce(ctx, "app|jti-1", exp, dirEpoch), nil)
	dirWantErr(t, "replay", d.UseOnce(ctx, "app|jti-1", exp, dirEpoch.Add(time.Minute)), meta.ErrUsedOnce)
	dirWantErr(t, "other value", d.UseOnce(ctx, "app|jti-2", exp, dirEpoch), nil)
	dirWantErr(t, "after expiry", d.UseOnce(ctx, "app|jti-1", exp.Add(time.Hour), exp), nil)
}

func testDeviceCodes(t *testing.T, d meta.Directory) {
	ctx := t.Context()
	code := &meta.DeviceCode{CodeHash: []byte("h1"), UserCode: "ABCD-EFGH", ClientID: "c", Tenant: "organizations",
		Scope: "https://management.core.windows.net//.default", ExpiresAt: dirEpoch.Add(15 * time.Minute), CreatedAt: dirEpoch}
	dirMust(t, d.CreateDeviceCode(ctx, code, dirEpoch))
	dirWantErr(t, "duplicate dirUser code", d.CreateDeviceCode(ctx, &meta.DeviceCode{CodeHash: []byte("h2"), UserCode: "ABCD-EFGH",
		ExpiresAt: dirEpoch.Add(time.Hour)}, dirEpoch), meta.ErrObjectExists)

	got, err := d.DeviceCodeByUserCode(ctx, "ABCD-EFGH")
	dirWantErr(t, "DeviceCodeByUserCode", err, nil)
	dirDiff(t, "DeviceCodeByUserCode", got, code)

	pending, err := d.RedeemDeviceCode(ctx, []byte("h1"))
	if err != nil || pending.UserObjectID != "" {
		t.Fatalf("redeem pending = %+v, %v", pending, err)
	}
	dirWantErr(t, "ApproveDeviceCode", d.ApproveDeviceCode(ctx, "ABCD-EFGH", "u1"), nil)
	dirWantErr(t, "ApproveDeviceCode again", d.ApproveDeviceCode(ctx, "ABCD-EFGH", "u2"), meta.ErrObjectNotFound)
	approved, err := d.RedeemDeviceCode(ctx, []byte("h1"))
	if err != nil || approved.UserObjectID != "u1" {
		t.Fatalf("redeem approved = %+v, %v", approved, err)
	}
	_, err = d.RedeemDeviceCode(ctx, []byte("h1"))
	dirWantErr(t, "redeem twice", err, meta.ErrObjectNotFound)

	// An expired code frees its dirUser code for the next one.
	dirMust(t, d.CreateDeviceCode(ctx, &meta.DeviceCode{CodeHash: []byte("h3"), UserCode: "WXYZ-WXYZ", ExpiresAt: dirEpoch.Add(time.Minute)}, dirEpoch))
	dirWantErr(t, "reuse of an expired dirUser code", d.CreateDeviceCode(ctx, &meta.DeviceCode{CodeHash: []byte("h4"), UserCode: "WXYZ-WXYZ",
		ExpiresAt: dirEpoch.Add(time.Hour)}, dirEpoch.Add(2*time.Minute)), nil)
}

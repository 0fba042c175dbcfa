package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The directory (meta.Directory, migration 0002). Uniqueness and references are left to
// the schema's constraints: a violated UNIQUE or PRIMARY KEY becomes meta.ErrObjectExists,
// a violated FOREIGN KEY (a parent that does not exist) meta.ErrObjectNotFound. Writes to
// principals are changes of access records (accessTx).

// CreateTenant implements meta.Tenants.
func (s *Store) CreateTenant(ctx context.Context, t *meta.Tenant) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (id, display_name, created_at) VALUES ($1, $2, $3)`,
		t.ID, t.DisplayName, nanos(t.CreatedAt))
	return dirErr(err, "create tenant %s", t.ID)
}

func scanTenant(sc scanner) (meta.Tenant, error) {
	var t meta.Tenant
	var created int64
	err := sc.Scan(&t.ID, &t.DisplayName, &created)
	t.CreatedAt = fromNanos(created)
	return t, err
}

// Tenant implements meta.Tenants.
func (s *Store) Tenant(ctx context.Context, id string) (*meta.Tenant, error) {
	t, err := one(scanTenant(s.pool.QueryRow(ctx, `SELECT id, display_name, created_at FROM tenants WHERE id = $1`, id)))
	return t, dirErr(err, "tenant %s", id)
}

// Tenants implements meta.Tenants.
func (s *Store) Tenants(ctx context.Context) ([]meta.Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, display_name, created_at FROM tenants ORDER BY created_at, id`)
	ts, err := scanRows(rows, err, scanTenant)
	return ts, dirErr(err, "tenants")
}

const applicationColumns = `object_id, app_id, tenant_id, display_name, created_at`

func scanApplication(sc scanner) (meta.Application, error) {
	var a meta.Application
	var created int64
	err := sc.Scan(&a.ObjectID, &a.AppID, &a.TenantID, &a.DisplayName, &created)
	a.CreatedAt = fromNanos(created)
	return a, err
}

// CreateApplication implements meta.Applications.
func (s *Store) CreateApplication(ctx context.Context, a *meta.Application) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO applications (`+applicationColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		a.ObjectID, a.AppID, a.TenantID, a.DisplayName, nanos(a.CreatedAt))
	return dirErr(err, "create application %s", a.AppID)
}

// Application implements meta.Applications.
func (s *Store) Application(ctx context.Context, objectID string) (*meta.Application, error) {
	a, err := one(scanApplication(s.pool.QueryRow(ctx,
		`SELECT `+applicationColumns+` FROM applications WHERE object_id = $1`, objectID)))
	return a, dirErr(err, "application %s", objectID)
}

// ApplicationByAppID implements meta.Applications.
func (s *Store) ApplicationByAppID(ctx context.Context, appID string) (*meta.Application, error) {
	a, err := one(scanApplication(s.pool.QueryRow(ctx,
		`SELECT `+applicationColumns+` FROM applications WHERE app_id = $1`, appID)))
	return a, dirErr(err, "application %s", appID)
}

// Applications implements meta.Applications.
func (s *Store) Applications(ctx context.Context, tenantID string) ([]meta.Application, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+applicationColumns+` FROM applications
		WHERE tenant_id = $1 ORDER BY display_name, object_id`, tenantID)
	as, err := scanRows(rows, err, scanApplication)
	return as, dirErr(err, "applications")
}

// DeleteApplication implements meta.Applications. Credentials go by ON DELETE CASCADE;
// the service principal, which has no foreign key to its application, explicitly.
func (s *Store) DeleteApplication(ctx context.Context, objectID string) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		var appID string
		if err := tx.QueryRow(ctx, `DELETE FROM applications WHERE object_id = $1 RETURNING app_id`, objectID).Scan(&appID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM principals WHERE app_id = $1 AND kind = $2`, appID, string(meta.KindServicePrincipal))
		return err
	})
	return dirErr(err, "delete application %s", objectID)
}

const principalColumns = `object_id, tenant_id, kind, display_name, app_id, enabled, owner,
	user_principal_name, password_hash, password_changed_at, resource_id, host_id, created_at`

func scanPrincipal(sc scanner) (meta.Principal, error) {
	var p meta.Principal
	var appID, upn, hostID *string
	var kind string
	var changed, created int64
	err := sc.Scan(&p.ObjectID, &p.TenantID, &kind, &p.DisplayName, &appID, &p.Enabled, &p.Owner,
		&upn, &p.PasswordHash, &changed, &p.ResourceID, &hostID, &created)
	p.Kind = meta.PrincipalKind(kind)
	p.AppID, p.UserPrincipalName, p.HostID = deref(appID), deref(upn), deref(hostID)
	p.PasswordChangedAt, p.CreatedAt = fromNanos(changed), fromNanos(created)
	return p, err
}

func insertPrincipal(ctx context.Context, tx pgx.Tx, p *meta.Principal) error {
	_, err := tx.Exec(ctx, `INSERT INTO principals (`+principalColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.ObjectID, p.TenantID, string(p.Kind), p.DisplayName, nullIfEmpty(p.AppID), p.Enabled, p.Owner,
		nullIfEmpty(p.UserPrincipalName), p.PasswordHash, nanos(p.PasswordChangedAt), p.ResourceID, nullIfEmpty(p.HostID),
		nanos(p.CreatedAt))
	return err
}

// CreatePrincipal implements meta.Principals.
func (s *Store) CreatePrincipal(ctx context.Context, p *meta.Principal) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error { return insertPrincipal(ctx, tx, p) })
	return dirErr(err, "create principal %s", p.ObjectID)
}

func principalWhere(ctx context.Context, q queryer, where string, arg any) (*meta.Principal, error) {
	return one(scanPrincipal(q.QueryRow(ctx, `SELECT `+principalColumns+` FROM principals WHERE `+where, arg)))
}

// Principal implements meta.Principals.
func (s *Store) Principal(ctx context.Context, objectID string) (*meta.Principal, error) {
	p, err := principalWhere(ctx, s.pool, `object_id = $1`, objectID)
	return p, dirErr(err, "principal %s", objectID)
}

// PrincipalByAppID implements meta.Principals.
func (s *Store) PrincipalByAppID(ctx context.Context, appID string) (*meta.Principal, error) {
	p, err := principalWhere(ctx, s.pool, `app_id = $1`, appID)
	return p, dirErr(err, "principal of application %s", appID)
}

// PrincipalByUPN implements meta.Principals.
func (s *Store) PrincipalByUPN(ctx context.Context, upn string) (*meta.Principal, error) {
	p, err := principalWhere(ctx, s.pool, `user_principal_name = $1`, upn)
	return p, dirErr(err, "user %s", upn)
}

// Principals implements meta.Principals.
func (s *Store) Principals(ctx context.Context, tenantID string, kind meta.PrincipalKind) ([]meta.Principal, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+principalColumns+` FROM principals
		WHERE tenant_id = $1 AND ($2 = '' OR kind = $2) ORDER BY display_name, object_id`, tenantID, string(kind))
	ps, err := scanRows(rows, err, scanPrincipal)
	return ps, dirErr(err, "principals")
}

// UpdatePrincipal implements meta.Principals: the row is locked while fn runs.
func (s *Store) UpdatePrincipal(ctx context.Context, objectID string, fn func(*meta.Principal) error) (*meta.Principal, error) {
	var p *meta.Principal
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		var err error
		if p, err = principalWhere(ctx, tx, `object_id = $1 FOR UPDATE`, objectID); err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE principals SET display_name = $1, enabled = $2, owner = $3,
			password_hash = $4, password_changed_at = $5 WHERE object_id = $6`,
			p.DisplayName, p.Enabled, p.Owner, p.PasswordHash, nanos(p.PasswordChangedAt), objectID)
		return err
	})
	if err != nil {
		return nil, dirErr(err, "update principal %s", objectID)
	}
	return p, nil
}

// DeletePrincipal implements meta.Principals.
func (s *Store) DeletePrincipal(ctx context.Context, objectID string) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		return affectedOne(tx.Exec(ctx, `DELETE FROM principals WHERE object_id = $1`, objectID))
	})
	return dirErr(err, "delete principal %s", objectID)
}

const clientCredentialColumns = `key_id, app_id, kind, display_name, hint, secret_hash, certificate,
	start_at, end_at, created_at`

func scanClientCredential(sc scanner) (meta.ClientCredential, error) {
	var c meta.ClientCredential
	var kind string
	var start, end, created int64
	err := sc.Scan(&c.KeyID, &c.AppID, &kind, &c.DisplayName, &c.Hint, &c.SecretHash, &c.Certificate, &start, &end, &created)
	c.Kind = meta.CredentialKind(kind)
	c.StartAt, c.EndAt, c.CreatedAt = fromNanos(start), fromNanos(end), fromNanos(created)
	c.SecretHash, c.Certificate = bytesOrNil(c.SecretHash), bytesOrNil(c.Certificate)
	return c, err
}

// AddClientCredential implements meta.Credentials.
func (s *Store) AddClientCredential(ctx context.Context, c *meta.ClientCredential) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO client_credentials (`+clientCredentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.KeyID, c.AppID, string(c.Kind), c.DisplayName, c.Hint, orEmpty(c.SecretHash), orEmpty(c.Certificate),
		nanos(c.StartAt), nanos(c.EndAt), nanos(c.CreatedAt))
	return dirErr(err, "add credential to %s", c.AppID)
}

// ClientCredentials implements meta.Credentials.
func (s *Store) ClientCredentials(ctx context.Context, appID string) ([]meta.ClientCredential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientCredentialColumns+` FROM client_credentials
		WHERE app_id = $1 ORDER BY created_at, key_id`, appID)
	cs, err := scanRows(rows, err, scanClientCredential)
	return cs, dirErr(err, "credentials of %s", appID)
}

// DeleteClientCredential implements meta.Credentials.
func (s *Store) DeleteClientCredential(ctx context.Context, appID, keyID string) error {
	return dirErr(affectedOne(s.pool.Exec(ctx, `DELETE FROM client_credentials WHERE app_id = $1 AND key_id = $2`, appID, keyID)),
		"delete credential %s of %s", keyID, appID)
}

const federatedCredentialColumns = `id, app_id, name, issuer, subject, audiences, description, created_at`

func scanFederatedCredential(sc scanner) (meta.FederatedCredential, error) {
	var f meta.FederatedCredential
	var audiences []byte
	var created int64
	if err := sc.Scan(&f.ID, &f.AppID, &f.Name, &f.Issuer, &f.Subject, &audiences, &f.Description, &created); err != nil {
		return f, err
	}
	f.CreatedAt = fromNanos(created)
	return f, json.Unmarshal(audiences, &f.Audiences)
}

// AddFederatedCredential implements meta.Credentials.
func (s *Store) AddFederatedCredential(ctx context.Context, f *meta.FederatedCredential) error {
	audiences, err := json.Marshal(f.Audiences)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO federated_credentials (`+federatedCredentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		f.ID, f.AppID, f.Name, f.Issuer, f.Subject, audiences, f.Description, nanos(f.CreatedAt))
	return dirErr(err, "add federated credential to %s", f.AppID)
}

// FederatedCredentials implements meta.Credentials.
func (s *Store) FederatedCredentials(ctx context.Context, appID string) ([]meta.FederatedCredential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+federatedCredentialColumns+` FROM federated_credentials
		WHERE app_id = $1 ORDER BY name`, appID)
	fs, err := scanRows(rows, err, scanFederatedCredential)
	return fs, dirErr(err, "federated credentials of %s", appID)
}

// DeleteFederatedCredential implements meta.Credentials.
func (s *Store) DeleteFederatedCredential(ctx context.Context, appID, idOrName string) error {
	return dirErr(affectedOne(s.pool.Exec(ctx, `DELETE FROM federated_credentials WHERE app_id = $1 AND (id = $2 OR name = $2)`,
		appID, idOrName)), "delete federated credential %s of %s", idOrName, appID)
}

const identityHostColumns = `id, tenant_id, name, secret_hash, created_at,
	ARRAY(SELECT object_id FROM identity_host_assignments a WHERE a.host_id = h.id ORDER BY object_id),
	(SELECT object_id FROM principals p WHERE p.host_id = h.id)`

func scanIdentityHost(sc scanner) (meta.IdentityHost, error) {
	var h meta.IdentityHost
	var system *string
	var created int64
	if err := sc.Scan(&h.ID, &h.TenantID, &h.Name, &h.SecretHash, &created, &h.Identities, &system); err != nil {
		return h, err
	}
	h.CreatedAt, h.SystemIdentity = fromNanos(created), deref(system)
	h.SecretHash = bytesOrNil(h.SecretHash)
	if len(h.Identities) == 0 {
		h.Identities = nil
	}
	return h, nil
}

// CreateIdentityHost implements meta.IdentityHosts.
func (s *Store) CreateIdentityHost(ctx context.Context, h *meta.IdentityHost, system *meta.Principal) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO identity_hosts (id, tenant_id, name, secret_hash, created_at)
			VALUES ($1, $2, $3, $4, $5)`, h.ID, h.TenantID, h.Name, orEmpty(h.SecretHash), nanos(h.CreatedAt)); err != nil {
			return err
		}
		system.HostID = h.ID
		if err := insertPrincipal(ctx, tx, system); err != nil {
			return err
		}
		for _, id := range h.Identities {
			if err := assign(ctx, tx, h.ID, id); err != nil {
				return err
			}
		}
		return nil
	})
	return dirErr(err, "create identity host %s", h.Name)
}

func assign(ctx context.Context, q queryer, hostID, objectID string) error {
	_, err := q.Exec(ctx, `INSERT INTO identity_host_assignments (host_id, object_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, hostID, objectID)
	return err
}

func hostWhere(ctx context.Context, q queryer, where string, args ...any) (*meta.IdentityHost, error) {
	return one(scanIdentityHost(q.QueryRow(ctx, `SELECT `+identityHostColumns+` FROM identity_hosts h WHERE `+where, args...)))
}

// IdentityHost implements meta.IdentityHosts.
func (s *Store) IdentityHost(ctx context.Context, id string) (*meta.IdentityHost, error) {
	h, err := hostWhere(ctx, s.pool, `id = $1`, id)
	return h, dirErr(err, "identity host %s", id)
}

// IdentityHostByName implements meta.IdentityHosts.
func (s *Store) IdentityHostByName(ctx context.Context, tenantID, name string) (*meta.IdentityHost, error) {
	h, err := hostWhere(ctx, s.pool, `tenant_id = $1 AND name = $2`, tenantID, name)
	return h, dirErr(err, "identity host %s", name)
}

// IdentityHostBySecret implements meta.IdentityHosts.
func (s *Store) IdentityHostBySecret(ctx context.Context, secretHash []byte) (*meta.IdentityHost, error) {
	h, err := hostWhere(ctx, s.pool, `secret_hash = $1`, orEmpty(secretHash))
	return h, dirErr(err, "identity host by secret")
}

// IdentityHosts implements meta.IdentityHosts.
func (s *Store) IdentityHosts(ctx context.Context, tenantID string) ([]meta.IdentityHost, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+identityHostColumns+` FROM identity_hosts h
		WHERE tenant_id = $1 ORDER BY name`, tenantID)
	hs, err := scanRows(rows, err, scanIdentityHost)
	return hs, dirErr(err, "identity hosts")
}

// AssignIdentity implements meta.IdentityHosts.
func (s *Store) AssignIdentity(ctx context.Context, hostID, objectID string) error {
	return dirErr(assign(ctx, s.pool, hostID, objectID), "assign %s to host %s", objectID, hostID)
}

// DeleteIdentityHost implements meta.IdentityHosts. The system-assigned identity and the
// assignments go by ON DELETE CASCADE.
func (s *Store) DeleteIdentityHost(ctx context.Context, id string) error {
	err := s.accessTx(ctx, func(tx pgx.Tx) error {
		return affectedOne(tx.Exec(ctx, `DELETE FROM identity_hosts WHERE id = $1`, id))
	})
	return dirErr(err, "delete identity host %s", id)
}

const signingKeyColumns = `kid, purpose, generation, algorithm, certificate, private_key,
	sign_from, sign_until, publish_until, created_at`

func scanSigningKey(sc scanner) (meta.SigningKey, error) {
	var k meta.SigningKey
	var from, until, publish, created int64
	err := sc.Scan(&k.ID, &k.Purpose, &k.Generation, &k.Algorithm, &k.Certificate, &k.PrivateKey, &from, &until, &publish, &created)
	k.SignFrom, k.SignUntil, k.PublishUntil, k.CreatedAt = fromNanos(from), fromNanos(until), fromNanos(publish), fromNanos(created)
	k.Certificate, k.PrivateKey = bytesOrNil(k.Certificate), bytesOrNil(k.PrivateKey)
	return k, err
}

// AddSigningKey implements meta.SigningKeys.
func (s *Store) AddSigningKey(ctx context.Context, k *meta.SigningKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.Purpose, k.Generation, k.Algorithm, orEmpty(k.Certificate), orEmpty(k.PrivateKey),
		nanos(k.SignFrom), nanos(k.SignUntil), nanos(k.PublishUntil), nanos(k.CreatedAt))
	return dirErr(err, "add signing key %s", k.ID)
}

// SigningKeys implements meta.SigningKeys.
func (s *Store) SigningKeys(ctx context.Context, purpose string) ([]meta.SigningKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys
		WHERE purpose = $1 ORDER BY generation`, purpose)
	ks, err := scanRows(rows, err, scanSigningKey)
	return ks, dirErr(err, "signing keys")
}

// DeleteSigningKeys implements meta.SigningKeys.
func (s *Store) DeleteSigningKeys(ctx context.Context, purpose string, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM signing_keys WHERE purpose = $1 AND publish_until < $2`, purpose, nanos(t))
	if err != nil {
		return 0, dirErr(err, "delete signing keys")
	}
	return int(tag.RowsAffected()), nil
}

// UseOnce implements meta.OneTime. The insert fails on the primary key exactly when an
// unexpired record exists, because expired ones are removed first in the same
// transaction; of two concurrent uses, the second waits for the first's insert and fails.
func (s *Store) UseOnce(ctx context.Context, key string, expires, now time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM used_once WHERE expires_at <= $1`, nanos(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO used_once (id, expires_at) VALUES ($1, $2)`, key, nanos(expires))
		return err
	})
	if err = dirErr(err, "use once"); errors.Is(err, meta.ErrObjectExists) {
		return meta.ErrUsedOnce
	}
	return err
}

const deviceCodeColumns = `code_hash, user_code, client_id, tenant, scope, user_object_id, expires_at, created_at`

func scanDeviceCode(sc scanner) (meta.DeviceCode, error) {
	var d meta.DeviceCode
	var expires, created int64
	err := sc.Scan(&d.CodeHash, &d.UserCode, &d.ClientID, &d.Tenant, &d.Scope, &d.UserObjectID, &expires, &created)
	d.ExpiresAt, d.CreatedAt = fromNanos(expires), fromNanos(created)
	d.CodeHash = bytesOrNil(d.CodeHash)
	return d, err
}

// CreateDeviceCode implements meta.OneTime.
func (s *Store) CreateDeviceCode(ctx context.Context, d *meta.DeviceCode, now time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM device_codes WHERE expires_at <= $1`, nanos(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_codes (`+deviceCodeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			orEmpty(d.CodeHash), d.UserCode, d.ClientID, d.Tenant, d.Scope, d.UserObjectID,
			nanos(d.ExpiresAt), nanos(d.CreatedAt))
		return err
	})
	return dirErr(err, "create device code")
}

// DeviceCodeByUserCode implements meta.OneTime.
func (s *Store) DeviceCodeByUserCode(ctx context.Context, userCode string) (*meta.DeviceCode, error) {
	d, err := one(scanDeviceCode(s.pool.QueryRow(ctx,
		`SELECT `+deviceCodeColumns+` FROM device_codes WHERE user_code = $1`, userCode)))
	return d, dirErr(err, "device code")
}

// ApproveDeviceCode implements meta.OneTime. One statement: of two concurrent approvals,
// the second finds the code approved.
func (s *Store) ApproveDeviceCode(ctx context.Context, userCode, userObjectID string) error {
	return dirErr(affectedOne(s.pool.Exec(ctx, `UPDATE device_codes SET user_object_id = $1
		WHERE user_code = $2 AND user_object_id = ''`, userObjectID, userCode)), "approve device code")
}

// RedeemDeviceCode implements meta.OneTime. The code's row is locked while it is read, so
// of two concurrent redemptions the second finds it gone.
func (s *Store) RedeemDeviceCode(ctx context.Context, codeHash []byte) (*meta.DeviceCode, error) {
	var d *meta.DeviceCode
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = one(scanDeviceCode(tx.QueryRow(ctx,
			`SELECT `+deviceCodeColumns+` FROM device_codes WHERE code_hash = $1 FOR UPDATE`, orEmpty(codeHash))))
		if err != nil || d.UserObjectID == "" {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM device_codes WHERE code_hash = $1`, orEmpty(codeHash))
		return err
	})
	if err != nil {
		return nil, dirErr(err, "redeem device code")
	}
	return d, nil
}

// one turns the scan of a single-row query into a record, or pgx.ErrNoRows (which the
// error mappers turn into the meta "not found" of their records).
func one[T any](v T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// affectedOne turns a DELETE or UPDATE that touched nothing into pgx.ErrNoRows.
func affectedOne(tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return err
}

// dirErr maps database errors to the meta sentinels of the directory and adds context.
func dirErr(err error, format string, args ...any) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		err = meta.ErrObjectNotFound
	case pgCode(err) == uniqueViolation:
		err = fmt.Errorf("%w (%v)", meta.ErrObjectExists, err)
	case pgCode(err) == foreignKeyViolation:
		err = fmt.Errorf("%w (a referenced object: %v)", meta.ErrObjectNotFound, err)
	}
	return wrapf(err, format, args...)
}

// nullIfEmpty stores "" as NULL, for UNIQUE columns that may have no value.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

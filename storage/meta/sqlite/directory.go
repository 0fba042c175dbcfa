package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// The directory (meta.Directory, migration 0002). Uniqueness and references are left to
// the schema's constraints: a violated UNIQUE or PRIMARY KEY becomes meta.ErrObjectExists,
// a violated FOREIGN KEY (a parent that does not exist) meta.ErrObjectNotFound.

var _ meta.Directory = (*Store)(nil)

// CreateTenant implements meta.Tenants.
func (s *Store) CreateTenant(ctx context.Context, t *meta.Tenant) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO tenants (id, display_name, created_at) VALUES (?, ?, ?)`,
		t.ID, t.DisplayName, nanosOrZero(t.CreatedAt))
	return dirErr(err, "create tenant %s", t.ID)
}

func scanTenant(sc rowScanner) (meta.Tenant, error) {
	var t meta.Tenant
	var created int64
	err := sc.Scan(&t.ID, &t.DisplayName, &created)
	t.CreatedAt = timeOrZero(created)
	return t, err
}

// Tenant implements meta.Tenants.
func (s *Store) Tenant(ctx context.Context, id string) (*meta.Tenant, error) {
	t, err := record(scanTenant(s.r.QueryRowContext(ctx, `SELECT id, display_name, created_at FROM tenants WHERE id = ?`, id)))
	return t, dirErr(err, "tenant %s", id)
}

// Tenants implements meta.Tenants.
func (s *Store) Tenants(ctx context.Context) ([]meta.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, display_name, created_at FROM tenants ORDER BY created_at, id`)
	ts, err := scanRows(rows, err, scanTenant)
	return ts, dirErr(err, "tenants")
}

const applicationColumns = `object_id, app_id, tenant_id, display_name, created_at`

func scanApplication(sc rowScanner) (meta.Application, error) {
	var a meta.Application
	var created int64
	err := sc.Scan(&a.ObjectID, &a.AppID, &a.TenantID, &a.DisplayName, &created)
	a.CreatedAt = timeOrZero(created)
	return a, err
}

// CreateApplication implements meta.Applications.
func (s *Store) CreateApplication(ctx context.Context, a *meta.Application) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO applications (`+applicationColumns+`) VALUES (?, ?, ?, ?, ?)`,
		a.ObjectID, a.AppID, a.TenantID, a.DisplayName, nanosOrZero(a.CreatedAt))
	return dirErr(err, "create application %s", a.AppID)
}

// Application implements meta.Applications.
func (s *Store) Application(ctx context.Context, objectID string) (*meta.Application, error) {
	a, err := record(scanApplication(s.r.QueryRowContext(ctx,
		`SELECT `+applicationColumns+` FROM applications WHERE object_id = ?`, objectID)))
	return a, dirErr(err, "application %s", objectID)
}

// ApplicationByAppID implements meta.Applications.
func (s *Store) ApplicationByAppID(ctx context.Context, appID string) (*meta.Application, error) {
	a, err := record(scanApplication(s.r.QueryRowContext(ctx,
		`SELECT `+applicationColumns+` FROM applications WHERE app_id = ?`, appID)))
	return a, dirErr(err, "application %s", appID)
}

// Applications implements meta.Applications.
func (s *Store) Applications(ctx context.Context, tenantID string) ([]meta.Application, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+applicationColumns+` FROM applications
		WHERE tenant_id = ? ORDER BY display_name, object_id`, tenantID)
	as, err := scanRows(rows, err, scanApplication)
	return as, dirErr(err, "applications")
}

// DeleteApplication implements meta.Applications. Credentials go by ON DELETE CASCADE;
// the service principal, which has no foreign key to its application, explicitly.
func (s *Store) DeleteApplication(ctx context.Context, objectID string) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var appID string
		if err := tx.QueryRowContext(ctx, `SELECT app_id FROM applications WHERE object_id = ?`, objectID).Scan(&appID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM principals WHERE app_id = ? AND kind = ?`, appID, meta.KindServicePrincipal); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM applications WHERE object_id = ?`, objectID)
		return err
	})
	return dirErr(err, "delete application %s", objectID)
}

const principalColumns = `object_id, tenant_id, kind, display_name, app_id, enabled, owner,
	user_principal_name, password_hash, password_changed_at, resource_id, host_id, created_at`

func scanPrincipal(sc rowScanner) (meta.Principal, error) {
	var p meta.Principal
	var appID, upn, hostID sql.NullString
	var changed, created int64
	err := sc.Scan(&p.ObjectID, &p.TenantID, &p.Kind, &p.DisplayName, &appID, &p.Enabled, &p.Owner,
		&upn, &p.PasswordHash, &changed, &p.ResourceID, &hostID, &created)
	p.AppID, p.UserPrincipalName, p.HostID = appID.String, upn.String, hostID.String
	p.PasswordChangedAt, p.CreatedAt = timeOrZero(changed), timeOrZero(created)
	return p, err
}

func insertPrincipal(ctx context.Context, tx *sql.Tx, p *meta.Principal) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO principals (`+principalColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ObjectID, p.TenantID, p.Kind, p.DisplayName, dirNull(p.AppID), p.Enabled, p.Owner,
		dirNull(p.UserPrincipalName), p.PasswordHash, nanosOrZero(p.PasswordChangedAt), p.ResourceID, dirNull(p.HostID),
		nanosOrZero(p.CreatedAt))
	return err
}

// CreatePrincipal implements meta.Principals.
func (s *Store) CreatePrincipal(ctx context.Context, p *meta.Principal) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error { return insertPrincipal(ctx, tx, p) })
	return dirErr(err, "create principal %s", p.ObjectID)
}

func principalWhere(ctx context.Context, q rowQueryer, where string, arg any) (*meta.Principal, error) {
	return record(scanPrincipal(q.QueryRowContext(ctx, `SELECT `+principalColumns+` FROM principals WHERE `+where, arg)))
}

// Principal implements meta.Principals.
func (s *Store) Principal(ctx context.Context, objectID string) (*meta.Principal, error) {
	p, err := principalWhere(ctx, s.r, `object_id = ?`, objectID)
	return p, dirErr(err, "principal %s", objectID)
}

// PrincipalByAppID implements meta.Principals.
func (s *Store) PrincipalByAppID(ctx context.Context, appID string) (*meta.Principal, error) {
	p, err := principalWhere(ctx, s.r, `app_id = ?`, appID)
	return p, dirErr(err, "principal of application %s", appID)
}

// PrincipalByUPN implements meta.Principals.
func (s *Store) PrincipalByUPN(ctx context.Context, upn string) (*meta.Principal, error) {
	p, err := principalWhere(ctx, s.r, `user_principal_name = ?`, upn)
	return p, dirErr(err, "user %s", upn)
}

// Principals implements meta.Principals.
func (s *Store) Principals(ctx context.Context, tenantID string, kind meta.PrincipalKind) ([]meta.Principal, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+principalColumns+` FROM principals
		WHERE tenant_id = ? AND (? = '' OR kind = ?) ORDER BY display_name, object_id`, tenantID, kind, kind)
	ps, err := scanRows(rows, err, scanPrincipal)
	return ps, dirErr(err, "principals")
}

// UpdatePrincipal implements meta.Principals.
func (s *Store) UpdatePrincipal(ctx context.Context, objectID string, fn func(*meta.Principal) error) (*meta.Principal, error) {
	var p *meta.Principal
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		if p, err = principalWhere(ctx, tx, `object_id = ?`, objectID); err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE principals SET display_name = ?, enabled = ?, owner = ?,
			password_hash = ?, password_changed_at = ? WHERE object_id = ?`,
			p.DisplayName, p.Enabled, p.Owner, p.PasswordHash, nanosOrZero(p.PasswordChangedAt), objectID)
		return err
	})
	if err != nil {
		return nil, dirErr(err, "update principal %s", objectID)
	}
	return p, nil
}

// DeletePrincipal implements meta.Principals.
func (s *Store) DeletePrincipal(ctx context.Context, objectID string) error {
	return dirErr(touched(s.w.ExecContext(ctx, `DELETE FROM principals WHERE object_id = ?`, objectID)),
		"delete principal %s", objectID)
}

const clientCredentialColumns = `key_id, app_id, kind, display_name, hint, secret_hash, certificate,
	start_at, end_at, created_at`

func scanClientCredential(sc rowScanner) (meta.ClientCredential, error) {
	var c meta.ClientCredential
	var hash, cert string
	var start, end, created int64
	if err := sc.Scan(&c.KeyID, &c.AppID, &c.Kind, &c.DisplayName, &c.Hint, &hash, &cert, &start, &end, &created); err != nil {
		return c, err
	}
	c.StartAt, c.EndAt, c.CreatedAt = timeOrZero(start), timeOrZero(end), timeOrZero(created)
	var err error
	if c.SecretHash, err = unb64(hash); err != nil {
		return c, err
	}
	c.Certificate, err = unb64(cert)
	return c, err
}

// AddClientCredential implements meta.Credentials.
func (s *Store) AddClientCredential(ctx context.Context, c *meta.ClientCredential) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO client_credentials (`+clientCredentialColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.KeyID, c.AppID, c.Kind, c.DisplayName, c.Hint, b64(c.SecretHash), b64(c.Certificate),
		nanosOrZero(c.StartAt), nanosOrZero(c.EndAt), nanosOrZero(c.CreatedAt))
	return dirErr(err, "add credential to %s", c.AppID)
}

// ClientCredentials implements meta.Credentials.
func (s *Store) ClientCredentials(ctx context.Context, appID string) ([]meta.ClientCredential, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+clientCredentialColumns+` FROM client_credentials
		WHERE app_id = ? ORDER BY created_at, key_id`, appID)
	cs, err := scanRows(rows, err, scanClientCredential)
	return cs, dirErr(err, "credentials of %s", appID)
}

// DeleteClientCredential implements meta.Credentials.
func (s *Store) DeleteClientCredential(ctx context.Context, appID, keyID string) error {
	return dirErr(touched(s.w.ExecContext(ctx, `DELETE FROM client_credentials WHERE app_id = ? AND key_id = ?`, appID, keyID)),
		"delete credential %s of %s", keyID, appID)
}

const federatedCredentialColumns = `id, app_id, name, issuer, subject, audiences, description, created_at`

func scanFederatedCredential(sc rowScanner) (meta.FederatedCredential, error) {
	var f meta.FederatedCredential
	var audiences string
	var created int64
	if err := sc.Scan(&f.ID, &f.AppID, &f.Name, &f.Issuer, &f.Subject, &audiences, &f.Description, &created); err != nil {
		return f, err
	}
	f.CreatedAt = timeOrZero(created)
	return f, json.Unmarshal([]byte(audiences), &f.Audiences)
}

// AddFederatedCredential implements meta.Credentials.
func (s *Store) AddFederatedCredential(ctx context.Context, f *meta.FederatedCredential) error {
	audiences, err := json.Marshal(f.Audiences)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO federated_credentials (`+federatedCredentialColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.AppID, f.Name, f.Issuer, f.Subject, string(audiences), f.Description, nanosOrZero(f.CreatedAt))
	return dirErr(err, "add federated credential to %s", f.AppID)
}

// FederatedCredentials implements meta.Credentials.
func (s *Store) FederatedCredentials(ctx context.Context, appID string) ([]meta.FederatedCredential, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+federatedCredentialColumns+` FROM federated_credentials
		WHERE app_id = ? ORDER BY name`, appID)
	fs, err := scanRows(rows, err, scanFederatedCredential)
	return fs, dirErr(err, "federated credentials of %s", appID)
}

// DeleteFederatedCredential implements meta.Credentials.
func (s *Store) DeleteFederatedCredential(ctx context.Context, appID, idOrName string) error {
	return dirErr(touched(s.w.ExecContext(ctx, `DELETE FROM federated_credentials WHERE app_id = ? AND (id = ? OR name = ?)`,
		appID, idOrName, idOrName)), "delete federated credential %s of %s", idOrName, appID)
}

const identityHostColumns = `id, tenant_id, name, secret_hash, created_at,
	(SELECT json_group_array(object_id) FROM (SELECT object_id FROM identity_host_assignments a
		WHERE a.host_id = h.id ORDER BY object_id)),
	(SELECT object_id FROM principals p WHERE p.host_id = h.id)`

func scanIdentityHost(sc rowScanner) (meta.IdentityHost, error) {
	var h meta.IdentityHost
	var hash, identities string
	var system sql.NullString
	var created int64
	if err := sc.Scan(&h.ID, &h.TenantID, &h.Name, &hash, &created, &identities, &system); err != nil {
		return h, err
	}
	h.CreatedAt, h.SystemIdentity = timeOrZero(created), system.String
	var err error
	if h.SecretHash, err = unb64(hash); err != nil {
		return h, err
	}
	if err := json.Unmarshal([]byte(identities), &h.Identities); err != nil {
		return h, err
	}
	if len(h.Identities) == 0 {
		h.Identities = nil
	}
	return h, nil
}

// CreateIdentityHost implements meta.IdentityHosts.
func (s *Store) CreateIdentityHost(ctx context.Context, h *meta.IdentityHost, system *meta.Principal) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_hosts (id, tenant_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			h.ID, h.TenantID, h.Name, b64(h.SecretHash), nanosOrZero(h.CreatedAt)); err != nil {
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

func assign(ctx context.Context, tx *sql.Tx, hostID, objectID string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO identity_host_assignments (host_id, object_id) VALUES (?, ?)
		ON CONFLICT DO NOTHING`, hostID, objectID)
	return err
}

func hostWhere(ctx context.Context, q rowQueryer, where string, args ...any) (*meta.IdentityHost, error) {
	return record(scanIdentityHost(q.QueryRowContext(ctx, `SELECT `+identityHostColumns+` FROM identity_hosts h WHERE `+where, args...)))
}

// IdentityHost implements meta.IdentityHosts.
func (s *Store) IdentityHost(ctx context.Context, id string) (*meta.IdentityHost, error) {
	h, err := hostWhere(ctx, s.r, `id = ?`, id)
	return h, dirErr(err, "identity host %s", id)
}

// IdentityHostByName implements meta.IdentityHosts.
func (s *Store) IdentityHostByName(ctx context.Context, tenantID, name string) (*meta.IdentityHost, error) {
	h, err := hostWhere(ctx, s.r, `tenant_id = ? AND name = ?`, tenantID, name)
	return h, dirErr(err, "identity host %s", name)
}

// IdentityHostBySecret implements meta.IdentityHosts.
func (s *Store) IdentityHostBySecret(ctx context.Context, secretHash []byte) (*meta.IdentityHost, error) {
	h, err := hostWhere(ctx, s.r, `secret_hash = ?`, b64(secretHash))
	return h, dirErr(err, "identity host by secret")
}

// IdentityHosts implements meta.IdentityHosts.
func (s *Store) IdentityHosts(ctx context.Context, tenantID string) ([]meta.IdentityHost, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+identityHostColumns+` FROM identity_hosts h
		WHERE tenant_id = ? ORDER BY name`, tenantID)
	hs, err := scanRows(rows, err, scanIdentityHost)
	return hs, dirErr(err, "identity hosts")
}

// AssignIdentity implements meta.IdentityHosts.
func (s *Store) AssignIdentity(ctx context.Context, hostID, objectID string) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error { return assign(ctx, tx, hostID, objectID) })
	return dirErr(err, "assign %s to host %s", objectID, hostID)
}

// DeleteIdentityHost implements meta.IdentityHosts. The system-assigned identity and the
// assignments go by ON DELETE CASCADE.
func (s *Store) DeleteIdentityHost(ctx context.Context, id string) error {
	return dirErr(touched(s.w.ExecContext(ctx, `DELETE FROM identity_hosts WHERE id = ?`, id)),
		"delete identity host %s", id)
}

const signingKeyColumns = `kid, purpose, generation, algorithm, certificate, private_key,
	sign_from, sign_until, publish_until, created_at`

func scanSigningKey(sc rowScanner) (meta.SigningKey, error) {
	var k meta.SigningKey
	var cert, priv string
	var from, until, publish, created int64
	if err := sc.Scan(&k.ID, &k.Purpose, &k.Generation, &k.Algorithm, &cert, &priv, &from, &until, &publish, &created); err != nil {
		return k, err
	}
	k.SignFrom, k.SignUntil, k.PublishUntil, k.CreatedAt = timeOrZero(from), timeOrZero(until), timeOrZero(publish), timeOrZero(created)
	var err error
	if k.Certificate, err = unb64(cert); err != nil {
		return k, err
	}
	k.PrivateKey, err = unb64(priv)
	return k, err
}

// AddSigningKey implements meta.SigningKeys.
func (s *Store) AddSigningKey(ctx context.Context, k *meta.SigningKey) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Purpose, k.Generation, k.Algorithm, b64(k.Certificate), b64(k.PrivateKey),
		nanosOrZero(k.SignFrom), nanosOrZero(k.SignUntil), nanosOrZero(k.PublishUntil), nanosOrZero(k.CreatedAt))
	return dirErr(err, "add signing key %s", k.ID)
}

// SigningKeys implements meta.SigningKeys.
func (s *Store) SigningKeys(ctx context.Context, purpose string) ([]meta.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys
		WHERE purpose = ? ORDER BY generation`, purpose)
	ks, err := scanRows(rows, err, scanSigningKey)
	return ks, dirErr(err, "signing keys")
}

// DeleteSigningKeys implements meta.SigningKeys.
func (s *Store) DeleteSigningKeys(ctx context.Context, purpose string, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM signing_keys WHERE purpose = ? AND publish_until < ?`, purpose, nanosOrZero(t))
	if err != nil {
		return 0, dirErr(err, "delete signing keys")
	}
	n, err := res.RowsAffected()
	return int(n), dirErr(err, "delete signing keys")
}

// UseOnce implements meta.OneTime. The insert fails on the primary key exactly when an
// unexpired record exists, because expired ones are removed first in the same transaction.
func (s *Store) UseOnce(ctx context.Context, key string, expires, now time.Time) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM used_once WHERE expires_at <= ?`, nanosOrZero(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO used_once (id, expires_at) VALUES (?, ?)`, key, nanosOrZero(expires))
		return err
	})
	if err = dirErr(err, "use once"); errors.Is(err, meta.ErrObjectExists) {
		return meta.ErrUsedOnce
	}
	return err
}

const deviceCodeColumns = `code_hash, user_code, client_id, tenant, scope, user_object_id, expires_at, created_at`

func scanDeviceCode(sc rowScanner) (meta.DeviceCode, error) {
	var d meta.DeviceCode
	var hash string
	var expires, created int64
	if err := sc.Scan(&hash, &d.UserCode, &d.ClientID, &d.Tenant, &d.Scope, &d.UserObjectID, &expires, &created); err != nil {
		return d, err
	}
	d.ExpiresAt, d.CreatedAt = timeOrZero(expires), timeOrZero(created)
	var err error
	d.CodeHash, err = unb64(hash)
	return d, err
}

// CreateDeviceCode implements meta.OneTime.
func (s *Store) CreateDeviceCode(ctx context.Context, d *meta.DeviceCode, now time.Time) error {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_codes WHERE expires_at <= ?`, nanosOrZero(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_codes (`+deviceCodeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			b64(d.CodeHash), d.UserCode, d.ClientID, d.Tenant, d.Scope, d.UserObjectID,
			nanosOrZero(d.ExpiresAt), nanosOrZero(d.CreatedAt))
		return err
	})
	return dirErr(err, "create device code")
}

// DeviceCodeByUserCode implements meta.OneTime.
func (s *Store) DeviceCodeByUserCode(ctx context.Context, userCode string) (*meta.DeviceCode, error) {
	d, err := record(scanDeviceCode(s.r.QueryRowContext(ctx,
		`SELECT `+deviceCodeColumns+` FROM device_codes WHERE user_code = ?`, userCode)))
	return d, dirErr(err, "device code")
}

// ApproveDeviceCode implements meta.OneTime.
func (s *Store) ApproveDeviceCode(ctx context.Context, userCode, userObjectID string) error {
	return dirErr(touched(s.w.ExecContext(ctx, `UPDATE device_codes SET user_object_id = ?
		WHERE user_code = ? AND user_object_id = ''`, userObjectID, userCode)), "approve device code")
}

// RedeemDeviceCode implements meta.OneTime.
func (s *Store) RedeemDeviceCode(ctx context.Context, codeHash []byte) (*meta.DeviceCode, error) {
	var d *meta.DeviceCode
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		d, err = record(scanDeviceCode(tx.QueryRowContext(ctx,
			`SELECT `+deviceCodeColumns+` FROM device_codes WHERE code_hash = ?`, b64(codeHash))))
		if err != nil || d.UserObjectID == "" {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM device_codes WHERE code_hash = ?`, b64(codeHash))
		return err
	})
	if err != nil {
		return nil, dirErr(err, "redeem device code")
	}
	return d, nil
}

// dirErr maps database errors to the meta sentinels and adds context.
func dirErr(err error, format string, args ...any) error {
	var se *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		err = meta.ErrObjectNotFound
	case errors.As(err, &se):
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			err = fmt.Errorf("%w (%v)", meta.ErrObjectExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			err = fmt.Errorf("%w (a referenced object: %v)", meta.ErrObjectNotFound, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", fmt.Sprintf(format, args...), err)
}

// dirNull stores "" as NULL, for UNIQUE columns that may have no value.
func dirNull(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

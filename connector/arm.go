package connector

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// ARMAPIVersion is the api-version of raw ARM reads (ARMGet): the newest stable
// Microsoft.ContainerRegistry version, which has the properties armcontainerregistry
// v1.2.0 does not model (anonymousPullEnabled, roleAssignmentMode,
// azureADAuthenticationAsArmPolicy).
const ARMAPIVersion = "2025-11-01"

// ARMGet reads an ARM resource (path is its id, optionally with a query; api-version
// defaults to ARMAPIVersion) through azcore's ARM pipeline, signed in as the session,
// and decodes the JSON into out. An error answer is an *azcore.ResponseError.
func (s *Session) ARMGet(ctx context.Context, path string, out any) error {
	return s.armCall(ctx, http.MethodGet, path, out)
}

// ARMPost is ARMGet with POST and no body (listCredentials and the like).
func (s *Session) ARMPost(ctx context.Context, path string, out any) error {
	return s.armCall(ctx, http.MethodPost, path, out)
}

func (s *Session) armCall(ctx context.Context, method, path string, out any) error {
	if s.cred == nil {
		return fmt.Errorf("connector: %s credentials cannot use ARM", s.conn.Credential.Kind)
	}
	client, err := arm.NewClient("cerulean-connector", "v1.0.0", s.cred, s.ARMOptions())
	if err != nil {
		return err
	}
	if !strings.Contains(path, "api-version=") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "api-version=" + ARMAPIVersion
	}
	req, err := runtime.NewRequest(ctx, method, strings.TrimRight(s.conn.Cloud.ResourceManager, "/")+path)
	if err != nil {
		return err
	}
	resp, err := client.Pipeline().Do(req)
	if err != nil {
		return err
	}
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return runtime.NewResponseError(resp)
	}
	if out == nil {
		return nil
	}
	return runtime.UnmarshalAsJSON(resp, out)
}

// PasswordMatches reports, in constant time, whether candidate is the connection's
// password (admin user or repository token), without revealing it: the diagnosis uses
// it to tell which admin password the connection holds.
func (s *Session) PasswordMatches(candidate string) bool {
	return s.secrets.Password != "" && subtle.ConstantTimeCompare([]byte(candidate), []byte(s.secrets.Password)) == 1
}

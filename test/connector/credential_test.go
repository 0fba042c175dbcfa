package connector

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// countingCredential counts token requests for the ACR audience and never issues one.
type countingCredential struct{ acr atomic.Int64 }

func (c *countingCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	for _, s := range o.Scopes {
		if strings.HasPrefix(s, "https://containerregistry.azure.net") {
			c.acr.Add(1)
		}
	}
	return azcore.AccessToken{}, errors.New("no token")
}

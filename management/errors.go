package management

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cerulean-registry/cerulean/access"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Error is an ARM error: the status and the code and message that ARM clients show
// ("(AuthorizationFailed) The client ... does not have authorization ...").
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorTable is the one map from the errors of other packages to ARM errors. Handlers
// turn the store's not-found and conflict errors into specific ones (naming the resource)
// where they can; these are the fallbacks. Anything else is a 500 whose detail is only
// logged.
var errorTable = []struct {
	err    error
	status int
	code   string
	// text: the error's own text is safe and useful to show (validation errors);
	// otherwise the message is the code's generic one.
	text    bool
	message string
}{
	{err: access.ErrInvalidScopeMapAction, status: http.StatusBadRequest, code: "InvalidParameter", text: true},
	{err: access.ErrInvalidCondition, status: http.StatusBadRequest, code: "InvalidCondition", text: true},
	{err: meta.ErrResourceNotFound, status: http.StatusNotFound, code: "ResourceNotFound",
		message: "The resource was not found."},
	{err: meta.ErrResourceExists, status: http.StatusConflict, code: "Conflict",
		message: "The resource already exists."},
	{err: meta.ErrResourceInUse, status: http.StatusConflict, code: "Conflict",
		message: "The resource is in use by other resources."},
}

// armError returns the ARM error for err.
func armError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	for _, t := range errorTable {
		if errors.Is(err, t.err) {
			msg := t.message
			if t.text {
				msg = err.Error()
			}
			return &Error{Status: t.status, Code: t.code, Message: msg}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "InternalServerError",
		Message: "The server encountered an internal error. Retry the request; the correlation id identifies it in the server's log."}
}

func badRequest(code, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: message}
}

func invalidContent(err error) *Error {
	return badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error())
}

func invalidScope(s string) *Error {
	return badRequest("InvalidScope", fmt.Sprintf("The scope '%s' is not valid: Cerulean knows the root '/', "+
		"subscriptions, resource groups and container registries.", s))
}

func subscriptionNotFound(sub string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "SubscriptionNotFound",
		Message: fmt.Sprintf("The subscription '%s' could not be found.", sub)}
}

func groupNotFound(group string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "ResourceGroupNotFound",
		Message: fmt.Sprintf("Resource group '%s' could not be found.", group)}
}

// resourceNotFound is ARM's answer for a missing resource of a resource group.
func resourceNotFound(typ, name, group string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The Resource '%s/%s' under resource group '%s' was not found. "+
			"For more details please go to https://aka.ms/ARMResourceNotFoundFix", typ, name, group)}
}

func authorizationFailed(c *Caller, operation, target string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "AuthorizationFailed",
		Message: fmt.Sprintf("The client '%s' with object id '%s' does not have authorization to perform action '%s' "+
			"over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
			c.display(), c.ObjectID, operation, target)}
}

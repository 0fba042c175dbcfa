package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cerulean-registry/cerulean/auth"
	"github.com/cerulean-registry/cerulean/oci"
	"github.com/cerulean-registry/cerulean/storage/blob"
	"github.com/cerulean-registry/cerulean/storage/meta"
)

// Code is an error code of the distribution spec ("Error Codes" table).
type Code string

// The codes this plane answers with, and their statuses.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
	CodePaginationInvalid   Code = "PAGINATION_NUMBER_INVALID"
	CodeRangeInvalid        Code = "RANGE_INVALID"
	CodeTagInvalid          Code = "TAG_INVALID"
	CodeUnknown             Code = "UNKNOWN"

	// ACR's own codes. REGISTRY_DISALLOWED_OPERATION is what ACR answers, with 405, to an
	// operation a changeable attribute forbids (azure-sdk-for-net#22827 shows the body).
	// TAG_UNKNOWN is its 404 for a tag of /acr/v1/{name}/_tags/{tag}. INVALID_REQUEST, for
	// an unreadable /acr/v1 query or PATCH body, is ours: ACR's code for it is unknown.
	CodeDisallowed     Code = "REGISTRY_DISALLOWED_OPERATION"
	CodeTagUnknown     Code = "TAG_UNKNOWN"
	CodeInvalidRequest Code = "INVALID_REQUEST"
)

// disallowedMessage is ACR's message for CodeDisallowed, word for word.
const disallowedMessage = "The operation is disallowed on this registry, repository or image. " +
	"View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation"

// errTagUnknown marks a missing tag on the /acr/v1 tag endpoints, which answer ACR's
// TAG_UNKNOWN where /v2 answers MANIFEST_UNKNOWN.
var errTagUnknown = errors.New("tag unknown")

// Error is a wire error: a code, the status it is sent with, a message and optional
// detail. Handlers return it (or a domain error that toWire maps to one).
type Error struct {
	Code    Code
	Status  int
	Message string
	Detail  any
	header  http.Header // extra headers, e.g. Range on a 416
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// errorf builds a wire error.
func errorf(status int, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// toWire maps an error from a handler or the layers below to what the client is told.
// It is the one place that decides statuses and codes for this plane.
func toWire(err error) *Error {
	var we *Error
	var missing *meta.MissingReferencesError
	var refused *refusal
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &refused):
		return refusalToWire(refused)
	case errors.Is(err, auth.ErrUnknownRegistry):
		return errorf(http.StatusNotFound, CodeNameUnknown, "no registry is served at this address")
	case errors.Is(err, meta.ErrDisallowed):
		return &Error{Code: CodeDisallowed, Status: http.StatusMethodNotAllowed, Message: disallowedMessage, Detail: struct{}{}}
	case errors.Is(err, errTagUnknown):
		return errorf(http.StatusNotFound, CodeTagUnknown, "the specified tag does not exist")
	case errors.As(err, &missing):
		return &Error{Code: CodeManifestBlobUnknown, Status: http.StatusBadRequest,
			Message: "manifest references content unknown to the repository", Detail: missing.Digests}
	case errors.Is(err, oci.ErrInvalidName):
		return errorf(http.StatusBadRequest, CodeNameInvalid, "%v", err)
	case errors.Is(err, oci.ErrInvalidTag):
		return errorf(http.StatusBadRequest, CodeTagInvalid, "%v", err)
	case errors.Is(err, oci.ErrInvalidDigest):
		return errorf(http.StatusBadRequest, CodeDigestInvalid, "%v", err)
	case errors.Is(err, blob.ErrDigestMismatch):
		return errorf(http.StatusBadRequest, CodeDigestInvalid, "the uploaded content does not match the digest given")
	case errors.Is(err, blob.ErrUnsupportedDigest):
		return errorf(http.StatusBadRequest, CodeDigestInvalid, "unsupported digest algorithm (sha256 and sha512 are)")
	case errors.Is(err, oci.ErrInvalidManifest):
		return errorf(http.StatusBadRequest, CodeManifestInvalid, "%v", err)
	case errors.Is(err, blob.ErrSizeMismatch):
		return errorf(http.StatusBadRequest, CodeSizeInvalid, "the uploaded content does not have the size given")
	case errors.Is(err, meta.ErrRepositoryNotFound):
		return errorf(http.StatusNotFound, CodeNameUnknown, "repository name not known to registry")
	case errors.Is(err, meta.ErrManifestNotFound), errors.Is(err, meta.ErrTagNotFound):
		return errorf(http.StatusNotFound, CodeManifestUnknown, "manifest unknown to registry")
	case errors.Is(err, meta.ErrBlobNotFound), errors.Is(err, blob.ErrNotFound):
		return errorf(http.StatusNotFound, CodeBlobUnknown, "blob unknown to registry")
	case errors.Is(err, meta.ErrBlobBeingDeleted):
		e := errorf(http.StatusServiceUnavailable, CodeUnknown, "the blob was being garbage-collected; push it again")
		e.header = http.Header{"Retry-After": {"1"}}
		return e
	case errors.Is(err, blob.ErrUploadNotFound):
		return errorf(http.StatusNotFound, CodeBlobUploadUnknown, "blob upload unknown to registry")
	}
	return errorf(http.StatusInternalServerError, CodeUnknown, "internal error")
}

type wireErrors struct {
	Errors []wireError `json:"errors"`
}

type wireError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError renders the distribution error envelope.
func writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(wireErrors{Errors: []wireError{{Code: e.Code, Message: e.Message, Detail: e.Detail}}})
}

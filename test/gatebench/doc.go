// Package gatebench measures what the data plane's gate costs: the same manifest GET served
// by one registry with no gate (open) and through the token service's gate with a bearer
// token or Basic credentials, in one run, in process, without TLS or sockets — so the
// ratio it prints overstates the gate's share of a real request.
package gatebench

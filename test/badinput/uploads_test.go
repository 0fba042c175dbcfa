package badinput

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
)

// uploadRow is a bad request against an upload session that holds the blob's first
// prefix bytes. Whatever the answer, the session must afterwards hold exactly those bytes
// (Range and data file), no blob may exist for any bytes the request carried, and the
// session must still complete with the right bytes.
type uploadRow struct {
	name   string
	spec   string
	prefix int
	bad    func(s *session) request
	want   []outcome // nil for hangUp: nobody reads the answer
}

// uploadSize is the blob each row uploads.
const uploadSize = 100

// Building blocks for the rows' requests. range_ is sent as Content-Range unless empty.

func (s *session) patchReq(f framing, body []byte, declared int, range_ string) request {
	return s.chunk(http.MethodPatch, s.loc.String(), f, body, declared, range_)
}

func (s *session) putReq(f framing, body []byte, declared int, range_ string) request {
	return s.chunk(http.MethodPut, s.putURL(digest.FromBytes(s.data).String()), f, body, declared, range_)
}

// postReq is a single POST of body under the digest of the whole blob.
func (s *session) postReq(f framing, body []byte, declared int) request {
	target := uploadsPath(s.repo) + "?digest=" + digest.FromBytes(s.data).String()
	return s.chunk(http.MethodPost, target, f, body, declared, "")
}

func (s *session) chunk(method, target string, f framing, body []byte, declared int, range_ string) request {
	h := []string{"Content-Type", mtOctetStream}
	if range_ != "" {
		h = append(h, "Content-Range", range_)
	}
	return request{method: method, target: target, header: h, body: body, framing: f, declared: int64(declared)}
}

func span(start, end int) string { return fmt.Sprintf("%d-%d", start, end-1) }

func uploadRows(_ *testing.T, e *env) []row {
	const (
		truncated = "Push: a body that ends before its Content-Length is not the chunk or blob the request declares (single POST: \"The Content-Length header MUST match the blob's actual content length\"; RFC 9113 8.1.1: on HTTP/2 such a request is malformed). It is refused with 400 BLOB_UPLOAD_INVALID (end-4b/end-6 failures are 400; a 5xx would report a server fault for a client's error), and none of its bytes are kept: the session stays where it was and still completes"
		mismatch  = "Push/Pushing a blob in chunks: Content-Range is \"the byte range of the chunk\" and Content-Length \"the content-length, in bytes, of the current chunk\"; when they disagree the request is refused with 400 SIZE_INVALID (code-10: provided length did not match content length) and nothing of it is kept"
		malformed = "Push/Pushing a blob in chunks: <range> \"MUST match ^[0-9]+-[0-9]+$\"; a Content-Range of another form is refused with 416 (detail.md, apdx-1: \"A 416 will be returned under the following conditions: Invalid Content-Range header format; Out of order chunk\") and BLOB_UPLOAD_INVALID, and the session stays where it was"
	)
	bad400 := []outcome{answer(http.StatusBadRequest, "BLOB_UPLOAD_INVALID")}
	size400 := []outcome{answer(http.StatusBadRequest, "SIZE_INVALID")}
	range416 := []outcome{answer(http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID")}

	table := []uploadRow{
		// Bodies that end before their Content-Length.
		{name: "PATCH cut short, with Content-Range", spec: truncated, want: bad400,
			bad: func(s *session) request { return s.patchReq(cutShort, s.data[:40], 100, span(0, 100)) }},
		{name: "PATCH cut short, Content-Length only", spec: truncated, want: bad400,
			bad: func(s *session) request { return s.patchReq(cutShort, s.data[:40], 100, "") }},
		{name: "PATCH cut short mid-session", spec: truncated, prefix: 50, want: bad400,
			bad: func(s *session) request { return s.patchReq(cutShort, s.data[50:70], 50, span(50, 100)) }},
		{name: "PATCH cut short after zero bytes", spec: truncated, prefix: 50, want: bad400,
			bad: func(s *session) request { return s.patchReq(cutShort, nil, 50, span(50, 100)) }},
		{name: "PATCH hung up mid-body", spec: truncated, prefix: 50,
			bad: func(s *session) request { return s.patchReq(hangUp, s.data[50:70], 50, span(50, 100)) }},
		{name: "PATCH over HTTP2 ends its stream early", spec: truncated, prefix: 50, want: bad400,
			bad: func(s *session) request { return s.patchReq(h2EndStream, s.data[50:70], 50, span(50, 100)) }},
		{name: "closing PUT cut short, with Content-Range", spec: truncated, prefix: 50, want: bad400,
			bad: func(s *session) request { return s.putReq(cutShort, s.data[50:60], 50, span(50, 100)) }},
		{name: "closing PUT cut short, Content-Length only", spec: truncated, prefix: 50, want: bad400,
			bad: func(s *session) request { return s.putReq(cutShort, s.data[50:60], 50, "") }},
		{name: "closing PUT hung up mid-body", spec: truncated, prefix: 50,
			bad: func(s *session) request { return s.putReq(hangUp, s.data[50:60], 50, span(50, 100)) }},
		{name: "closing PUT over HTTP2 ends its stream early", spec: truncated, prefix: 50, want: bad400,
			bad: func(s *session) request { return s.putReq(h2EndStream, s.data[50:60], 50, span(50, 100)) }},
		{name: "single POST cut short", spec: truncated, want: bad400,
			bad: func(s *session) request { return s.postReq(cutShort, s.data[:40], 100) }},
		{name: "single POST hung up mid-body", spec: truncated,
			bad: func(s *session) request { return s.postReq(hangUp, s.data[:40], 100) }},
		{name: "single POST over HTTP2 ends its stream early", spec: truncated, want: bad400,
			bad: func(s *session) request { return s.postReq(h2EndStream, s.data[:40], 100) }},

		// Content-Range against the body's length.
		{name: "Content-Range longer than Content-Length", spec: mismatch, want: size400,
			bad: func(s *session) request { return s.patchReq(withLength, s.data[:50], 0, span(0, 100)) }},
		{name: "Content-Range shorter than Content-Length", spec: mismatch, want: size400,
			bad: func(s *session) request { return s.patchReq(withLength, s.data[:100], 0, span(0, 50)) }},
		{name: "closing PUT whose Content-Range disagrees with Content-Length", spec: mismatch, prefix: 50, want: size400,
			bad: func(s *session) request { return s.putReq(withLength, s.data[50:100], 0, span(50, 90)) }},
		{name: "chunked PATCH body longer than its Content-Range", spec: mismatch, want: size400,
			bad: func(s *session) request { return s.patchReq(chunked, s.data[:100], 0, span(0, 50)) }},
		{name: "chunked PATCH body shorter than its Content-Range", spec: mismatch,
			want: []outcome{answer(http.StatusBadRequest, "SIZE_INVALID", "BLOB_UPLOAD_INVALID")},
			bad:  func(s *session) request { return s.patchReq(chunked, s.data[:50], 0, span(0, 100)) }},
		{name: "chunked closing PUT body longer than its Content-Range", spec: mismatch, prefix: 50, want: size400,
			bad: func(s *session) request { return s.putReq(chunked, s.data[50:100], 0, span(50, 70)) }},
		{name: "Content-Range end at MaxInt64 with Content-Length", spec: mismatch, want: size400,
			bad: func(s *session) request { return s.patchReq(withLength, s.data[:50], 0, "0-9223372036854775807") }},
		{name: "Content-Range end at MaxInt64 with a chunked body", spec: mismatch,
			want: []outcome{answer(http.StatusBadRequest, "SIZE_INVALID", "BLOB_UPLOAD_INVALID"), answer(http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID")},
			bad:  func(s *session) request { return s.patchReq(chunked, s.data[:50], 0, "0-9223372036854775807") }},
	}

	// Malformed Content-Range values, each with a 4-byte body that "0-3" would describe.
	for _, cr := range []string{"abc", "5-2", "-1-3", "bytes=0-3", "0-", "-3", "0--3", "0-3-5", "0x0-0x3", "0-99999999999999999999"} {
		table = append(table, uploadRow{name: fmt.Sprintf("Content-Range %q", cr), spec: malformed, want: range416,
			bad: func(s *session) request { return s.patchReq(withLength, s.data[:4], 0, cr) }})
	}

	var rows []row
	for _, u := range table {
		rows = append(rows, row{name: u.name, spec: u.spec, run: func(t *testing.T) {
			repo := e.repo(t)
			s := e.openSession(t, repo, randomBytes(t, uploadSize), u.prefix)
			bad := u.bad(s)
			r := e.send(t, bad)
			if u.want != nil {
				wantAnswer(t, r, u.want...)
			}
			// Nothing stored.
			s.wantUnchanged(t)
			for _, b := range [][]byte{s.data, bad.body, append(s.data[:s.held:s.held], bad.body...)} {
				e.wantNoBlob(t, repo, digest.FromBytes(b))
			}
			// And the session still works.
			s.complete(t)
		}})
	}
	return rows
}

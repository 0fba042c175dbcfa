package blobtest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cerulean-registry/cerulean/storage/blob"
)

// The replica tests: Store values over the same backing storage that share no memory
// (replicas of a registry) work on one session, one after the other or at once.

// needReplicas skips a replica test unless the driver's Run has WithReplicas.
func (s *suite) needReplicas(t *testing.T) {
	t.Helper()
	if !s.replicas {
		t.Skip("driver's sessions are not shared by replicas (no WithReplicas)")
	}
}

// Two replicas that resume a session at the same size and append to it at once: exactly
// one Append lands, the other reports a retryable conflict and keeps nothing (and, with
// WithRaceCheck, leaves nothing behind). The sizes reach from under to over the block
// sizes that the drivers' tests use (1 and 5 MiB), so the racing Appends write one block
// or several.
func (s *suite) testConcurrentAppendOneWins(t *testing.T) {
	s.needReplicas(t)
	tests := []struct {
		name  string
		sizes [2]int // of the two racing Appends, plus the round
	}{
		{"1MiB and 1000B", [2]int{1 << 20, 1000}},
		{"1MiB and 6MiB", [2]int{1 << 20, 6 << 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := s.newStore(t)
			b := s.reopen(t, a)
			ctx := t.Context()
			u, err := a.CreateUpload(ctx, "library/race")
			if err != nil {
				t.Fatal(err)
			}
			id := u.Info().ID
			var want []byte
			for round := range 4 {
				ua, ub := resume(t, a, id), resume(t, b, id)
				chunks := [][]byte{
					RandomBytes(tc.sizes[0]+round, uint64(2*round)),
					RandomBytes(tc.sizes[1]+round, uint64(2*round+1)),
				}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, up := range []blob.Upload{ua, ub} {
					wg.Go(func() { _, errs[i] = up.Append(ctx, bytes.NewReader(chunks[i])) })
				}
				wg.Wait()
				winners := 0
				for i, err := range errs {
					switch {
					case err == nil:
						winners++
						want = append(want, chunks[i]...)
					case !errors.Is(err, blob.ErrUploadConflict):
						t.Fatalf("round %d: losing Append = %v, want ErrUploadConflict", round, err)
					}
				}
				if winners != 1 {
					t.Fatalf("round %d: %d Appends succeeded (%v), want exactly 1", round, winners, errs)
				}
				cur := resume(t, b, id)
				if got := cur.Info().Size; got != int64(len(want)) {
					t.Fatalf("round %d: session size %d, want %d", round, got, len(want))
				}
				if s.raceCheck != nil {
					if err := s.raceCheck(t, a, cur); err != nil {
						t.Errorf("round %d: %v", round, err)
					}
				}
			}
			commitAndRead(t, b, a, id, want)
		})
	}
}

// A stale Upload value (its session moved on elsewhere) can neither append nor commit,
// not even the bytes it holds itself: the newer state may have merged them away (S3's
// small last chunk), and a copy from the session is conditioned on the state the stale
// value loaded (Azure's If-Match). Nor may its digest mismatch end the session: the
// newer state may match. Once the newer value committed, the session is gone for the
// stale one too. A stale value with no bytes has nothing to copy, and still conflicts.
func (s *suite) testStaleValueConflicts(t *testing.T) {
	s.needReplicas(t)
	for _, held := range []string{"small ", ""} {
		t.Run(fmt.Sprintf("holding %q", held), func(t *testing.T) {
			a := s.newStore(t)
			b := s.reopen(t, a)
			ctx := t.Context()
			stale, err := a.CreateUpload(ctx, "library/stale")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stale.Append(ctx, strings.NewReader(held)); err != nil {
				t.Fatal(err)
			}
			fresh := resume(t, b, stale.Info().ID)
			if _, err := fresh.Append(ctx, strings.NewReader("moved on")); err != nil { // may merge held
				t.Fatal(err)
			}
			if _, err := stale.Append(ctx, strings.NewReader("late")); !errors.Is(err, blob.ErrUploadConflict) {
				t.Errorf("stale Append = %v, want ErrUploadConflict", err)
			}
			for _, want := range []digest.Digest{
				digest.FromString(held),              // the stale value's own bytes
				digest.SHA512.FromString(held),       // the same, read from the session
				digest.FromString(held + "moved on"), // the session's: a mismatch for the stale value
			} {
				if _, err := stale.Commit(ctx, want); !errors.Is(err, blob.ErrUploadConflict) {
					t.Errorf("stale Commit(%s) = %v, want ErrUploadConflict", want, err)
				}
			}
			if _, err := fresh.Commit(ctx, digest.FromString(held+"moved on")); err != nil {
				t.Errorf("Commit of the fresh value: %v", err)
			}
			if _, err := stale.Append(ctx, strings.NewReader("later")); !errors.Is(err, blob.ErrUploadNotFound) {
				t.Errorf("Append after another replica committed = %v, want ErrUploadNotFound", err)
			}
		})
	}
}

// A session started on one replica goes on and finishes on others. Each replica appends
// a quarter of the blob: less than a block of the drivers' tests, or more.
func (s *suite) testSessionAcrossReplicas(t *testing.T) {
	s.needReplicas(t)
	tests := []struct {
		name string
		size int
	}{
		{"3MiB", 3<<20 + 5},
		{"11MiB", 11<<20 + 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := s.newStore(t)
			b, c := s.reopen(t, a), s.reopen(t, a)
			ctx := t.Context()
			data := RandomBytes(tc.size, 7)
			u, err := a.CreateUpload(ctx, "library/moving")
			if err != nil {
				t.Fatal(err)
			}
			id := u.Info().ID
			for i, st := range []blob.Store{a, b, c, b} {
				part := data[i*len(data)/4 : (i+1)*len(data)/4]
				if _, err := resume(t, st, id).Append(ctx, bytes.NewReader(part)); err != nil {
					t.Fatalf("Append %d: %v", i, err)
				}
			}
			commitAndRead(t, c, a, id, data)
		})
	}
}

// An Append whose write landed but whose response was lost is sent again by the SDK; the
// retry's If-Match then fails against the write itself. The driver must tell that from
// another writer's change (the state's nonce does) and report success, not a conflict.
func (s *suite) testRetriedAppendIsNotAConflict(t *testing.T) {
	if s.lostResponse == nil {
		t.Skip("driver cannot lose a response (no WithLostResponse)")
	}
	st := s.newStore(t)
	flaky, dropped := s.lostResponse(t, st)
	ctx := t.Context()
	u, err := flaky.CreateUpload(ctx, "library/retry")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, strings.NewReader("hello")); err != nil {
		t.Fatalf("Append whose first response was lost: %v", err)
	}
	if !dropped() {
		t.Fatal("no response was dropped")
	}
	if _, err := u.Append(ctx, strings.NewReader(" world")); err != nil {
		t.Fatalf("next Append: %v", err)
	}
	d := digest.FromString("hello world")
	if _, err := u.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := ReadBlob(t, st, d); string(got) != "hello world" {
		t.Errorf("read %q", got)
	}
}

// commitAndRead commits session id through st as want's digest and checks that from, a
// replica, reads want back.
func commitAndRead(t *testing.T, st, from blob.Store, id string, want []byte) {
	t.Helper()
	d := digest.FromBytes(want)
	if _, err := resume(t, st, id).Commit(t.Context(), d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := ReadBlob(t, from, d); !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes, want the %d committed", len(got), len(want))
	}
}

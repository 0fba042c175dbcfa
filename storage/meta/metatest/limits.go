package metatest

import (
	"sync"
	"testing"
	"time"

	"github.com/cerulean-registry/cerulean/storage/meta"
)

// RunLimits runs the behaviour suite of meta.Limits. open must return a new, empty store
// on every call and arrange for it to be closed when the test ends. Beyond the interface
// comments it pins: times come back equal to the nanosecond; a key repeated in one call
// is spent once; keys are independent; concurrent spends are never lost.
func RunLimits(t *testing.T, open func(t *testing.T) meta.Limits) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, meta.Limits)
	}{
		{"SpendAndDecay", testLimitsSpendAndDecay},
		{"EmptyBudgetSpendsNothing", testLimitsEmpty},
		{"Keys", testLimitsKeys},
		{"Concurrent", testLimitsConcurrent},
		{"Prune", testLimitsPrune},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

var lT0 = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)

func spend(t *testing.T, s meta.Limits, now time.Time, every time.Duration, burst int, keys ...string) []time.Time {
	t.Helper()
	got, err := s.SpendLimits(t.Context(), keys, now, every, burst)
	if err != nil {
		t.Fatalf("SpendLimits(%q, %s): %v", keys, now, err)
	}
	if len(got) != len(keys) {
		t.Fatalf("SpendLimits(%q) returned %d times", keys, len(got))
	}
	return got
}

func fullAt(t *testing.T, s meta.Limits, keys ...string) []time.Time {
	t.Helper()
	got, err := s.LimitsFullAt(t.Context(), keys)
	if err != nil {
		t.Fatalf("LimitsFullAt(%q): %v", keys, err)
	}
	if len(got) != len(keys) {
		t.Fatalf("LimitsFullAt(%q) returned %d times", keys, len(got))
	}
	return got
}

func sameTime(t *testing.T, op string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", op, got, want)
	}
}

func testLimitsSpendAndDecay(t *testing.T, s meta.Limits) {
	const every = time.Second
	if got := fullAt(t, s, "user:a")[0]; !got.IsZero() {
		t.Errorf("a key never spent is full at %s, want the zero time", got)
	}
	// From full, each spend moves fullAt on by every.
	sameTime(t, "first spend", spend(t, s, lT0, every, 3, "user:a")[0], lT0.Add(every))
	sameTime(t, "second spend", spend(t, s, lT0, every, 3, "user:a")[0], lT0.Add(2*every))
	sameTime(t, "LimitsFullAt", fullAt(t, s, "user:a")[0], lT0.Add(2*every))
	// 1.5 s later 1.5 units came back: a spend starts from fullAt, not from now.
	sameTime(t, "spend after a partial refill", spend(t, s, lT0.Add(1500*time.Millisecond), every, 3, "user:a")[0],
		lT0.Add(3*every))
	// Long after it is full again, a spend starts from now.
	later := lT0.Add(time.Hour)
	sameTime(t, "spend once full", spend(t, s, later, every, 3, "user:a")[0], later.Add(every))
}

func testLimitsEmpty(t *testing.T, s meta.Limits) {
	const every = time.Minute
	for i := range 3 {
		sameTime(t, "spend", spend(t, s, lT0, every, 3, "client:192.0.2.1")[0], lT0.Add(time.Duration(i+1)*every))
	}
	// Empty: nothing more is spent, however often asked.
	for range 3 {
		sameTime(t, "spend of an empty budget", spend(t, s, lT0, every, 3, "client:192.0.2.1")[0], lT0.Add(3*every))
	}
	// One unit back after every: exactly one spend fits again.
	now := lT0.Add(every)
	sameTime(t, "spend after one refill", spend(t, s, now, every, 3, "client:192.0.2.1")[0], lT0.Add(4*every))
	sameTime(t, "spend when empty again", spend(t, s, now, every, 3, "client:192.0.2.1")[0], lT0.Add(4*every))
	// burst 1: every spend empties the budget.
	sameTime(t, "burst 1", spend(t, s, lT0, every, 1, "user:solo")[0], lT0.Add(every))
	sameTime(t, "burst 1, empty", spend(t, s, lT0, every, 1, "user:solo")[0], lT0.Add(every))
}

func testLimitsKeys(t *testing.T, s meta.Limits) {
	const every = time.Second
	got := spend(t, s, lT0, every, 5, "user:b", "client:c", "user:b")
	// A key named twice in one call is spent once, and reported in both places.
	sameTime(t, "user:b", got[0], lT0.Add(every))
	sameTime(t, "client:c", got[1], lT0.Add(every))
	sameTime(t, "user:b again", got[2], lT0.Add(every))
	got = spend(t, s, lT0, every, 5, "client:c", "user:d")
	sameTime(t, "client:c", got[0], lT0.Add(2*every))
	sameTime(t, "user:d", got[1], lT0.Add(every))
	all := fullAt(t, s, "user:d", "nobody", "user:b", "client:c")
	sameTime(t, "user:d", all[0], lT0.Add(every))
	if !all[1].IsZero() {
		t.Errorf("nobody = %s, want the zero time", all[1])
	}
	sameTime(t, "user:b", all[2], lT0.Add(every))
	sameTime(t, "client:c", all[3], lT0.Add(2*every))
	// Keys are compared exactly.
	if got := fullAt(t, s, "USER:B")[0]; !got.IsZero() {
		t.Errorf("USER:B = %s, want the zero time", got)
	}
}

func testLimitsConcurrent(t *testing.T, s meta.Limits) {
	const n, every = 16, time.Second
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			keys := []string{"user:shared", "client:shared"}
			if i%2 == 1 {
				keys = []string{"client:shared", "user:shared"}
			}
			_, err := s.SpendLimits(t.Context(), keys, lT0, every, 100)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent SpendLimits: %v", err)
		}
	}
	got := fullAt(t, s, "user:shared", "client:shared")
	sameTime(t, "user:shared after concurrent spends", got[0], lT0.Add(n*every))
	sameTime(t, "client:shared after concurrent spends", got[1], lT0.Add(n*every))
}

func testLimitsPrune(t *testing.T, s meta.Limits) {
	const every = time.Second
	spend(t, s, lT0, every, 5, "user:old")
	spend(t, s, lT0.Add(time.Hour), every, 5, "user:new")
	n, err := s.PruneLimits(t.Context(), lT0.Add(every)) // user:old is full at exactly lT0+1s: kept
	if err != nil || n != 0 {
		t.Fatalf("PruneLimits(at the full time) = %d, %v; want 0", n, err)
	}
	n, err = s.PruneLimits(t.Context(), lT0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("PruneLimits = %d, %v; want 1", n, err)
	}
	got := fullAt(t, s, "user:old", "user:new")
	if !got[0].IsZero() {
		t.Errorf("pruned key full at %s", got[0])
	}
	sameTime(t, "kept key", got[1], lT0.Add(time.Hour+every))
}

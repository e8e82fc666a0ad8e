package bcrypt

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xbcrypt "golang.org/x/crypto/bcrypt"
)

// bcryptBaseline returns what one uncached check costs: a plain
// x/crypto/bcrypt comparison at DefaultCost, measured once per call.
func bcryptBaseline(b *testing.B, hash string, password []byte) time.Duration {
	b.Helper()
	start := time.Now()
	if err := xbcrypt.CompareHashAndPassword([]byte(hash), password); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkVerifyCached measures the cached-success path, and reports how
// many times cheaper it is than the bcrypt comparison it replaces.
func BenchmarkVerifyCached(b *testing.B) {
	const password = "correct horse battery staple"
	hash := mustHash(b, password, DefaultCost)
	users := mustUsers(b, map[string]string{"prometheus": hash})
	v := NewVerifier(VerifierOptions{})
	if err := v.Verify(users, "prometheus", password); err != nil {
		b.Fatal(err)
	}
	baseline := bcryptBaseline(b, hash, []byte(password))

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := v.Verify(users, "prometheus", password); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perOp := b.Elapsed().Nanoseconds() / int64(b.N)
	b.ReportMetric(float64(baseline.Nanoseconds())/float64(max(1, perOp)), "x_faster_than_bcrypt10")
}

// BenchmarkVerifyCachedUnderFlood measures the cached-success path, in
// parallel, while other goroutines flood the Verifier with distinct wrong
// passwords (real bcrypt at MinCost, and ErrBusy refusals once the queue is
// full). Every measured check must succeed.
func BenchmarkVerifyCachedUnderFlood(b *testing.B) {
	const password = "correct horse battery staple"
	users := mustUsers(b, map[string]string{"prometheus": mustHash(b, password, MinCost)})
	v := NewVerifier(VerifierOptions{})
	if err := v.Verify(users, "prometheus", password); err != nil {
		b.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var wrong, busy atomic.Int64
	// More flooders than slots and queue together, so some are refused.
	for f := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch v.Verify(users, "prometheus", fmt.Sprintf("wrong %d/%d", f, i)) {
				case ErrBusy:
					busy.Add(1)
				default:
					wrong.Add(1)
				}
			}
		})
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := v.Verify(users, "prometheus", password); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	close(stop)
	wg.Wait()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(wrong.Load())/secs, "wrong_checks/s")
	b.ReportMetric(float64(busy.Load())/secs, "busy/s")
}

// BenchmarkVerifyCachedFailure measures a repeated wrong password, answered
// from the failure cache.
func BenchmarkVerifyCachedFailure(b *testing.B) {
	users := mustUsers(b, map[string]string{"prometheus": mustHash(b, "right", MinCost)})
	v := NewVerifier(VerifierOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(users, "prometheus", "wrong"); err != ErrMismatch {
			b.Fatal(err)
		}
	}
}

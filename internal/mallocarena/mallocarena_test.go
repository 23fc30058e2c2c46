package mallocarena

import (
	"runtime"
	"sync"
	"testing"
)

// TestArenaCap mallocs from many locked OS threads at once: with the cap they all share Max arenas.
func TestArenaCap(t *testing.T) {
	if !Applied() {
		t.Skip("arena cap not applied (no glibc, or MALLOC_ARENA_MAX set)")
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // a distinct OS thread per goroutine
			<-start
			for j := 0; j < 200; j++ {
				churn()
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := arenas(); n > Max {
		t.Errorf("%d malloc arenas after mallocs from 16 threads, want ≤ %d", n, Max)
	}
}

// Package mallocarena caps glibc's malloc arenas for the process at start-up (import it for its
// side effect).
//
// FFmpeg allocates from whichever OS thread a worker goroutine's cgo call lands on; glibc gives
// each new thread its own malloc arena (up to 8 × cores) and arenas keep the memory they have freed,
// so without a cap peak RSS grows with the number of clips a run has seen (1,000 clips: 1.29×
// the peak at 100). With one arena it stays flat (1.03×; two arenas still gave 1.10× with a
// 1.24× outlier, and one costs no measurable CPU with 2 workers: bench/NOTES.md). MALLOC_ARENA_MAX in the
// environment, when set, wins. Other C libraries (musl) have no arenas: nothing is done there.
package mallocarena

/*
#cgo CFLAGS: -D_GNU_SOURCE -DAVB_ARENA_MAX=1
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#include <stdio.h>
#include <string.h>
// avb_arena_cap runs as a C constructor, before the Go runtime starts its threads: an arena a
// thread already holds cannot be taken back, and a cgo program's runtime threads take theirs
// before any Go init runs. MALLOC_ARENA_MAX in the environment, if set, wins.
static int avb_arena_applied;
__attribute__((constructor)) static void avb_arena_cap(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		avb_arena_applied = mallopt(M_ARENA_MAX, AVB_ARENA_MAX) == 1;
}
// avb_arenas counts the arenas malloc_info reports (-1 when unknown).
static int avb_arenas(void) {
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f) return -1;
	malloc_info(0, f);
	fclose(f);
	int c = 0;
	for (char *p = buf; p && (p = strstr(p, "<heap nr=")); p++) c++;
	free(buf);
	return c;
}
#else
static int avb_arena_applied;
static int avb_arenas(void) { return -1; }
#endif
static int avb_applied(void) { return avb_arena_applied; }
static void avb_churn(void) { for (int i = 0; i < 64; i++) free(malloc(1000 + i)); }
*/
import "C"

// Max is the arena cap (AVB_ARENA_MAX above).
const Max = 1

// Applied reports whether Max was set at start-up (false without glibc or when the environment
// sets MALLOC_ARENA_MAX itself).
func Applied() bool { return C.avb_applied() != 0 }

// arenas returns the number of malloc arenas in use (-1 when unknown), for the tests.
func arenas() int { return int(C.avb_arenas()) }

// churn mallocs and frees from the calling OS thread, for the tests.
func churn() { C.avb_churn() }

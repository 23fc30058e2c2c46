//go:build !noopenblas

package op

/*
#cgo pkg-config: --with-path=${SRCDIR}/pkgconfig openblas
#ifdef AVB_OPENBLAS_MISSING
#error "OpenBLAS not found by pkg-config: install it (Debian/Ubuntu: apt-get install libopenblas-dev; Fedora: dnf install openblas-devel; macOS: brew install openblas and set PKG_CONFIG_PATH), or build with -tags noopenblas for the pure-Go BLAS (about 4x slower training)"
#endif
void openblas_set_num_threads(int);
*/
import "C"

import (
	"os"

	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// init routes gorgonia's matrix products to OpenBLAS, single-threaded unless
// OPENBLAS_NUM_THREADS says otherwise: the products of these models are small,
// and OpenBLAS's worker threads spin-wait between them. Measured on 2 cores
// (attr-reg, 4 epochs of the demo's set): 2.6 CPU-s with one thread, 7.6 CPU-s
// (4.1 of them system time) with two, and far longer wall time on a busy machine.
// conv.go also relies on it: it splits a batch's samples over the cores and
// calls BLAS from each, so OpenBLAS threads would only compete for the cores.
func init() {
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" && os.Getenv("OMP_NUM_THREADS") == "" {
		C.openblas_set_num_threads(1)
	}
	G.Use(netlib.Implementation{})
}

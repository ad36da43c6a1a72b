//go:build !(goexperiment.simd && amd64)

package jpeg

// idctIslow is idctIslowScalar where SIMD is not available.
func idctIslow(coef, q *block, dst []byte, stride int) { idctIslowScalar(coef, q, dst, stride) }

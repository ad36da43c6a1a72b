//go:build !(goexperiment.simd && amd64)

package imageproc

// weightedRows is weightedRowsScalar where SIMD is not available.
func weightedRows(out []uint8, rows [][]uint8, w []int32) { weightedRowsScalar(out, rows, w, 0) }

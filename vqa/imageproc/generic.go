//go:build !(goexperiment.simd && amd64)

package imageproc

// weightedRows is weightedRowsScalar where SIMD is not available.
func weightedRows(out []uint8, rows [][]uint8, w []int32) { weightedRowsScalar(out, rows, w, 0) }

// colSums is colSumsScalar where SIMD is not available.
func colSums(near, far []uint8, sums []int32) { colSumsScalar(near, far, sums, 0) }

// row420 is row420Scalar where SIMD is not available.
func row420(o, yrow []uint8, sb, sr []int32) { row420Scalar(o, yrow, sb, sr, 0, len(yrow)) }

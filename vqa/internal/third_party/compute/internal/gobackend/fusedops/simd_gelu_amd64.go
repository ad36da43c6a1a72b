// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package fusedops

import (
	"simd/archsimd"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/ops"
	"github.com/gomlx/compute/support/envutil"
)

// The exact GELU of float32 operands with AVX-512 (ops.SIMDGeluFloat32: erf 16 lanes at a time, in float32),
// registered at gobackend.PriorityArch above execFusedGelu, which it calls back for other dtypes and the tanh
// approximation. Registered, as the element-wise executors of package ops, when the CPU has AVX-512 and
// GOMLX_SIMD_AVX512 does not disable it.
func init() {
	if !envutil.MustReadBool(envutil.SIMD_AVX512_Env, true) || !archsimd.X86.AVX512() {
		return
	}
	gobackend.SetNodeExecutor(compute.OpTypeFusedGelu, gobackend.PriorityArch, simdExecFusedGelu)
}

// simdExecFusedGelu executes FusedGelu with ops.SIMDGeluFloat32 for exact float32 GELUs, execFusedGelu otherwise.
func simdExecFusedGelu(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	input := inputs[0]
	if input.RawShape.DType != dtypes.Float32 || !node.Data.(*nodeFusedGelu).exact {
		return execFusedGelu(backend, node, inputs, inputsOwned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	ops.SIMDParallelFloat32(backend, input.Flat.([]float32), output.Flat.([]float32), ops.SIMDGeluFloat32)
	return output, nil
}

package gobackend

import (
	"slices"

	"github.com/gomlx/compute/support/xslices"
	"github.com/pkg/errors"
)

// This file implements different scheduling strategies: this defines the order in which the nodes
// of a function are executed.

// ScheduleStrategy defines the scheduling strategy to execute functions.
type ScheduleStrategy int

//go:generate go tool enumer -type ScheduleStrategy -trimprefix=Schedule -output=gen_schedulestrategy_enumer.go schedule.go

const (
	DependencyOrderSchedule ScheduleStrategy = iota
	CreationOrderSchedule
)

// InitSchedule initializes the execution schedule.
func (fe *FunctionExecutable) InitSchedule() {
	switch fe.Backend.SchedulingStrategy {
	case DependencyOrderSchedule:
		fe.DependencyOrderSchedule()
	case CreationOrderSchedule:
		fe.CreationOrderSchedule()
	default:
		panic(errors.Errorf("unknown schedule strategy %s", fe.Backend.SchedulingStrategy))
	}
}

// CreationOrderSchedule schedule nodes in creation order: a trivial sequentially increasing order.
func (fe *FunctionExecutable) CreationOrderSchedule() {
	fe.Schedule = xslices.Iota(0, fe.NumNodesToProcess)
}

// DependencyOrderSchedule schedules nodes in topological order, based on dependencies.
//
// It schedules those with the longest path to an output first. If there are
// multiple nodes with the same longest path to an output, it will schedule
// them in creation order.
func (fe *FunctionExecutable) DependencyOrderSchedule() {
	pathLen := make([]int, fe.NumNodesToProcess)
	isOutput := make([]bool, fe.NumNodesToProcess)
	for _, outNode := range fe.OutputNodes {
		if outNode.Index < fe.NumNodesToProcess {
			isOutput[outNode.Index] = true
		}
	}

	for i := fe.NumNodesToProcess - 1; i >= 0; i-- {
		if fe.NumUses[i] == 0 {
			pathLen[i] = -1
			continue
		}
		maxDepPath := -1
		for _, depIdx := range fe.Dependents[i] {
			if pathLen[depIdx] > maxDepPath {
				maxDepPath = pathLen[depIdx]
			}
		}
		if maxDepPath != -1 {
			pathLen[i] = 1 + maxDepPath
		} else if isOutput[i] {
			pathLen[i] = 0
		} else {
			pathLen[i] = -1
		}
	}

	fe.Schedule = make([]int, 0, fe.NumNodesToProcess)
	for i := range fe.NumNodesToProcess {
		if pathLen[i] != -1 {
			fe.Schedule = append(fe.Schedule, i)
		}
	}

	slices.SortFunc(fe.Schedule, func(a, b int) int {
		if pathLen[a] != pathLen[b] {
			return pathLen[b] - pathLen[a] // Descending by path length
		}
		return a - b // Ascending by creation order (index)
	})
	fe.pullOutputCones(isOutput)
}

// smallValueSize is the most elements of a value computed as soon as its inputs are (pullOutputCones): scalars
// and the like (a learning rate, a step count), cheap and small.
const smallValueSize = 1024

// isSmallValue reports whether a node's single output has a static shape of at most smallValueSize elements or at
// most an eighth of one of its inputs (a reduction: computed early, it lets the input go sooner).
func isSmallValue(node *Node) bool {
	shape := node.Shape
	if node.IsMultiOutputs() || shape.IsTuple() || shape.IsDynamic() {
		return false
	}
	if shape.Size() <= smallValueSize {
		return true
	}
	for _, input := range node.Inputs {
		in := input.Shape
		if !input.IsMultiOutputs() && !in.IsTuple() && !in.IsDynamic() && in.Size() >= 8*shape.Size() {
			return true
		}
	}
	return false
}

// pullOutputCones moves forward in fe.Schedule the cones of outputs: the nodes used only by one output (or by
// nodes used only by it) run together right after the last of their other inputs, instead of where the
// schedule put them. In a training step these are the optimizer's updates: each variable's update then runs
// right after its gradient is computed, during the backward pass, and frees the gradient, instead of after the
// whole backward pass with every gradient held (a ViLT-B/32 training step held 570 MB of gradients that way).
// Small values (isSmallValue) are computed as soon as their inputs are: used by several cones (a learning rate, a
// bias correction) they would hold the cones back, and a reduction (a bias's gradient) that the schedule puts near
// its output, at the end, would hold its large input until then.
func (fe *FunctionExecutable) pullOutputCones(isOutput []bool) {
	n := len(fe.Schedule)
	position := make([]int, fe.NumNodesToProcess)
	for p, nodeIdx := range fe.Schedule {
		position[nodeIdx] = p
	}

	// group[nodeIdx] is the cone a node belongs to (the index of the output at its root), or -1.
	const shared = -1
	group := make([]int, fe.NumNodesToProcess)
	for i := range group {
		group[i] = shared
	}
	// An output roots its own cone unless a shared node uses it; any other node joins the cone of its users if they
	// are all in the same one.
	coneOf := func(nodeIdx int) int {
		deps := fe.Dependents[nodeIdx]
		g := shared
		if isOutput[nodeIdx] {
			g = nodeIdx
		} else if len(deps) > 0 {
			g = group[deps[0]]
		}
		for _, dep := range deps {
			if group[dep] == shared || (!isOutput[nodeIdx] && group[dep] != g) {
				return shared
			}
		}
		return g
	}
	for p := n - 1; p >= 0; p-- {
		group[fe.Schedule[p]] = coneOf(fe.Schedule[p])
	}

	// key[nodeIdx] is where a node runs: its position for shared nodes, right after its inputs for small shared
	// values, and for a cone's nodes the largest key of the cone's inputs from outside it.
	key := make([]int, fe.NumNodesToProcess)
	known := make([]bool, fe.NumNodesToProcess)
	anchor := make(map[int]int)
	members := make(map[int][]int)
	for _, nodeIdx := range fe.Schedule {
		if group[nodeIdx] != shared {
			members[group[nodeIdx]] = append(members[group[nodeIdx]], nodeIdx)
		}
	}
	var keyOf, anchorOf func(nodeIdx int) int
	inputsOf := func(node *Node) []*Node {
		inputs := node.Inputs
		for _, captures := range node.CapturedInputs {
			inputs = append(slices.Clip(inputs), captures...)
		}
		return inputs
	}
	keyOf = func(nodeIdx int) int {
		if known[nodeIdx] {
			return key[nodeIdx]
		}
		k := position[nodeIdx]
		switch {
		case group[nodeIdx] != shared:
			k = anchorOf(group[nodeIdx])
		case isSmallValue(fe.Function.Nodes[nodeIdx]):
			k = 0
			for _, input := range inputsOf(fe.Function.Nodes[nodeIdx]) {
				k = max(k, keyOf(input.Index))
			}
		}
		key[nodeIdx], known[nodeIdx] = k, true
		return k
	}
	anchorOf = func(g int) int {
		if a, ok := anchor[g]; ok {
			return a
		}
		a := 0
		for _, nodeIdx := range members[g] {
			for _, input := range inputsOf(fe.Function.Nodes[nodeIdx]) {
				if group[input.Index] != g {
					a = max(a, keyOf(input.Index))
				}
			}
		}
		anchor[g] = a
		return a
	}
	for _, nodeIdx := range fe.Schedule {
		keyOf(nodeIdx)
	}
	slices.SortStableFunc(fe.Schedule, func(a, b int) int {
		if key[a] != key[b] {
			return key[a] - key[b]
		}
		return position[a] - position[b]
	})
}

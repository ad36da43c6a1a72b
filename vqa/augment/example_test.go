package augment_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/vilt-go/workbook/vqa/augment"
	"github.com/vilt-go/workbook/vqa/imageproc"
)

// ExampleRandAugment_Apply augments a decoded picture with ViLT's setting,
// from a seeded random source (one per worker, e.g. seeded by epoch and
// example index, keeps a training run reproducible).
func ExampleRandAugment_Apply() {
	ra, err := augment.New(augment.DefaultN, augment.DefaultM)
	if err != nil {
		fmt.Println(err)
		return
	}
	img := imageproc.NewRGB(64, 48) // e.g. from imageproc.Decode
	out := ra.Apply(rand.New(rand.NewPCG(1, 42)), img)
	fmt.Println(ra, out.Width, out.Height)
	// Output: RandAugment(N=2, M=9) 64 48
}

package processor_test

import (
	"fmt"
	"os"

	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/processor"
)

// Encode the walk-through's COCO image and question, then collate a batch.
func Example() {
	p, err := processor.Default()
	if err != nil {
		panic(err)
	}
	raw, err := os.ReadFile("../../data/coco/000000039769.png") // tests run in the package folder
	if err != nil {
		panic(err)
	}
	img, err := imageproc.DecodeBytes(raw)
	if err != nil {
		panic(err)
	}
	enc, err := p.EncodeRGB(img, "How many cats are there?")
	if err != nil {
		panic(err)
	}
	fmt.Println(enc.Height, enc.Width, enc.InputIDs[:8])
	fmt.Println(p.Decode(enc.InputIDs[:10], false))
	batch, err := processor.Collate([]processor.Encoding{enc, enc})
	if err != nil {
		panic(err)
	}
	fmt.Println(batch.Size, batch.SeqLen, batch.Height, batch.Width)
	// Output:
	// 384 512 [101 2129 2116 8870 2024 2045 1029 102]
	// [CLS] how many cats are there? [SEP] [PAD] [PAD]
	// 2 40 384 512
}

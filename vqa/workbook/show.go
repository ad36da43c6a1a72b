// Package workbook holds the small helpers the notebooks use to show their
// results as static outputs: images as PNG, line plots and bar charts as SVG,
// attention maps as heat maps drawn over the image (on a shared colour scale
// when compared), patch grids, and a progress bar that updates in place.
//
// It also holds the steps of the train → save → load → infer arc that would
// make a notebook cell too long: loading a Hub model or its shipped tiny
// stand-in with one "offline: using …" line ([LoadHubOr]), fine-tuning with a
// progress bar and a loss curve ([FineTune]), saving into a folder the
// notebook owns ([SaveModel], [SavedModelDir]), choosing the inference model
// ([ChooseModel]) and checking answers against the annotators'
// ([CheckQuestions]).
//
// Everything shown stays in the saved notebook (no JavaScript, no CDN), so
// the notebooks read the same on a code host as in Jupyter. Outside a GoNB
// notebook (tests, commands) the Show functions do nothing; the functions
// that build images and SVG text work anywhere.
package workbook

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// ShowImage shows img in the notebook as a PNG. Like every Show function,
// it returns once the notebook has received the output, so that a cell
// ending right after it does not lose it.
func ShowImage(img image.Image) error {
	data, err := PNG(img)
	if err != nil {
		return err
	}
	gonbui.DisplayPng(data)
	gonbui.Sync()
	return nil
}

// PNG encodes img as PNG bytes.
func PNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding %v image as PNG: %w", img.Bounds(), err)
	}
	return buf.Bytes(), nil
}

// ShowSVG shows an SVG document in the notebook as an image/svg+xml output,
// with alt as its plain-text alternative.
func ShowSVG(svg, alt string) {
	if !gonbui.IsNotebook {
		return
	}
	gonbui.SendData(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
		protocol.MIMEImageSVG:  svg,
		protocol.MIMETextPlain: alt,
	}})
	gonbui.Sync()
}

// ShowPlot draws p as SVG and shows it in the notebook.
func ShowPlot(p Plot) error {
	svg, err := p.SVG()
	if err != nil {
		return err
	}
	ShowSVG(svg, p.Title)
	return nil
}

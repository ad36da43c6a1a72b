package imageproc

import "encoding/binary"

// JPEGOrientation returns the EXIF Orientation tag (1-8) of a JPEG file, or
// 1 when there is none or the EXIF block cannot be read.
func JPEGOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return 1
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xD9 || marker == 0xDA { // end of image, start of scan
			return 1
		}
		if marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) { // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 1
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if o := tiffOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of IFD0 in a TIFF block; 0 if absent.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[ifd:]))
	for e := range n {
		off := ifd + 2 + 12*e
		if off+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[off:]) != 0x0112 {
			continue
		}
		if typ := bo.Uint16(t[off+2:]); typ != 3 { // SHORT
			return 0
		}
		if v := int(bo.Uint16(t[off+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

// Orient applies an EXIF orientation (1-8) like PIL's
// ImageOps.exif_transpose; other values return img unchanged.
func Orient(img RGB, orientation int) RGB {
	if orientation < 2 || orientation > 8 {
		return img
	}
	w, h := img.Width, img.Height
	dw, dh := w, h
	if orientation >= 5 {
		dw, dh = h, w
	}
	dst := NewRGB(dw, dh)
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch orientation {
			case 2: // FLIP_LEFT_RIGHT
				sx, sy = w-1-x, y
			case 3: // ROTATE_180
				sx, sy = w-1-x, h-1-y
			case 4: // FLIP_TOP_BOTTOM
				sx, sy = x, h-1-y
			case 5: // TRANSPOSE
				sx, sy = y, x
			case 6: // ROTATE_270 (90 degrees clockwise)
				sx, sy = y, h-1-x
			case 7: // TRANSVERSE
				sx, sy = w-1-y, h-1-x
			case 8: // ROTATE_90 (90 degrees counter-clockwise)
				sx, sy = w-1-y, x
			}
			copy(dst.Pix[3*(y*dw+x):3*(y*dw+x)+3], img.Pix[3*(sy*w+sx):3*(sy*w+sx)+3])
		}
	}
	return dst
}

package upload

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/chatty/chatty/internal/upload/jpegdc"
)

// codec decodes one image format. The decoder is picked by the sniffed type,
// not by image.Decode's registry, so a file is only ever decoded as what its
// bytes say it is.
type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = map[string]codec{
	"image/jpeg": {jpeg.DecodeConfig, jpeg.Decode},
	"image/png":  {png.DecodeConfig, png.Decode},
	"image/gif":  {gif.DecodeConfig, gif.Decode}, // the first frame only
	"image/webp": {webp.DecodeConfig, webp.Decode},
}

// imageInfo is what probing a stored image found.
type imageInfo struct {
	ok            bool // decoded; the fields below are set
	tooManyPixels bool // not decoded: over Limits.MaxImagePixels
	overBudget    bool // not decoded: its decode would take more memory than one image may
	width, height int  // as displayed (EXIF orientation applied)
	thumb         []byte
	thumbExt      string // ".jpg" or ".png"
}

// probeImage decodes the stored file f of type ct, uploaded by owner, if
// its header passes the pixel limit and the estimated memory of its decode
// fits what one image may take, and renders a thumbnail. The decode waits
// for its turn in the memory budget. A file that does not decode is not an
// error: it is kept as a plain file.
//
// A JPEG large enough that its 1/8 scale still covers the thumbnail is
// decoded at 1/8 from its DC coefficients (package jpegdc), and the budget
// counts that decode; one jpegdc does not read (or finds broken) is
// decoded in full after all, under the full decode's estimate, as before.
func (s *Service) probeImage(ctx context.Context, f io.ReadSeeker, ct string, owner int) (imageInfo, error) {
	c, ok := codecs[ct]
	if !ok {
		return imageInfo{}, nil
	}
	br := bufio.NewReader(f)
	rewind := func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind image: %w", err)
		}
		br.Reset(f)
		return nil
	}
	cfg, err := safeConfig(c, br)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return imageInfo{}, nil
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(s.limits.MaxImagePixels) {
		return imageInfo{tooManyPixels: true}, nil
	}
	size := s.limits.ThumbnailSize
	orient := 1
	if ct == "image/jpeg" {
		if err := rewind(); err != nil {
			return imageInfo{}, err
		}
		orient = jpegOrientation(br)
		if err := rewind(); err != nil {
			return imageInfo{}, err
		}
		if cost, ok := reducedJPEGCost(br, cfg, size); ok && cost <= s.maxImageCost() {
			if err := rewind(); err != nil {
				return imageInfo{}, err
			}
			info, done, err := s.renderReducedInBudget(ctx, owner, cost, br, cfg, orient)
			if err != nil || done {
				return info, err
			}
		}
	}
	if err := rewind(); err != nil {
		return imageInfo{}, err
	}
	cost := decodeCost(ct, cfg, br, size)
	if cost > s.maxImageCost() {
		return imageInfo{overBudget: true}, nil
	}
	if err := rewind(); err != nil {
		return imageInfo{}, err
	}

	// The decoded bitmap and the scaler's buffers live until the thumbnail
	// is encoded: the decode waits until they fit the memory budget.
	release, err := s.budget.acquire(ctx, owner, cost)
	if err != nil {
		return imageInfo{}, err
	}
	// Released after render returns (nothing of the bitmap is reachable
	// then), and on a panic too, or the budget would shrink for good.
	defer release()
	return render(c, br, cfg, orient, size)
}

// render decodes an image and makes its thumbnail, upright.
func render(c codec, br io.Reader, cfg image.Config, orient, size int) (imageInfo, error) {
	img, err := safeDecode(c, br)
	if err != nil {
		return imageInfo{}, nil
	}
	canvas := image.Rect(0, 0, cfg.Width, cfg.Height)
	if b := img.Bounds(); b != canvas {
		// A GIF's first frame may cover only part of its canvas.
		if !b.In(canvas) {
			return imageInfo{}, nil
		}
		full := image.NewRGBA(canvas)
		draw.Draw(full, b, img, b.Min, draw.Src)
		img = full
	}
	return thumbnail(img, cfg, orient, size)
}

// renderReducedInBudget runs renderReduced once cost fits the memory
// budget, and gives the room back when it returns (or panics).
func (s *Service) renderReducedInBudget(ctx context.Context, owner int, cost int64, br io.Reader, cfg image.Config, orient int) (imageInfo, bool, error) {
	release, err := s.budget.acquire(ctx, owner, cost)
	if err != nil {
		return imageInfo{}, false, err
	}
	defer release()
	info, done := renderReduced(br, cfg, orient, s.limits.ThumbnailSize, s.limits.MaxImagePixels)
	return info, done, nil
}

// renderReduced decodes a JPEG at 1/8 scale and makes its thumbnail from
// that. done is false when jpegdc could not decode it (a JPEG it does not
// read, or one it finds broken): the caller decodes it in full instead.
func renderReduced(br io.Reader, cfg image.Config, orient, size, maxPixels int) (info imageInfo, done bool) {
	img, err := jpegdc.Decode(br, maxPixels)
	if err != nil {
		return imageInfo{}, false
	}
	if w, h := jpegdc.Scaled(cfg.Width, cfg.Height); img.Bounds() != image.Rect(0, 0, w, h) {
		return imageInfo{}, false // a header image/jpeg reads otherwise
	}
	// The last column and row of blocks may hold only a few of the image's
	// pixels: scale from the image's own extent at 1/8, rounded (never
	// smaller than the thumbnail).
	tw, th := thumbSize(cfg.Width, cfg.Height, size)
	extent := image.Rect(0, 0, max(tw, (cfg.Width+4)/8), max(th, (cfg.Height+4)/8)).Intersect(img.Bounds())
	if sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		img = sub.SubImage(extent)
	}
	info, err = thumbnail(img, cfg, orient, size)
	return info, err == nil
}

// thumbnail makes img's thumbnail, upright, for an image of cfg's size
// (img may be a reduced decode of it).
func thumbnail(img image.Image, cfg image.Config, orient, size int) (imageInfo, error) {
	tw, th := thumbSize(cfg.Width, cfg.Height, size)
	thumb := scale(img, tw, th)
	thumb = orientImage(thumb, orient)

	info := imageInfo{ok: true, width: cfg.Width, height: cfg.Height}
	if orient >= 5 {
		info.width, info.height = info.height, info.width
	}
	var buf bytes.Buffer
	var err error
	if isOpaque(img) {
		info.thumbExt = ".jpg"
		err = jpeg.Encode(&buf, thumb, &jpeg.Options{Quality: 85})
	} else {
		info.thumbExt = ".png"
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, thumb)
	}
	if err != nil {
		return imageInfo{}, fmt.Errorf("encode thumbnail: %w", err)
	}
	info.thumb = buf.Bytes()
	return info, nil
}

// safeConfig and safeDecode turn a decoder panic on hostile input into an error.
func safeConfig(c codec, r io.Reader) (cfg image.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode image config: panic: %v", p)
		}
	}()
	return c.config(r)
}

func safeDecode(c codec, r io.Reader) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode image: panic: %v", p)
		}
	}()
	return c.decode(r)
}

// thumbSize fits w×h into a size×size box keeping the aspect ratio, never
// enlarging.
func thumbSize(w, h, size int) (int, int) {
	if w <= size && h <= size {
		return w, h
	}
	if w >= h {
		return size, max(1, int((int64(h)*int64(size)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(size)+int64(h)/2)/int64(h))), size
}

// scale returns img scaled to w×h (see thumbSize). A source much larger
// than that is first box-averaged by an integer factor (shrinkFactor), so
// that the Catmull-Rom scaler, whose temporary buffer takes 32 bytes per
// thumbnail column and source row, runs on an image only about twice the
// thumbnail's size.
func scale(img image.Image, w, h int) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
		return dst
	}
	if k := shrinkFactor(b.Dx(), b.Dy(), w, h); k > 1 {
		img = shrink(img, k)
		b = img.Bounds()
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// shrinkFactor is the integer factor by which a w×h image is box-averaged
// before it is scaled to tw×th: the intermediate stays at least twice the
// thumbnail's size on both sides. 1 means no shrinking.
func shrinkFactor(w, h, tw, th int) int {
	return max(1, min(w/max(1, tw), h/max(1, th))/2)
}

// shrink returns img box-averaged by k: each pixel is the mean of a k×k
// block (the last row and column of blocks may be smaller). It holds one
// row of sums beside the result, reading img once, row by row.
func shrink(img image.Image, k int) *image.RGBA {
	b := img.Bounds()
	w, h := (b.Dx()+k-1)/k, (b.Dy()+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	src, ok := img.(image.RGBA64Image)
	if !ok {
		draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		return dst
	}
	sum := make([]uint64, 4*w)
	for oy := range h {
		clear(sum)
		y0 := b.Min.Y + oy*k
		y1 := min(y0+k, b.Max.Y)
		for y := y0; y < y1; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := src.RGBA64At(x, y)
				i := 4 * ((x - b.Min.X) / k)
				sum[i] += uint64(c.R)
				sum[i+1] += uint64(c.G)
				sum[i+2] += uint64(c.B)
				sum[i+3] += uint64(c.A)
			}
		}
		row := dst.Pix[oy*dst.Stride:]
		for ox := range w {
			n := uint64(min(k, b.Dx()-ox*k) * (y1 - y0))
			for c := range 4 {
				row[4*ox+c] = uint8(sum[4*ox+c] / n >> 8)
			}
		}
	}
	return dst
}

// isOpaque reports whether img has no transparent or translucent pixel.
func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

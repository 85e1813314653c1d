package server_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/server"
	"github.com/chatty/chatty/internal/upload"
)

// flatPNG16 is a w×h 16-bit RGB PNG of one colour, as an attacker would
// send it: 6300×6300 compresses to about 320 KB and decodes to 318 MB
// (image/png makes an RGBA64, 8 bytes a pixel). Written row by row, never
// holding the bitmap.
func flatPNG16(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(data))))
		b.WriteString(typ)
		b.Write(data)
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.Write(binary.BigEndian.AppendUint32(nil, c.Sum32()))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	chunk("IHDR", append(ihdr, 16, 2, 0, 0, 0)) // 16 bits, truecolor, not interlaced
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, 1+6*w)
	row[0] = 1 // Sub: the first pixel, then the same
	copy(row[1:], []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc})
	_, _ = zw.Write(row)
	clear(row)
	row[0] = 2 // Up: the same as the row above
	for range h - 1 {
		_, _ = zw.Write(row)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

// maxHeapGrowth16BitPNG is what uploading flatPNG16(6300, 6300) through
// sendFile may allocate in all, in the whole process: the README states it.
const maxHeapGrowth16BitPNG = 16 << 20

// The 6300×6300 16-bit PNG costs no more than its bytes: its decode would
// take more memory than one image may (half of CHATTY_IMAGE_MEMORY), so it
// is never decoded, and is kept as a FILE (not refused) that downloads
// intact. Measured as every byte allocated while the request ran (runtime
// TotalAlloc, which bounds heap growth from above); not parallel, so
// nothing else allocates meanwhile.
func TestHugeDecodeIsStoredAsFileWithinMemory(t *testing.T) {
	big := flatPNG16(t, 6300, 6300)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			a, b := e.signUp(t, "큰그림"), e.signUp(t, "friend")
			ca := e.client(a)
			r := ca.createRoom(t, nil, b.ID)
			req := ca.uploadRequest(sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "poster.png", big)

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp := send(t, req)
			runtime.ReadMemStats(&after)

			var out struct{ SendFile fileMessage }
			resp.Decode(t, &out)
			m := out.SendFile
			if m.Kind != "FILE" || m.Attachment == nil || m.Attachment.ContentType != "image/png" ||
				m.Attachment.ThumbnailURL != nil || m.Attachment.Width != nil || m.Attachment.Size != len(big) {
				t.Fatalf("the 16-bit 6300×6300 PNG was sent as %+v %+v", m, m.Attachment)
			}
			grew := after.TotalAlloc - before.TotalAlloc
			t.Logf("sendFile of a %d KB 16-bit 6300×6300 PNG allocated %.1f MiB", len(big)>>10, float64(grew)/(1<<20))
			if grew > maxHeapGrowth16BitPNG {
				t.Fatalf("sendFile of a %d KB PNG allocated %d MiB, over the %d MiB bound", len(big)>>10, grew>>20, maxHeapGrowth16BitPNG>>20)
			}
			dl, got := e.fetch(t, m.Attachment.URL)
			if dl.StatusCode != 200 || !bytes.Equal(got, big) {
				t.Fatalf("download: %d, %d bytes", dl.StatusCode, len(got))
			}
			// As an avatar, which must be an image with a thumbnail, it is refused.
			resp = ca.upload(t, `mutation($f: Upload!) { uploadAvatar(file: $f) { id } }`, map[string]any{"f": nil}, "f", "poster.png", big)
			if resp.Code() != "PAYLOAD_TOO_LARGE" {
				t.Fatalf("the 16-bit 6300×6300 PNG as an avatar: %s", resp.Raw)
			}
		})
	}
}

// largeJPEG is a w×h 4:2:0 JPEG from image/jpeg at quality 50: a sky
// gradient with a dark disc, mostly smooth so 7000×5000 stays small to
// send (about 1 MB); its full decode is 52 MB of YCbCr.
func largeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		row := m.Y[y*m.YStride:]
		for x := range w {
			row[x] = uint8(60 + 150*y/h)
			if dx, dy := x-w/3, y-h/2; dx*dx+dy*dy < h*h/16 {
				row[x] = 30
			}
		}
	}
	for y := range (h + 1) / 2 {
		for x := range (w + 1) / 2 {
			m.Cb[y*m.CStride+x] = uint8(160 - 40*x/w)
			m.Cr[y*m.CStride+x] = uint8(100 + 40*y/h)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 50}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// maxHeapGrowthLargeJPEG is what uploading largeJPEG(7000, 5000) through
// sendFile may allocate in all, in the whole process: the README states
// it. Its full decode alone would be 52 MB.
const maxHeapGrowthLargeJPEG = 16 << 20

// A 7000×5000 (35 MP) JPEG is an IMAGE with its full size and a 320×229
// thumbnail, yet its whole sendFile request allocates a fraction of its
// full decode: it is decoded at 1/8 scale, from its DC coefficients, as
// the thumbnail needs no more. Measured as in the PNG test above.
func TestLargeJPEGIsDecodedAtReducedScale(t *testing.T) {
	big := largeJPEG(t, 7000, 5000)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			a, b := e.signUp(t, "파노라마"), e.signUp(t, "friend")
			ca := e.client(a)
			r := ca.createRoom(t, nil, b.ID)
			req := ca.uploadRequest(sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "sky.jpg", big)

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp := send(t, req)
			runtime.ReadMemStats(&after)

			var out struct{ SendFile fileMessage }
			resp.Decode(t, &out)
			m := out.SendFile
			if m.Kind != "IMAGE" || m.Attachment == nil || m.Attachment.ContentType != "image/jpeg" || m.Attachment.ThumbnailURL == nil ||
				m.Attachment.Width == nil || *m.Attachment.Width != 7000 || *m.Attachment.Height != 5000 || m.Attachment.Size != len(big) {
				t.Fatalf("the 7000×5000 JPEG was sent as %+v %+v", m, m.Attachment)
			}
			grew := after.TotalAlloc - before.TotalAlloc
			t.Logf("sendFile of a %d KB 7000×5000 JPEG allocated %.1f MiB", len(big)>>10, float64(grew)/(1<<20))
			if grew > maxHeapGrowthLargeJPEG {
				t.Fatalf("sendFile of a %d KB 7000×5000 JPEG allocated %d MiB, over the %d MiB bound", len(big)>>10, grew>>20, maxHeapGrowthLargeJPEG>>20)
			}
			dl, thumb := e.fetch(t, *m.Attachment.ThumbnailURL)
			if dl.StatusCode != 200 {
				t.Fatalf("thumbnail: %d", dl.StatusCode)
			}
			img, err := jpeg.Decode(bytes.NewReader(thumb))
			if err != nil || img.Bounds() != image.Rect(0, 0, 320, 229) {
				t.Fatalf("thumbnail: %v, %v", img, err)
			}
			// The dark disc is where it was: left of centre, halfway down.
			if y, _, _, _ := img.At(320/3, 229/2).RGBA(); y>>8 > 80 {
				t.Fatalf("thumbnail at the disc's centre is %d, want dark", y>>8)
			}
			if y, _, _, _ := img.At(300, 220).RGBA(); y>>8 < 120 {
				t.Fatalf("thumbnail at the bottom right is %d, want bright", y>>8)
			}
		})
	}
}

// gatedStore holds reads of big files past their first few KB (the decode,
// after the header was read) until released, as a slow decode would hold
// its memory: it lets a test keep one user's decodes running.
type gatedStore struct {
	upload.Storage
	release chan struct{}
	started chan struct{} // one value per held read
}

const gatedFrom = 64 << 10 // files from this size are held; reads from 8 KB on

func (g *gatedStore) Open(ctx context.Context, key string) (upload.File, error) {
	f, err := g.Storage.Open(ctx, key)
	if err != nil || f.Size() < gatedFrom {
		return f, err
	}
	return &gatedFile{File: f, g: g}, nil
}

type gatedFile struct {
	upload.File
	g    *gatedStore
	pos  int64
	held bool
}

func (f *gatedFile) Read(p []byte) (int, error) {
	if f.pos >= 8<<10 && !f.held {
		f.held = true
		f.g.started <- struct{}{}
		<-f.g.release
	}
	n, err := f.File.Read(p)
	f.pos += int64(n)
	return n, err
}

func (f *gatedFile) Seek(off int64, whence int) (int64, error) {
	n, err := f.File.Seek(off, whence)
	f.pos = n
	return n, err
}

// noisePNG is an image that does not compress: w×h random pixels.
func noisePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Uint32())
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// While one user's big images are decoding (held there), another user's
// small image is stored and thumbnailed: the first user's uploads take one
// decode turn at a time, and the budget has room for the other's. With two
// fixed decode slots, the other user's image waited behind the first's.
// Then the first user's images all finish as images too.
func TestOneUsersImagesDoNotStarveAnothers(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			disk, err := upload.NewDisk(filepath.Join(t.TempDir(), "uploads"))
			if err != nil {
				t.Fatal(err)
			}
			g := &gatedStore{Storage: disk, release: make(chan struct{}), started: make(chan struct{}, 8)}
			var once sync.Once
			open := func() { once.Do(func() { close(g.release) }) }
			t.Cleanup(open)
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithUploads(upload.NewService(g, upload.Limits{}))}})
			heavy, light, peer := e.signUp(t, "heavy"), e.signUp(t, "light"), e.signUp(t, "peer")
			rh := e.client(heavy).createRoom(t, nil, peer.ID)
			rl := e.client(light).createRoom(t, nil, peer.ID)

			big := noisePNG(t, 200, 200)
			const n = 3
			type result struct {
				m   fileMessage
				err string
			}
			results := make(chan result, n+1)
			post := func(c *client, room, name string, content []byte) {
				req := c.uploadRequest(sendFileOp, map[string]any{"r": room, "f": nil}, "f", name, content)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					results <- result{err: err.Error()}
					return
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				var out struct {
					Data   struct{ SendFile fileMessage }
					Errors []gqlError
				}
				if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 {
					results <- result{err: string(raw)}
					return
				}
				results <- result{m: out.Data.SendFile}
			}
			for i := range n {
				go post(e.client(heavy), rh.ID, "big"+string(rune('a'+i))+".png", big)
			}
			select {
			case <-g.started: // one of heavy's decodes is running, and held
			case <-time.After(time.Minute):
				t.Fatal("no decode of the big images started")
			}

			lightDone := make(chan result, 1)
			small := pngBytes(t, 8, 8)
			go func() {
				req := e.client(light).uploadRequest(sendFileOp, map[string]any{"r": rl.ID, "f": nil}, "f", "small.png", small)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					lightDone <- result{err: err.Error()}
					return
				}
				defer resp.Body.Close()
				var out struct {
					Data struct{ SendFile fileMessage }
				}
				raw, _ := io.ReadAll(resp.Body)
				if err := json.Unmarshal(raw, &out); err != nil {
					lightDone <- result{err: string(raw)}
					return
				}
				lightDone <- result{m: out.Data.SendFile}
			}()
			select {
			case r := <-lightDone:
				if r.err != "" || r.m.Kind != "IMAGE" || r.m.Attachment == nil || r.m.Attachment.ThumbnailURL == nil {
					t.Fatalf("the other user's small image: %+v %s", r.m, r.err)
				}
			case <-time.After(time.Minute): // a safety net: it never comes while heavy's decodes hold every turn
				open()
				t.Fatal("another user's small image waited for the big ones' decodes to end")
			}
			if len(g.started) > 0 {
				t.Errorf("%d more of one user's decodes ran at once", len(g.started))
			}

			open()
			for range n {
				r := <-results
				if r.err != "" || r.m.Kind != "IMAGE" || r.m.Attachment.ThumbnailURL == nil {
					t.Fatalf("a big image: %+v %s", r.m, r.err)
				}
			}
		})
	}
}

// quotaError is a PAYLOAD_TOO_LARGE answer's remainingBytes, -1 when absent.
func remainingBytes(r gqlResponse) float64 {
	if len(r.Errors) == 0 {
		return -1
	}
	n, ok := r.Errors[0].Extensions["remainingBytes"].(float64)
	if !ok {
		return -1
	}
	return n
}

// A user stores files up to the quota; past it, sendFile and uploadAvatar
// answer PAYLOAD_TOO_LARGE saying how much is left, and store nothing.
// Another user's quota is their own; a replaced avatar no longer counts.
func TestUploadQuota(t *testing.T) {
	const quota = 10_000
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithUploadQuota(quota)}})
			a, b := e.signUp(t, "알뜰"), e.signUp(t, "이웃")
			ca := e.client(a)
			r := ca.createRoom(t, nil, b.ID)
			send := func(c *client, n int, name string) gqlResponse {
				return c.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", name, bytes.Repeat([]byte("a"), n))
			}
			if resp := send(ca, 6000, "one.txt"); resp.Code() != "" {
				t.Fatalf("a file within the quota: %s", resp.Raw)
			}
			resp := send(ca, 6000, "two.txt")
			if resp.Code() != "PAYLOAD_TOO_LARGE" || remainingBytes(resp) != 4000 {
				t.Fatalf("a file past the quota: %s", resp.Raw)
			}
			mustContain(t, resp.Errors[0].Message, "4000 bytes", "left")
			if page := ca.messages(t, r.ID, nil); page.TotalCount != 1 {
				t.Fatalf("the refused file was posted: %d messages", page.TotalCount)
			}
			// What is left can be used, to the byte.
			if resp := send(ca, 4000, "three.txt"); resp.Code() != "" {
				t.Fatalf("a file of exactly what is left: %s", resp.Raw)
			}
			resp = send(ca, 1, "four.txt")
			if resp.Code() != "PAYLOAD_TOO_LARGE" || remainingBytes(resp) != 0 {
				t.Fatalf("a byte past a full quota: %s", resp.Raw)
			}
			// Avatars count too.
			const avatarOp = `mutation($f: Upload!) { uploadAvatar(file: $f) { id avatarURL } }`
			resp = ca.upload(t, avatarOp, map[string]any{"f": nil}, "f", "me.png", pngBytes(t, 16, 16))
			if resp.Code() != "PAYLOAD_TOO_LARGE" || remainingBytes(resp) != 0 {
				t.Fatalf("an avatar past a full quota: %s", resp.Raw)
			}

			// Another user's quota is untouched; replacing an avatar frees the old one's bytes.
			cb := e.client(b)
			avatar := noisePNG(t, 40, 40) // about 6.4 KB
			for i := range 3 {
				if resp := cb.upload(t, avatarOp, map[string]any{"f": nil}, "f", "me.png", avatar); resp.Code() != "" {
					t.Fatalf("avatar %d of %d bytes: %s", i+1, len(avatar), resp.Raw)
				}
			}
			resp = send(cb, quota-len(avatar)+1, "big.txt")
			if resp.Code() != "PAYLOAD_TOO_LARGE" || remainingBytes(resp) != float64(quota-len(avatar)) {
				t.Fatalf("past what the avatar leaves: %s", resp.Raw)
			}
		})
	}
}

// Uploads of one user racing each other, each to its own room, never
// keep more than the quota together: on MariaDB each transaction's sum
// would not see the others' uncommitted files without the user's lock.
func TestUploadQuotaHoldsUnderConcurrentUploads(t *testing.T) {
	const quota, size, uploads = 10_000, 4_000, 8
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithUploadQuota(quota)}})
			a, b := e.signUp(t, "한꺼번에"), e.signUp(t, "받는이")
			ca := e.client(a)
			rooms := make([]string, uploads)
			for i := range rooms {
				rooms[i] = ca.createRoom(t, ptr(fmt.Sprintf("방 %d", i)), b.ID).ID
			}
			codes := make([]string, uploads)
			var wg sync.WaitGroup
			for i, r := range rooms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = postCode(ca.uploadRequest(sendFileOp, map[string]any{"r": r, "f": nil}, "f", "same-time.txt", bytes.Repeat([]byte("q"), size)))
				}()
			}
			wg.Wait()
			kept := 0
			for i, code := range codes {
				switch code {
				case "":
					kept++
				case "PAYLOAD_TOO_LARGE":
				default:
					t.Errorf("upload %d: %q", i, code)
				}
			}
			if kept*size > quota || kept != quota/size {
				t.Fatalf("%d uploads of %d bytes kept under a quota of %d (codes %q)", kept, size, quota, codes)
			}
			stored := 0
			for _, r := range rooms {
				stored += ca.messages(t, r, nil).TotalCount
			}
			if stored != kept {
				t.Fatalf("%d files posted, %d uploads answered as kept", stored, kept)
			}
		})
	}
}

// Deleting an account removes its avatar: the row and the bytes (image
// and thumbnail). The files of its messages stay with the messages.
func TestDeletedAccountsAvatarIsRemoved(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "uploads")
			disk, err := upload.NewDisk(dir)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithUploads(upload.NewService(disk, upload.Limits{}))}})
			a, b := e.signUp(t, "떠나는"), e.signUp(t, "남는")
			ca := e.client(a)
			r := ca.createRoom(t, nil, b.ID)
			var sent struct{ SendFile fileMessage }
			ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "사진.png", pngBytes(t, 64, 48)).Decode(t, &sent)
			if n := len(filesUnder(t, dir)); n != 2 {
				t.Fatalf("%d files stored for an image, want it and its thumbnail", n)
			}
			const op = `mutation($f: Upload!) { uploadAvatar(file: $f) { id avatarURL } }`
			var out struct{ UploadAvatar struct{ AvatarURL string } }
			ca.upload(t, op, map[string]any{"f": nil}, "f", "face.png", pngBytes(t, 64, 64)).Decode(t, &out)
			if n := len(filesUnder(t, dir)); n != 4 {
				t.Fatalf("%d files stored with an avatar, want 4", n)
			}
			ctx := context.Background()
			if n := e.DB.Client.Attachment.Query().CountX(ctx); n != 2 {
				t.Fatalf("%d attachment rows, want 2", n)
			}

			ca.do(t, `mutation($p: String) { deleteAccount(password: $p) }`, map[string]any{"p": a.Password})

			if n := e.DB.Client.Attachment.Query().CountX(ctx); n != 1 {
				t.Fatalf("%d attachment rows after the account was deleted, want the message's only", n)
			}
			if n := len(filesUnder(t, dir)); n != 2 {
				t.Fatalf("%d files left after the account was deleted, want the message's image and thumbnail: %v", n, filesUnder(t, dir))
			}
			if resp, _ := e.fetch(t, out.UploadAvatar.AvatarURL); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("the deleted account's avatar: %d", resp.StatusCode)
			}
			// The message and its file stay for the other member.
			page := e.client(b).messages(t, r.ID, nil)
			if page.TotalCount != 1 {
				t.Fatalf("b sees %d messages", page.TotalCount)
			}
			if resp, got := e.fetch(t, sent.SendFile.Attachment.URL); resp.StatusCode != 200 || len(got) != sent.SendFile.Attachment.Size {
				t.Fatalf("the deleted account's sent file: %d, %d bytes", resp.StatusCode, len(got))
			}
		})
	}
}

// filesUnder lists the regular files under dir (temporary files included).
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// heldDecodes is upload storage that holds the decode of a big image
// until open is called (at the latest when the test ends).
func heldDecodes(t *testing.T) (g *gatedStore, open func()) {
	t.Helper()
	disk, err := upload.NewDisk(filepath.Join(t.TempDir(), "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	g = &gatedStore{Storage: disk, release: make(chan struct{}), started: make(chan struct{}, 1)}
	var once sync.Once
	open = func() { once.Do(func() { close(g.release) }) }
	t.Cleanup(open)
	return g, open
}

// slowUpload sends a big image to room through via while g holds its
// decode for hold, and returns the answer.
func slowUpload(t *testing.T, g *gatedStore, open func(), via *client, room string, hold time.Duration) gqlResponse {
	t.Helper()
	done := make(chan gqlResponse, 1)
	req := via.uploadRequest(sendFileOp, map[string]any{"r": room, "f": nil}, "f", "slow.png", noisePNG(t, 200, 200))
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- gqlResponse{Raw: "transport: " + err.Error()}
			return
		}
		defer resp.Body.Close()
		var out gqlResponse
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, &out)
		out.Raw = string(raw)
		done <- out
	}()
	select {
	case <-g.started: // the decode is running, and held
	case <-time.After(time.Minute):
		t.Fatal("the decode did not start")
	}
	time.Sleep(hold)
	open()
	return <-done
}

// An upload whose image decode outlasts the database deadline (waiting for
// its turn, or a slow decode) is still kept: the deadline bounds database
// work, and an operation carrying files gets several of them.
func TestSlowDecodeOutlivesTheDatabaseDeadline(t *testing.T) {
	const deadline = 300 * time.Millisecond
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			g, open := heldDecodes(t)
			e := newEnv(t, backend,
				envOption{chat: []chat.Option{chat.WithUploads(upload.NewService(g, upload.Limits{}))}},
				envOption{server: func(c *server.Config, _ *auth.Options) { c.DBTimeout = deadline }})
			a, b := e.signUp(t, "느린사진"), e.signUp(t, "친구")
			r := e.client(a).createRoom(t, nil, b.ID)
			resp := slowUpload(t, g, open, e.client(a), r.ID, 2*deadline)
			var out struct{ SendFile fileMessage }
			if resp.Code() != "" || json.Unmarshal(resp.Data, &out) != nil || out.SendFile.Kind != "IMAGE" {
				t.Fatalf("an upload whose decode took twice the database deadline: %s", resp.Raw)
			}
		})
	}
}

// Behind the real http.Server, an upload whose decode outlasts the server's
// write timeout still gets its answer: once the body is in, the answer has
// the operation's deadline and then some, not the bare write timeout.
func TestSlowUploadStillGetsItsAnswer(t *testing.T) {
	g, open := heldDecodes(t)
	base := newEnv(t, "sqlite",
		envOption{chat: []chat.Option{chat.WithUploads(upload.NewService(g, upload.Limits{}))}},
		envOption{server: func(c *server.Config, _ *auth.Options) {
			c.DBTimeout = 300 * time.Millisecond
			c.Timeouts = server.Timeouts{ReadHeader: time.Second, Read: 5 * time.Second, Write: 500 * time.Millisecond, Idle: time.Second}
		}})
	e := serveWith(t, base)
	a, b := base.signUp(t, "느긋한"), base.signUp(t, "상대")
	r := base.client(a).createRoom(t, nil, b.ID)
	resp := slowUpload(t, g, open, e.client(a), r.ID, time.Second) // twice the write timeout
	var out struct{ SendFile fileMessage }
	if resp.Code() != "" || json.Unmarshal(resp.Data, &out) != nil || out.SendFile.Kind != "IMAGE" {
		t.Fatalf("an upload answered after twice the write timeout: %s", resp.Raw)
	}
}

// One user sending text and files to one room through two instances at
// once (a phone and a laptop): both always go through. Sending text locks
// the room and then reads the user's row (the message's foreign key); an
// upload must lock them in the same order or the two deadlock.
func TestTextAndFilesFromTwoInstancesDoNotDeadlock(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			one, two := newEnvOn(t, db), newEnvOn(t, db)
			a, b := one.signUp(t, "두기기"), one.signUp(t, "받는")
			r := one.client(a).createRoom(t, nil, b.ID)
			const rounds = 40
			codes := make(chan string, 2*rounds)
			var wg sync.WaitGroup
			for i := range rounds {
				wg.Add(2)
				go func() {
					defer wg.Done()
					codes <- postCode(two.client(a).uploadRequest(sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", fmt.Sprintf("f%d.txt", i), []byte("file")))
				}()
				go func() {
					defer wg.Done()
					body, _ := json.Marshal(map[string]any{"query": sendOp, "variables": map[string]any{"r": r.ID, "b": fmt.Sprintf("text %d", i)}})
					req, _ := http.NewRequest(http.MethodPost, one.URL+"/graphql", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+a.AccessToken)
					codes <- postCode(req)
				}()
			}
			wg.Wait()
			close(codes)
			for code := range codes {
				if code != "" {
					t.Errorf("a send failed: %s", code)
				}
			}
			if n := one.client(a).messages(t, r.ID, nil).TotalCount; n != 2*rounds {
				t.Fatalf("%d messages, want %d", n, 2*rounds)
			}
		})
	}
}

// postCode sends req and returns the error code of its answer ("" when
// none), or what went wrong.
func postCode(req *http.Request) string {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "transport: " + err.Error()
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "decode: " + err.Error()
	}
	return out.Code()
}

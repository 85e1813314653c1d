package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// UploadResult is one file size of the upload scenario.
type UploadResult struct {
	SizeMiB       int      `json:"size_mib"`
	Files         int      `json:"files"`
	Seconds       float64  `json:"seconds"`
	MBPerSec      float64  `json:"mib_per_sec"`
	PeakRSSGrowth float64  `json:"peak_rss_growth_mib"` // the server's, over its RSS before the scenario's first upload
	Problems      []string `json:"problems,omitempty"`
}

type uploadOpts struct {
	sizesMiB []int
	files    int // per size
	pid      int
	progress bool
}

const sendFileMutation = `mutation($in: SendFileInput!) { sendFile(input: $in) { id seq attachment { size contentType } } }`

// runUpload sends files of each size one after another through the
// sendFile multipart mutation (random bytes: stored as FILE, no image
// decode), sampling the server's RSS every 5 ms for its peak.
func runUpload(ctx context.Context, a *api, o uploadOpts) ([]*UploadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	users, err := signUp(ctx, a, 2, "u")
	if err != nil {
		return nil, err
	}
	room, err := createRoom(ctx, a, users[0], users[1:], "uploads")
	if err != nil {
		return nil, err
	}
	var out []*UploadResult
	// Sizes go smallest first, all measured from the RSS before any
	// upload: the runtime keeps memory it once took.
	base, err := rssKiB(o.pid)
	if err != nil {
		return nil, err
	}
	for _, mib := range o.sizesMiB {
		r := &UploadResult{SizeMiB: mib, Files: o.files}
		data := make([]byte, mib<<20)
		_, _ = rand.Read(data)
		var peak atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				if v, err := rssKiB(o.pid); err == nil && int64(v) > peak.Load() {
					peak.Store(int64(v))
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		bar := newBar(o.progress, o.files, fmt.Sprintf("upload %d MiB", mib))
		t0 := time.Now()
		for i := range o.files {
			size, err := sendFile(ctx, a, users[0].Token, room, fmt.Sprintf("u-%s-%d-%d", runTag, mib, i), fmt.Sprintf("bench-%d.bin", i), data)
			switch {
			case err != nil:
				r.Problems = append(r.Problems, err.Error())
			case size != len(data):
				r.Problems = append(r.Problems, fmt.Sprintf("stored %d bytes of %d", size, len(data)))
			}
			bar.Add(1)
		}
		r.Seconds = time.Since(t0).Seconds()
		bar.Finish()
		close(stop)
		wg.Wait()
		r.MBPerSec = float64(mib*o.files) / r.Seconds
		r.PeakRSSGrowth = max(0, float64(peak.Load())-base) / 1024
		out = append(out, r)
	}
	return out, nil
}

// sendFile posts one GraphQL multipart request
// (https://github.com/jaydenseric/graphql-multipart-request-spec) and
// returns the stored attachment's size.
func sendFile(ctx context.Context, a *api, token, roomID, clientID, name string, data []byte) (int, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{"query": sendFileMutation,
		"variables": map[string]any{"in": map[string]any{"roomId": roomID, "file": nil, "clientId": clientID}}})
	_ = w.WriteField("operations", string(ops))
	_ = w.WriteField("map", `{"0":["variables.in.file"]}`)
	fw, err := w.CreateFormFile("0", name)
	if err != nil {
		return 0, err
	}
	_, _ = fw.Write(data)
	_ = w.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/graphql", &body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Apollo-Require-Preflight", "true")
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r struct {
		Data struct {
			SendFile struct {
				Attachment *struct {
					Size int `json:"size"`
				} `json:"attachment"`
			} `json:"sendFile"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, fmt.Errorf("sendFile: status %d: %.200s", resp.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return 0, fmt.Errorf("sendFile: %w", r.Errors[0])
	}
	if r.Data.SendFile.Attachment == nil {
		return 0, fmt.Errorf("sendFile: no attachment in %.200s", raw)
	}
	return r.Data.SendFile.Attachment.Size, nil
}

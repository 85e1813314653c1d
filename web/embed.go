// Package web holds chatty's web app, built by `make web` (Vite) into dist/
// and embedded in the binary: internal/server serves it at /app/.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dist is the built app: index.html at its root, hashed files under assets/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is compiled in
	}
	return sub
}

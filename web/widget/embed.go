// Package widget holds the built notification widget (dist/widget.js, from
// the TypeScript in src/, built by `make web-widget`), which chatty serves
// at /widget.js. The build is committed, so a Go build needs no Node.
package widget

import _ "embed"

// Script is dist/widget.js: one minified classic script defining
// window.ChattyWidget.
//
//go:embed dist/widget.js
var Script []byte

package libprocess

import (
	"fmt"
	"io"
	"net/http"
)

// readBody reads r's body of at most limit bytes into one buffer: of the
// announced Content-Length at once (no growing and copying as io.ReadAll
// does, which costs several copies of a large message), else grown as it
// comes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > limit {
		return io.ReadAll(io.LimitReader(r.Body, limit))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.Body, body); err != nil {
		return nil, fmt.Errorf("reading a %d-byte body: %w", n, err)
	}
	return body, nil
}

package libprocess

import (
	"fmt"
	"io"
	"net/http"
)

// readBody reads r's body of at most limit bytes into one buffer: of the
// announced Content-Length at once (no growing and copying as io.ReadAll
// does, which costs several copies of a large message), else grown as it
// comes. With pooled, a body of known length is read into a pooled buffer
// (Body).
func readBody(r *http.Request, limit int64, pooled bool) (*Body, error) {
	n := r.ContentLength
	if n < 0 || n > limit {
		b, err := io.ReadAll(io.LimitReader(r.Body, limit))
		if err != nil {
			return nil, err
		}
		body := &Body{buf: b}
		body.refs.Store(1)
		return body, nil
	}
	var body *Body
	if pooled {
		body = newBody(int(n))
	} else {
		body = &Body{buf: make([]byte, n)}
		body.refs.Store(1)
	}
	if _, err := io.ReadFull(r.Body, body.buf); err != nil {
		body.unref()
		return nil, fmt.Errorf("reading a %d-byte body: %w", n, err)
	}
	return body, nil
}

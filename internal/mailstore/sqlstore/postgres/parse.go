package postgres

import (
	"io"

	"github.com/roost-mail/roost/internal/message"
)

// cacheData is what Append computes once from the message bytes.
type cacheData struct {
	envelope, bodyStructure, body string
	parts                         []byte
	headerSize                    int64
}

// parser parses a message fed through its writer, in its own goroutine, so
// that blob.PutTee can store and parse in one pass.
type parser struct {
	pw   *io.PipeWriter
	done chan parseResult
}

type parseResult struct {
	c   cacheData
	err error
}

func startParser() *parser {
	pr, pw := io.Pipe()
	p := &parser{pw: pw, done: make(chan parseResult, 1)}
	go func() {
		m, err := message.Parse(pr)
		// Drain whatever the parser left so that the writer never blocks.
		io.Copy(io.Discard, pr)
		pr.Close()
		if err != nil {
			p.done <- parseResult{err: err}
			return
		}
		p.done <- parseResult{c: cacheData{
			envelope:      m.Envelope(),
			bodyStructure: m.BodyStructure(true),
			body:          m.BodyStructure(false),
			parts:         message.MarshalParts(m.Root),
			headerSize:    m.HeaderSize(),
		}}
	}()
	return p
}

// finish ends the input (with err, if the store failed) and waits for the
// result.
func (p *parser) finish(err error) (cacheData, error) {
	p.pw.CloseWithError(err)
	r := <-p.done
	return r.c, r.err
}

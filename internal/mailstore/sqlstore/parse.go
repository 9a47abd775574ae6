package sqlstore

import (
	"io"

	"github.com/roost-mail/roost/internal/message"
)

// CacheData is what a store computes once from the message bytes when it
// appends a message, and keeps beside it so that FETCH ENVELOPE,
// BODYSTRUCTURE and section offsets need not parse the message again.
type CacheData struct {
	Envelope, BodyStructure, Body string
	Parts                         []byte // message.MarshalParts of the MIME tree
	HeaderSize                    int64
	// SearchFields is the stored form of the message's
	// mailstore.SearchFields (MarshalSearchFields), nil when its header
	// is bigger than SearchHeaderMax.
	SearchFields []byte
	// HeaderFields is the stored form of the message's kept header lines
	// (MarshalKeptLines), nil when its header is bigger than
	// SearchHeaderMax.
	HeaderFields []byte
}

// Parser parses a message fed through its writer, in its own goroutine, so
// that blob.PutTee can store and parse in one pass.
type Parser struct {
	pw   *io.PipeWriter
	done chan parseResult
}

type parseResult struct {
	c   CacheData
	err error
}

// StartParser starts a parser; the caller writes the message to W and
// must call Finish exactly once.
func StartParser() *Parser {
	pr, pw := io.Pipe()
	p := &Parser{pw: pw, done: make(chan parseResult, 1)}
	go func() {
		head := &headCapture{r: pr}
		m, err := message.Parse(head)
		// Drain whatever the parser left so that the writer never blocks.
		io.Copy(io.Discard, pr)
		pr.Close()
		if err != nil {
			p.done <- parseResult{err: err}
			return
		}
		p.done <- parseResult{c: CacheData{
			Envelope:      m.Envelope(),
			BodyStructure: m.BodyStructure(true),
			Body:          m.BodyStructure(false),
			Parts:         message.MarshalParts(m.Root),
			HeaderSize:    m.HeaderSize(),
			SearchFields:  searchFieldsFor(head.head, m.HeaderSize()),
			HeaderFields:  keptLinesFor(head.head, m.HeaderSize()),
		}}
	}()
	return p
}

// W is where the message bytes go (as the second writer of blob.PutTee).
func (p *Parser) W() io.Writer { return p.pw }

// Finish ends the input (with err, if storing failed, so that the parser
// stops) and waits for the result.
func (p *Parser) Finish(err error) (CacheData, error) {
	p.pw.CloseWithError(err)
	r := <-p.done
	return r.c, r.err
}

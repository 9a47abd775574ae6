package message

import (
	"encoding/binary"
	"errors"
)

// The serialized part tree is a version byte followed by the parts in
// pre-order. Each part is: flags (uvarint), Start, BodyStart-Start,
// End-BodyStart, Lines (uvarints), the strings Type, Subtype, ID,
// Description, Encoding, Disposition, Location, MD5, the Content-Type
// parameters, the Content-Disposition parameters, the languages, then the
// number of children and the children, then the embedded message if the
// flags say so. Strings are a uvarint length and the bytes. Header fields
// are not serialized: read them from the stored message at the offsets.

const marshalVersion = 1

const (
	flagMultipart = 1 << iota
	flagMessage
	flagHasContentType
	flagParamExtended
	flagEnvelope
)

// maxUnmarshalParts bounds the work on corrupt input.
const maxUnmarshalParts = MaxParts + MaxDepth + 1

// MarshalParts serializes the part tree rooted at p (offsets, MIME fields
// and structure, not the header fields) in a compact binary form.
func MarshalParts(p *Part) []byte {
	b := []byte{marshalVersion}
	return marshalPart(b, p)
}

func putU(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func putS(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func putParams(b []byte, ps []Param) []byte {
	b = putU(b, uint64(len(ps)))
	for _, p := range ps {
		var f uint64
		if p.Extended {
			f = flagParamExtended
		}
		b = putU(b, f)
		b = putS(b, p.Name)
		b = putS(b, p.Value)
		b = putS(b, p.Raw)
	}
	return b
}

func marshalPart(b []byte, p *Part) []byte {
	var f uint64
	if p.multipart {
		f |= flagMultipart
	}
	if p.Message != nil {
		f |= flagMessage
	}
	if p.hasContentType {
		f |= flagHasContentType
	}
	if p.envelope != "" {
		f |= flagEnvelope
	}
	b = putU(b, f)
	if p.envelope != "" {
		b = putS(b, p.envelope)
	}
	b = putU(b, uint64(p.Start))
	b = putU(b, uint64(p.BodyStart-p.Start))
	b = putU(b, uint64(p.End-p.BodyStart))
	b = putU(b, uint64(p.Lines))
	for _, s := range [...]string{p.Type, p.Subtype, p.ID, p.Description, p.Encoding, p.Disposition, p.Location, p.MD5} {
		b = putS(b, s)
	}
	b = putParams(b, p.Params)
	b = putParams(b, p.DispositionParams)
	b = putU(b, uint64(len(p.Language)))
	for _, l := range p.Language {
		b = putS(b, l)
	}
	b = putU(b, uint64(len(p.Children)))
	for _, c := range p.Children {
		b = marshalPart(b, c)
	}
	if p.Message != nil {
		b = marshalPart(b, p.Message)
	}
	return b
}

var errCorrupt = errors.New("message: corrupt serialized part tree")

type decoder struct {
	b     []byte
	err   error
	parts int
}

func (d *decoder) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// off reads an offset or size: it must fit an int64.
func (d *decoder) off() int64 {
	v := d.u()
	if v > 1<<62 {
		d.err = errCorrupt
		return 0
	}
	return int64(v)
}

// count reads a list length; each element takes at least one byte.
func (d *decoder) count() int {
	v := d.u()
	if v > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(v)
}

func (d *decoder) s() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) params() []Param {
	n := d.count()
	var ps []Param
	for i := 0; i < n && d.err == nil; i++ {
		f := d.u()
		ps = append(ps, Param{Extended: f&flagParamExtended != 0, Name: d.s(), Value: d.s(), Raw: d.s()})
	}
	return ps
}

func (d *decoder) part(depth int) *Part {
	d.parts++
	if d.parts > maxUnmarshalParts || depth > 2*MaxDepth+2 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil
	}
	p := &Part{}
	f := d.u()
	p.multipart = f&flagMultipart != 0
	p.hasContentType = f&flagHasContentType != 0
	if f&flagEnvelope != 0 {
		p.envelope = d.s()
	}
	p.Start = d.off()
	p.BodyStart = p.Start + d.off()
	p.End = p.BodyStart + d.off()
	if p.End < 0 || p.BodyStart < 0 {
		d.err = errCorrupt
	}
	p.Lines = d.off()
	for _, s := range [...]*string{&p.Type, &p.Subtype, &p.ID, &p.Description, &p.Encoding, &p.Disposition, &p.Location, &p.MD5} {
		*s = d.s()
	}
	p.Params = d.params()
	p.DispositionParams = d.params()
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.Language = append(p.Language, d.s())
	}
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		p.Children = append(p.Children, d.part(depth+1))
	}
	if f&flagMessage != 0 {
		p.Message = d.part(depth + 1)
	}
	return p
}

// UnmarshalParts decodes what MarshalParts produced.
func UnmarshalParts(b []byte) (*Part, error) {
	if len(b) == 0 || b[0] != marshalVersion {
		return nil, errCorrupt
	}
	d := &decoder{b: b[1:]}
	p := d.part(0)
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errCorrupt
	}
	return p, nil
}

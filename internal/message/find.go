package message

// Find returns the part at an IMAP section number (RFC 9051 6.4.5), such as
// []int{1, 2} for "1.2", starting from p, which must be a message root (the
// top-level Root, or the Message of a message/rfc822 part). An empty section
// is the message itself.
//
// In a multipart, number n is its n-th child. A message whose body is not
// multipart has one part, number 1, which is the body itself (p). Numbers
// after a message/rfc822 part address the parts of the embedded message in
// the same way.
func (p *Part) Find(section []int) (*Part, bool) {
	container := p
	var cur *Part = p
	for i, n := range section {
		if n < 1 {
			return nil, false
		}
		if i > 0 {
			switch {
			case cur.Message != nil:
				container = cur.Message
			case cur.multipart:
				container = cur
			default:
				return nil, false
			}
		}
		if container.multipart {
			if n > len(container.Children) {
				return nil, false
			}
			cur = container.Children[n-1]
			continue
		}
		if n != 1 {
			return nil, false
		}
		cur = container
	}
	return cur, true
}

// IsMultipart reports whether the part is a multipart (its Children are its
// parts; a multipart without a usable boundary has none).
func (p *Part) IsMultipart() bool { return p.multipart }

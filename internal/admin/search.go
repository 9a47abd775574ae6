package admin

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/imapwire"
)

type searchKey = imap.SearchKey

// ParseSearch parses an IMAP search query as it would follow "SEARCH" in a
// command (RFC 9051 6.4.4: "SEEN BEFORE 1-Jan-2026", "OR FROM bob SUBJECT
// \"a b\"", optionally "CHARSET UTF-8 ..."), with the IMAP server's own
// grammar. Literals are not accepted.
func ParseSearch(query string) (charset string, key *imap.SearchKey, err error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return "", nil, errors.New("search query missing")
	}
	if strings.ContainsAny(query, "\r\n") {
		return "", nil, errors.New("search query must be one line")
	}
	if strings.HasPrefix(strings.ToUpper(query), "RETURN") {
		return "", nil, errors.New("search query: RETURN options are not allowed")
	}
	r := bufio.NewReader(strings.NewReader("x SEARCH " + query + "\r\n"))
	dec := imapwire.NewDecoder(r, imapwire.DecoderOptions{})
	dec.SetUTF8(true)
	cmd, err := imap.ReadCommand(dec, imap.ParseOptions{})
	if err != nil {
		var se *imap.SyntaxError
		if errors.As(err, &se) && se.Msg != "" {
			return "", nil, fmt.Errorf("search query: %s", se.Msg)
		}
		return "", nil, fmt.Errorf("search query: %v", err)
	}
	args, ok := cmd.Args.(*imap.SearchCmd)
	if !ok || args.Key == nil {
		return "", nil, errors.New("search query: not a search key")
	}
	return args.Charset, args.Key, nil
}

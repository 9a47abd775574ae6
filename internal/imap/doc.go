// Package imap is the IMAP4rev2/IMAP4rev1 grammar: it turns command lines
// (read through imapwire.Decoder) into typed commands, and never touches
// storage. Handlers in imapserver take these types and never see bytes.
//
// Every command type documents the RFC section of its grammar. Mailbox names
// in commands are already decoded: modified UTF-7 (RFC 3501 5.1.3) for
// clients that have not enabled UTF-8, UTF-8 after ENABLE IMAP4rev2 or
// UTF8=ACCEPT; a name equal to "INBOX" in any case is returned as "INBOX" (RFC 9051 5.1);
// other names, "inbox/x" included, are returned as sent.
package imap

// Reading commands (for the session loop):
//
//	dec := imapwire.NewDecoder(br, imapwire.DecoderOptions{
//		Continue:     func() error { enc.Continuation("Ready for literal data"); return enc.Flush() },
//		CheckLiteral: preAuthLimit, // refuse big literals before login
//	})
//	for {
//		cmd, err := imap.ReadCommand(dec, imap.ParseOptions{TempDir: dir, MaxAppendSize: limit})
//		var se *imap.SyntaxError
//		switch {
//		case errors.As(err, &se): // stream in sync: answer se.Tag BAD/NO [se.Code] se.Msg, go on
//		case err != nil:          // io.EOF, io.ErrUnexpectedEOF or a read/Continue error: close
//		default:                  // run cmd; Close every AppendMessage.Body
//		}
//	}
//
// ReadCommand never reads beyond the end of the command, so bytes the
// client pipelined stay in the bufio.Reader (iOS sends commands right
// after IDLE's DONE; read that with ReadIdleDone). A SyntaxError with
// Literal set means a literal was refused before its bytes were read (a
// synchronizing one: the client still waits and no "+" was sent) or its
// bytes were skipped (non-synchronizing, RFC 7888): either way the next
// ReadCommand starts at the next command. SetUTF8 on the decoder (and the
// encoder) after ENABLE IMAP4rev2 / UTF8=ACCEPT switches mailbox names
// from modified UTF-7 to UTF-8.

package app

import (
	"strconv"
	"strings"
	"time"
)

// SampleMessages returns a few messages for a new demo account: plain
// text, multipart/alternative and a message with an attachment, so a
// newcomer has something to read at once. Line endings are CRLF.
func SampleMessages(user string, pop3sPort int, now time.Time) [][]byte {
	date := now.Format(time.RFC1123Z)
	msgs := []string{
		`From: Roost <postmaster@localhost>
To: ` + user + `@localhost
Subject: Welcome to Roost
Date: ` + date + `
Message-ID: <welcome.1@roost.localhost>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello,

this account was created by "roost serve" with its embedded default.
Read this message with any POP3 client, for example:

  curl --cacert roost-data/cert.pem pop3s://localhost:` + strconv.Itoa(pop3sPort) + `/1 -u demo:PASSWORD

Add users with "roost user add NAME" and deliver mail with
"roost deliver -d NAME < message.eml".
`,
		`From: Alice <alice@example.org>
To: ` + user + `@localhost
Subject: =?utf-8?q?Caf=C3=A9_tomorrow=3F?=
Date: ` + date + `
Message-ID: <alt.2@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Café tomorrow at ten?
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Caf=C3=A9 tomorrow at <b>ten</b>?</p>
--b1--
`,
		`From: Bob <bob@example.net>
To: ` + user + `@localhost
Subject: The report, attached
Date: ` + date + `
Message-ID: <att.3@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=us-ascii

The numbers are in the attachment.
--outer
Content-Type: text/csv; name="report.csv"
Content-Disposition: attachment; filename="report.csv"
Content-Transfer-Encoding: base64

bW9udGgsbWVzc2FnZXMKamFudWFyeSwxMgpmZWJydWFyeSwxNwo=
--outer--
`,
	}
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = []byte(strings.ReplaceAll(m, "\n", "\r\n"))
	}
	return out
}

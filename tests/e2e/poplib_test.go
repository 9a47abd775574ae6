package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
)

// popScript drives Python's poplib. argv[1] is a JSON request, the answer
// is one JSON object on stdout; retrieved messages go to files in "out".
//
// poplib quirks handled here: it refuses lines longer than 2048 bytes
// (poplib._MAXLINE, raised below so long-line messages can be read), and
// retr() returns lines without their CRLF, already dot-unstuffed, so the
// message is rebuilt as the lines joined and terminated by CRLF. POP3
// (RFC 1939) cannot tell a final line without line end from one with it.
const popScript = `
import json, os, poplib, socket, ssl, sys

poplib._MAXLINE = 1 << 20
req = json.loads(sys.argv[1])

class SourcePOP3(poplib.POP3):
    """POP3 from a chosen source address (poplib has no parameter for it)."""
    def __init__(self, host, port, source, timeout):
        self._source = source
        super().__init__(host, port, timeout)
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=self._source)

def err(e):
    return e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)

def connect():
    ctx = ssl.create_default_context(cafile=req["cafile"])
    mode = req["mode"]
    if mode == "ssl":
        return poplib.POP3_SSL(req["host"], req["port"], context=ctx, timeout=60)
    src = (req["source"], 0) if req.get("source") else None
    p = SourcePOP3(req["host"], req["port"], src, 60)
    if mode == "stls":
        p.stls(context=ctx)
    return p

def login(p):
    p.user(req["user"])
    p.pass_(req["password"])

res = {}
action = req["action"]
p = connect()
res["greeting"] = p.getwelcome().decode("utf-8", "replace")

if action == "fetch":
    login(p)
    count, size = p.stat()
    res["stat"] = [count, size]
    res["list"] = {}
    for line in p.list()[1]:
        n, s = line.split()
        res["list"][n.decode()] = int(s)
    res["uidl"] = {}
    for line in p.uidl()[1]:
        n, u = line.split()
        res["uidl"][n.decode()] = u.decode()
    res["octets"] = {}
    for n in sorted(int(k) for k in res["list"]):
        resp, lines, octets = p.retr(n)
        res["octets"][str(n)] = octets
        with open(os.path.join(req["out"], str(n)), "wb") as f:
            f.write(b"\r\n".join(lines) + b"\r\n")
        if req.get("delete"):
            p.dele(n)
    p.quit()
elif action == "dele":
    login(p)
    for n in req["numbers"]:
        p.dele(n)
    if req.get("quit"):
        p.quit()
    else:
        p.close()  # drop the connection without QUIT
elif action == "top":
    login(p)
    for line in p.list()[1]:
        n = int(line.split()[0])
        for k in req["top_lines"]:
            resp, lines, octets = p.top(n, k)
            with open(os.path.join(req["out"], "%d-%d" % (n, k)), "wb") as f:
                f.write(b"\r\n".join(lines) + b"\r\n")
    p.quit()
elif action == "snapshot":
    # A session's maildrop is fixed at login: a message delivered during
    # the session is neither listed nor deleted by it.
    import subprocess
    login(p)
    res["stat"] = list(p.stat())
    with open(req["deliver_file"], "rb") as f:
        subprocess.run(req["deliver"], stdin=f, check=True)
    res["stat2"] = list(p.stat())
    res["list"] = {}
    for line in p.list()[1]:
        n, s = line.split()
        res["list"][n.decode()] = int(s)
    res["uidl"] = {}
    for line in p.uidl()[1]:
        n, u = line.split()
        res["uidl"][n.decode()] = u.decode()
    for n in sorted(int(k) for k in res["list"]):
        p.dele(n)
    p.quit()
elif action == "probe":
    # What an insecure (or any) connection is offered, and whether USER/PASS works.
    res["capa"] = {k: v for k, v in p.capa().items()}
    try:
        login(p)
        res["login"] = "ok"
        res["stat"] = list(p.stat())
    except poplib.error_proto as e:
        res["login"] = err(e)
    if req.get("then_stls"):
        p.stls(context=ssl.create_default_context(cafile=req["cafile"]))
        res["capa_tls"] = {k: v for k, v in p.capa().items()}
        try:
            login(p)
            res["login_tls"] = "ok"
            res["stat"] = list(p.stat())
        except poplib.error_proto as e:
            res["login_tls"] = err(e)
    p.quit()
else:
    sys.exit("unknown action " + action)
print(json.dumps(res))
`

// popReq is a request to popScript.
type popReq struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Mode     string `json:"mode"` // plain, stls, ssl
	Source   string `json:"source,omitempty"`
	CAFile   string `json:"cafile"`
	User     string `json:"user"`
	Password string `json:"password"`
	Action   string `json:"action"` // fetch, dele, probe
	Out      string `json:"out,omitempty"`
	Delete   bool   `json:"delete,omitempty"`
	Numbers  []int  `json:"numbers,omitempty"`
	Quit     bool   `json:"quit,omitempty"`
	ThenSTLS bool   `json:"then_stls,omitempty"`
	TopLines []int  `json:"top_lines,omitempty"`
	// snapshot: the command run mid-session, and its stdin.
	Deliver     []string `json:"deliver,omitempty"`
	DeliverFile string   `json:"deliver_file,omitempty"`
}

// popRes is popScript's answer.
type popRes struct {
	Greeting string              `json:"greeting"`
	Stat     []int               `json:"stat"`
	Stat2    []int               `json:"stat2"`
	List     map[string]int      `json:"list"`
	UIDL     map[string]string   `json:"uidl"`
	Octets   map[string]int      `json:"octets"`
	Capa     map[string][]string `json:"capa"`
	CapaTLS  map[string][]string `json:"capa_tls"`
	Login    string              `json:"login"`
	LoginTLS string              `json:"login_tls"`

	Msgs [][]byte          `json:"-"` // retrieved by "fetch", in message-number order
	Top  map[string][]byte `json:"-"` // "top": "N-K" -> TOP N K
}

// poplib runs popScript; req's host, port (from mode), CA and default
// credentials are filled in from s.
func (s *server) poplib(req popReq) popRes {
	t := s.t
	t.Helper()
	py := requireTool(t, "python3", "python3")
	script := filepath.Join(s.dir, "pop.py")
	if _, err := os.Stat(script); err != nil {
		if err := os.WriteFile(script, []byte(popScript), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	req.Host = "127.0.0.1"
	req.Port = s.pop3Port
	if req.Mode == "ssl" {
		req.Port = s.pop3sPort
	}
	req.CAFile = caFile
	if req.User == "" {
		req.User, req.Password = "alice", alicePass
	}
	if req.Action == "fetch" || req.Action == "top" {
		out, err := os.MkdirTemp(s.dir, "poplib-")
		if err != nil {
			t.Fatal(err)
		}
		req.Out = out
	}
	j, _ := json.Marshal(req)
	stdout, stderr, code := runCmd(t, nil, py, script, string(j))
	if code != 0 {
		t.Fatalf("poplib %s (%s): exit %d\n%s", req.Action, req.Mode, code, stderr)
	}
	var res popRes
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("poplib output %q: %v\nstderr:\n%s", stdout, err, stderr)
	}
	if req.Action == "fetch" {
		for i := 1; i <= len(res.List); i++ {
			b, err := os.ReadFile(filepath.Join(req.Out, strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			res.Msgs = append(res.Msgs, b)
		}
		os.RemoveAll(req.Out)
	}
	if req.Action == "top" {
		res.Top = map[string][]byte{}
		ents, err := os.ReadDir(req.Out)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(req.Out, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			res.Top[e.Name()] = b
		}
		os.RemoveAll(req.Out)
	}
	return res
}

// popFetch retrieves every message of alice over mode.
func (s *server) popFetch(mode string) popRes {
	s.t.Helper()
	return s.poplib(popReq{Mode: mode, Action: "fetch"})
}

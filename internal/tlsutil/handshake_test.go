package tlsutil

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// rsaCert returns a self-signed RSA-2048 certificate for localhost (the
// usual shape of a CA-issued server certificate), to compare with
// SelfSigned's ECDSA P-256.
func rsaCert(tb testing.TB) tls.Certificate {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func ecdsaCert(tb testing.TB) tls.Certificate {
	c := TestServerConfig().Certificates[0]
	return c
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServerHandshake measures full TLS 1.3 handshakes over an
// in-memory pipe, by certificate type and key exchange, and reports the
// server side's CPU per handshake (server-µs/op, the CPU time of the
// server goroutine's locked thread; the client's work is in ns/op only).
// "resumed" reconnects with the ticket of the previous handshake, as
// clients that reconnect often do (roost bench --tls-resume).
func BenchmarkServerHandshake(b *testing.B) {
	certs := map[string]tls.Certificate{"ecdsa-p256": ecdsaCert(b), "rsa-2048": rsaCert(b)}
	groups := []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
	for _, cn := range []string{"ecdsa-p256", "rsa-2048"} {
		for _, g := range groups {
			for _, resume := range []bool{false, true} {
				name := cn + "/" + g.String()
				if resume {
					name += "/resumed"
				}
				b.Run(name, func(b *testing.B) { benchHandshake(b, certs[cn], g, resume) })
			}
		}
	}
}

func benchHandshake(b *testing.B, cert tls.Certificate, group tls.CurveID, resume bool) {
	srvCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	cliCfg := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", CurvePreferences: []tls.CurveID{group}}
	if resume {
		cliCfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	handshake := func() (server time.Duration, st tls.ConnectionState) {
		c1, c2 := net.Pipe()
		done := make(chan time.Duration)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := threadCPU()
			s := tls.Server(c2, srvCfg)
			err := s.Handshake()
			d := threadCPU() - t0
			if err != nil {
				b.Error(err)
			}
			// The client reads the session ticket after the handshake.
			s.Write([]byte{0})
			c2.Close() // no close_notify: nobody reads it on the pipe
			done <- d
		}()
		cl := tls.Client(c1, cliCfg)
		if err := cl.Handshake(); err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		cl.Read(one[:])
		st = cl.ConnectionState()
		c1.Close()
		return <-done, st
	}
	if _, st := handshake(); st.CurveID != group { // warm-up; with resume, gets the ticket
		b.Fatalf("negotiated %v, want %v", st.CurveID, group)
	}
	var server time.Duration
	b.ResetTimer()
	for range b.N {
		d, st := handshake()
		if st.DidResume != resume {
			b.Fatalf("resumed %v, want %v", st.DidResume, resume)
		}
		server += d
	}
	b.ReportMetric(float64(server.Microseconds())/float64(b.N), "server-µs/op")
}

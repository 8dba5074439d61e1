package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdWaitServe waits until a server started with --listen-file FILE has
// written its URL there, and sets VAR to it.
//
//	waitserve FILE VAR
func cmdWaitServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitserve FILE VAR")
	}
	path := ts.MkAbs(args[0])
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			ts.Setenv(args[1], strings.TrimSpace(string(b)))
			return
		}
	}
	ts.Fatalf("waitserve: no URL in %s after %v", args[0], waitTimeout)
}

// cmdFetch GETs URL (with -post, POSTs BODY to it), with the bearer token when one is given, prints the
// answer's status on stdout and writes its body to FILE, then prints the
// trailers. -cacert trusts a server's certificate; -cert presents a
// client certificate (its key in the same directory, named as gencert
// names it).
//
//	fetch [-token TOKEN] [-cacert PEM] [-cert PEM] [-post BODY] URL FILE
func cmdFetch(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: fetch [-token TOKEN] [-cacert PEM] [-cert PEM] [-post BODY] URL FILE"
	var token, caFile, certFile string
	var body io.Reader
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-token":
			token = args[1]
		case "-cacert":
			caFile = ts.MkAbs(args[1])
		case "-cert":
			certFile = ts.MkAbs(args[1])
		case "-post":
			body = strings.NewReader(args[1])
		default:
			ts.Fatalf(usage)
		}
		args = args[2:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf(usage)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: fetchTLS(ts, caFile, certFile)}}
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, args[0], body)
	ts.Check(err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(ts.Stdout(), "error %v\n", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	_, err = io.Copy(f, resp.Body)
	ts.Check(err)
	ts.Check(f.Close())
	fmt.Fprintf(ts.Stdout(), "status %d\n", resp.StatusCode)
	for k, v := range resp.Trailer {
		fmt.Fprintf(ts.Stdout(), "trailer %s: %s\n", k, strings.Join(v, ", "))
	}
}

func fetchTLS(ts *testscript.TestScript, caFile, certFile string) *tls.Config {
	conf := &tls.Config{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		ts.Check(err)
		conf.RootCAs = x509.NewCertPool()
		conf.RootCAs.AppendCertsFromPEM(pem)
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, strings.TrimSuffix(certFile, ".pem")+"-key.pem")
		ts.Check(err)
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf
}

// cmdGenCert writes a self-signed certificate for 127.0.0.1 to NAME.pem
// and its key to NAME-key.pem: a server's, or a client's, which is its own
// CA.
//
//	gencert NAME
func cmdGenCert(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gencert NAME")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: args[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	kb, err := x509.MarshalECPrivateKey(key)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
}

// oidc-verifier is the seed's "Consuming ID tokens" example (dex docs, "Writing Apps That Use Dex") as a
// command: it trusts only ID tokens that the issuer signed for --client-id, using the real go-oidc v3.
//
//	oidc-verifier --issuer http://127.0.0.1:5556/dex --client-id example-app [--root-ca ca.pem] < id-token
//
// On success it prints one JSON line {"subject","email","email_verified","groups"} and exits 0; otherwise it
// prints the error to stderr and exits 1. Built and run by test/e2e/go-oidc.test.ts.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// user is what the app learns from a verified token, as in the seed's example.
type user struct {
	Subject       string   `json:"subject"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Groups        []string `json:"groups"`
}

func main() {
	issuer := flag.String("issuer", "", "the issuer URL (discovery is fetched from it)")
	clientID := flag.String("client-id", "", "only ID tokens issued to this client are trusted")
	rootCA := flag.String("root-ca", "", "PEM file of CAs to trust for the issuer's TLS certificate (optional)")
	flag.Parse()

	u, err := run(*issuer, *clientID, *rootCA, os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "oidc-verifier: %v\n", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(u); err != nil {
		fmt.Fprintf(os.Stderr, "oidc-verifier: %v\n", err)
		os.Exit(1)
	}
}

func run(issuer, clientID, rootCA string, in io.Reader) (*user, error) {
	if issuer == "" || clientID == "" {
		return nil, errors.New("--issuer and --client-id are required")
	}
	client, err := httpClient(rootCA)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(in, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the ID token from stdin: %v", err)
	}
	bearerToken := strings.TrimSpace(string(raw))
	if bearerToken == "" {
		return nil, errors.New("no ID token on stdin")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx = oidc.ClientContext(ctx, client)

	// Initialize a provider by specifying the issuer URL.
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("could not discover the issuer: %v", err)
	}
	// Create an ID token parser, but only trust ID tokens issued to clientID.
	idTokenVerifier := provider.Verifier(&oidc.Config{ClientID: clientID})
	return authorize(ctx, idTokenVerifier, bearerToken)
}

// authorize verifies a bearer token and pulls user information from the claims.
func authorize(ctx context.Context, idTokenVerifier *oidc.IDTokenVerifier, bearerToken string) (*user, error) {
	idToken, err := idTokenVerifier.Verify(ctx, bearerToken)
	if err != nil {
		return nil, fmt.Errorf("could not verify bearer token: %v", err)
	}
	// Extract custom claims.
	var claims struct {
		Email    string   `json:"email"`
		Verified bool     `json:"email_verified"`
		Groups   []string `json:"groups"`
	}
	if err := idToken.Claims(&claims); err != nil {
		return nil, fmt.Errorf("failed to parse claims: %v", err)
	}
	if !claims.Verified {
		return nil, fmt.Errorf("email (%q) in returned claims was not verified", claims.Email)
	}
	groups := claims.Groups
	if groups == nil {
		groups = []string{}
	}
	return &user{Subject: idToken.Subject, Email: claims.Email, EmailVerified: claims.Verified, Groups: groups}, nil
}

// httpClient returns the client for discovery and the key set: it trusts only the CAs in rootCA (PEM) when
// one is given, and the system roots otherwise.
func httpClient(rootCA string) (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if rootCA != "" {
		pem, err := os.ReadFile(rootCA)
		if err != nil {
			return nil, fmt.Errorf("reading --root-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--root-ca %s: no PEM certificates found", rootCA)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: transport, Timeout: 10 * time.Second}, nil
}

package testnet

import (
	crand "crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// writeIdentity creates DataDir/identity.key (the format the node reads: a marshalled libp2p
// Ed25519 private key) unless it exists, and returns the peer id.
func writeIdentity(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "identity.key")
	var key crypto.PrivKey
	if b, err := os.ReadFile(path); err == nil {
		if key, err = crypto.UnmarshalPrivateKey(b); err != nil {
			return "", fmt.Errorf("testnet: %s: %w", path, err)
		}
	} else {
		var err error
		if key, _, err = crypto.GenerateEd25519Key(crand.Reader); err != nil {
			return "", err
		}
		b, err := crypto.MarshalPrivateKey(key)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return "", err
		}
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

package cluster

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// identityFile is the key file name inside Config.DataDir.
const identityFile = "identity.key"

// loadIdentity returns the host key: cfg.Identity when set, else the key in
// DataDir (created on first use), else a fresh in-memory key.
func loadIdentity(cfg *Config) (crypto.PrivKey, error) {
	if cfg.Identity != nil {
		return cfg.Identity, nil
	}
	if cfg.DataDir == "" {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		return k, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, identityFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("cluster: identity %s: %w", path, err)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cluster: identity: %w", err)
	}

	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	// Write to a temp file and rename so a crash never leaves a torn key.
	tmp, err := os.CreateTemp(cfg.DataDir, identityFile+".*")
	if err != nil {
		return nil, fmt.Errorf("cluster: identity: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("cluster: identity: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("cluster: identity: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("cluster: identity: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("cluster: identity: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("cluster: identity: %w", err)
	}
	return k, nil
}

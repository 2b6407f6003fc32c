package postgres

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// SecretsKeySize is the length of the key that seals signing secrets at rest
// (AES-256).
const SecretsKeySize = 32

// ErrSealedSecrets is wrapped when stored signing secrets cannot be opened:
// the secrets key is not the one they were sealed with, or the bytes were
// altered (or moved to another integration's row).
var ErrSealedSecrets = errors.New("cannot open the sealed signing secrets: wrong secrets key, or the stored data was altered")

// sealFormatV1 prefixes every sealed value so that a later format (a key id
// for key rotation, say) can be told apart from this one.
const sealFormatV1 byte = 1

// secretBox seals small secrets with AES-256-GCM. Each seal draws a fresh
// random 96-bit nonce, which is safe far beyond the number of secrets this
// service will ever write under one key. The additional data binds a sealed
// value to the row it belongs to, so that it cannot be copied to another.
type secretBox struct {
	aead cipher.AEAD
}

func newSecretBox(key []byte) (*secretBox, error) {
	if len(key) != SecretsKeySize {
		return nil, fmt.Errorf("postgres: the secrets key must be %d bytes, got %d", SecretsKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("postgres: secrets key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("postgres: secrets key: %w", err)
	}
	return &secretBox{aead: aead}, nil
}

// seal returns version || nonce || ciphertext || tag.
func (b *secretBox) seal(plaintext, additionalData []byte) []byte {
	out := make([]byte, 1, 1+len(plaintext)+b.aead.Overhead()) // Overhead counts the nonce too
	out[0] = sealFormatV1
	return b.aead.Seal(out, nil, plaintext, additionalData)
}

func (b *secretBox) open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) == 0 || sealed[0] != sealFormatV1 {
		return nil, fmt.Errorf("%w (unknown format)", ErrSealedSecrets)
	}
	plain, err := b.aead.Open(nil, nil, sealed[1:], additionalData)
	if err != nil {
		return nil, ErrSealedSecrets
	}
	return plain, nil
}

package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/youmark/pkcs8"
)

// encryptedKeyHelp says what to do with an encrypted key when no password
// file is set.
const encryptedKeyHelp = "set tls_server_config.key_password_file to a file holding its password, readable only by the service (a systemd credential, for example), " +
	"or decrypt it once with `openssl pkey -in KEY -out KEY.plain` and point key_file at the result (mode 0600)"

// keyBlock returns the first PEM block in data that holds a private key.
func keyBlock(data []byte) *pem.Block {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil
		}
		if b.Type == "PRIVATE KEY" || bytes.HasSuffix([]byte(b.Type), []byte(" PRIVATE KEY")) {
			return b
		}
	}
}

// isEncrypted reports whether b is an encrypted private key: PKCS #8
// ("ENCRYPTED PRIVATE KEY", as OpenSSL 3 writes for `genrsa -des3` and
// `pkcs8 -topk8`) or OpenSSL's legacy form ("Proc-Type: 4,ENCRYPTED").
func isEncrypted(b *pem.Block) bool {
	return b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] == "4,ENCRYPTED"
}

// decryptKey returns keyPEM as it goes to tls.X509KeyPair: unchanged when the
// key is not encrypted, else decrypted with the password in
// t.KeyPasswordFile and written as unencrypted PKCS #8. The password and
// the key never appear in its errors.
func (d *decoder) decryptKey(keyPEM []byte, t *TLSConfig) ([]byte, error) {
	b := keyBlock(keyPEM)
	keyField := firstSet(d, "tls_server_config.key_file", "tls_server_config.key")
	source := d.source(t.KeyFile, "key")
	if b == nil || !isEncrypted(b) {
		return keyPEM, nil
	}
	if t.KeyPasswordFile == "" {
		return nil, d.errorf(keyField, "%s holds an encrypted private key, and no key_password_file is set: %s", source, encryptedKeyHelp)
	}
	const pwField = "tls_server_config.key_password_file"
	raw, err := readFile(t.KeyPasswordFile)
	if err != nil {
		return nil, &Error{File: d.file, Line: d.fields[pwField], Field: pwField, Msg: fmt.Sprintf("cannot read %s: %v", t.KeyPasswordFile, err), Err: err}
	}
	defer clear(raw)
	pw := raw
	// `echo secret > file` and editors add a line break; systemd
	// credentials have none. A password does not end in one.
	pw = bytes.TrimSuffix(pw, []byte("\n"))
	pw = bytes.TrimSuffix(pw, []byte("\r"))
	if len(pw) == 0 {
		return nil, d.errorf(pwField, "%s is empty", t.KeyPasswordFile)
	}
	wrong := func() error {
		// The libraries' errors say no more than this, and may in future
		// versions quote what they read.
		return d.errorf(keyField, "cannot decrypt the private key in %s with the password in %s: wrong password, or a damaged key", source, t.KeyPasswordFile)
	}
	var der []byte
	if b.Type == "ENCRYPTED PRIVATE KEY" {
		if why := kdfCost(b.Bytes); why != "" {
			return nil, d.errorf(keyField, "%s: refusing to decrypt the key: %s; encrypt it again with `openssl pkcs8 -topk8 -v2 aes256`", source, why)
		}
		key, err := pkcs8.ParsePKCS8PrivateKey(b.Bytes, pw)
		if err != nil {
			return nil, wrong()
		}
		if der, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
			return nil, d.errorf(keyField, "%s: unsupported private key type %T", source, key)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	// Legacy PEM encryption is weak (MD5 key derivation) and deprecated,
	// but `openssl genrsa -des3 -traditional` and many old guides make
	// such keys, and this is the one decoder for them.
	//lint:ignore SA1019 the only standard library decoder for OpenSSL's legacy encrypted PEM; decrypting is what users need, we never write such keys
	der, err = x509.DecryptPEMBlock(b, pw)
	if err != nil {
		return nil, wrong()
	}
	return pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: der}), nil
}

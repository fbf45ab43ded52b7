// daemon-decoder decodes a .difypkg the way the Dify plugin daemon (0.6.10) does, with the
// same Go standard library: archive/zip reads it, the unpacked size is capped
// (NewZipPluginDecoderWithSizeLimit), the signature in the zip comment is checked with RSA
// PKCS#1 v1.5 over the SHA-256 of every file in walk order followed by the time
// (decoder/verifier.go), and the files are extracted with mode 0644 (ZipPluginDecoder.ExtractTo).
// Written from the daemon's behaviour for this project's tests; none of its code is copied.
//
// Usage: daemon-decoder PACKAGE EXTRACT_DIR [PUBLIC_KEY.pem]
// Prints one JSON object: the files in walk order, the unpacked size, and the verification
// result ("verified", "unsigned", or the error). Exits 1 when the package does not decode.
package main

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

const maxSize = 52428800

type result struct {
	Files        []string `json:"files"`
	Unpacked     int64    `json:"unpacked"`
	Verification string   `json:"verification"`
}

func main() {
	if len(os.Args) < 3 {
		fail(errors.New("usage: daemon-decoder PACKAGE EXTRACT_DIR [PUBLIC_KEY.pem]"))
	}
	binary, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	reader, err := zip.NewReader(bytes.NewReader(binary), int64(len(binary)))
	if err != nil {
		fail(errors.New(strings.ReplaceAll(err.Error(), "zip", "difypkg")))
	}
	var out result
	for _, file := range reader.File {
		out.Unpacked += int64(file.UncompressedSize64)
		if out.Unpacked > maxSize {
			fail(fmt.Errorf("plugin package size is too large, please ensure the uncompressed size is less than %d bytes", maxSize))
		}
		out.Files = append(out.Files, file.Name)
	}
	if err := extract(reader, os.Args[2]); err != nil {
		fail(err)
	}
	out.Verification = "unsigned"
	if len(os.Args) > 3 {
		if err := verify(reader, os.Args[3]); err != nil {
			out.Verification = err.Error()
		} else {
			out.Verification = "verified"
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func readFile(reader *zip.Reader, name string) ([]byte, error) {
	file, err := reader.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return io.ReadAll(file)
}

func extract(reader *zip.Reader, dst string) error {
	if err := os.MkdirAll(dst, 0755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, file := range reader.File {
		dir, name := path.Split(file.Name)
		entry := path.Join(dir, name)
		rel, err := filepath.Rel(dst, filepath.Join(dst, filepath.FromSlash(entry)))
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(os.PathSeparator)) {
			return fmt.Errorf("illegal file path in plugin package: %q", entry)
		}
		if err := root.MkdirAll(filepath.Dir(rel), 0755); err != nil {
			return err
		}
		data, err := readFile(reader, entry)
		if err != nil {
			return err
		}
		out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0644)
		if err != nil {
			return err
		}
		if _, err := out.Write(data); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	return nil
}

func verify(reader *zip.Reader, keyPath string) error {
	keyBytes, err := os.ReadFile(strings.TrimSpace(keyPath))
	if err != nil {
		return err
	}
	block, rest := pem.Decode(keyBytes)
	if block == nil || block.Type != "RSA PUBLIC KEY" {
		return errors.New("failed to decode PEM block containing public key")
	}
	if len(rest) != 0 {
		return errors.New("extra data included in the PEM block")
	}
	publicKey, err := x509.ParsePKCS1PublicKey(block.Bytes)
	if err != nil {
		return err
	}
	var comment struct {
		Signature string `json:"signature"`
		Time      int64  `json:"time"`
	}
	if err := json.Unmarshal([]byte(reader.Comment), &comment); err != nil {
		return err
	}
	data := new(bytes.Buffer)
	for _, file := range reader.File {
		dir, name := path.Split(file.Name)
		content, err := readFile(reader, path.Join(dir, name))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		data.Write(sum[:])
	}
	data.Write([]byte(strconv.FormatInt(comment.Time, 10)))
	signature, err := base64.StdEncoding.DecodeString(comment.Signature)
	if err != nil {
		return err
	}
	hashed := sha256.Sum256(data.Bytes())
	return rsa.VerifyPKCS1v15(publicKey, crypto.SHA256, hashed[:], signature)
}

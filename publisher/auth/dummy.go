package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// A dummy is a hash of no known secret with the scheme and parameters of a
// configured one: verifying any secret against it fails and costs what
// verifying against the configured hash costs. Unknown ids are verified
// against dummies, so their 401 takes as long as a known id's.

// costOf names what verifying against h costs: its scheme and parameters.
// h is valid (ValidHash).
func costOf(h string) string {
	if a, err := parseArgon(h); err == nil {
		return fmt.Sprintf("argon2id m=%d t=%d p=%d salt=%d key=%d", a.memory, a.time, a.threads, len(a.salt), len(a.key))
	}
	cost, _ := bcrypt.Cost([]byte(h))
	return fmt.Sprintf("bcrypt %d", cost)
}

// dummyLike returns a dummy with h's scheme and parameters. Nothing is
// hashed: the salt and the key are random bytes.
func dummyLike(h string) string {
	if a, err := parseArgon(h); err == nil {
		return argonDummy(a.memory, a.time, a.threads, len(a.salt), len(a.key))
	}
	cost, _ := bcrypt.Cost([]byte(h))
	enc := base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)
	return fmt.Sprintf("$2a$%02d$%s%s", cost, enc.EncodeToString(random(16)), enc.EncodeToString(random(23)))
}

func argonDummy(memory, time uint32, threads uint8, saltLen, keyLen int) string {
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memory, time, threads,
		b64(random(saltLen)), b64(random(keyLen)))
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// dummies are the dummies of one kind of principal, each with how many of
// them use its cost.
type dummies struct {
	hashes []string
	counts []int
	total  int
}

func (d *dummies) add(dummy string) {
	for i, h := range d.hashes {
		if h == dummy {
			d.counts[i]++
			d.total++
			return
		}
	}
	d.hashes = append(d.hashes, dummy)
	d.counts = append(d.counts, 1)
	d.total++
}

// pick chooses a dummy for an unknown id by sum, a keyed hash of the id:
// the same id always gets the same dummy, and over many ids each dummy is
// chosen as often as principals use its cost, so unknown ids take as long
// as known ones do in the same proportions.
func (d *dummies) pick(sum []byte) string {
	n := int(binary.BigEndian.Uint64(sum) % uint64(d.total))
	for i, c := range d.counts {
		if n < c {
			return d.hashes[i]
		}
		n -= c
	}
	return d.hashes[len(d.hashes)-1]
}

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/revocast/revocast/publisher/auth"
)

// devAdminEnv sets the dev admin client explicitly (id:secret). It is read
// from the environment only, never a flag, so the secret stays off command lines.
const devAdminEnv = "REVOCAST_DEV_CLIENT"

const devAdminFile = "dev-admin.yaml"

type devAdminRecord struct {
	ID         string `yaml:"id"`
	SecretHash string `yaml:"secret_hash"`
}

// devAdmin returns the credentials of the dev admin client (allowed every
// format in every realm, as an OAuth client, an Elasticsearch user and an
// API key) and what to tell the user about it. From REVOCAST_DEV_CLIENT when
// set; else, without a --config, the admin created at first start (its
// secret printed once, only its hash kept, mode 0600, in the data
// directory); else none.
func devAdmin(dataDir string, haveConfig bool, getenv func(string) string) ([]auth.Credential, func(w io.Writer, front string), error) {
	if v := getenv(devAdminEnv); v != "" {
		id, secret, ok := strings.Cut(v, ":")
		if !ok || id == "" || secret == "" || len(secret) > auth.MaxSecretLen {
			return nil, nil, fmt.Errorf("%s must be id:secret", devAdminEnv)
		}
		h, err := auth.HashSecret(secret)
		if err != nil {
			return nil, nil, err
		}
		return adminCreds(id, h), func(w io.Writer, front string) {
			fmt.Fprintf(w, "revocast dev: admin client %q from %s (all formats, all realms); e.g.\n", id, devAdminEnv)
			howTo(w, front, id, "$SECRET")
		}, nil
	}
	if haveConfig {
		return nil, func(io.Writer, string) {}, nil
	}
	path := filepath.Join(dataDir, devAdminFile)
	if b, err := os.ReadFile(path); err == nil {
		var rec devAdminRecord
		if err := yaml.Unmarshal(b, &rec); err != nil || rec.ID == "" || auth.ValidHash(rec.SecretHash) != nil {
			return nil, nil, fmt.Errorf("%s is damaged: delete it for a new admin client", path)
		}
		return adminCreds(rec.ID, rec.SecretHash), func(w io.Writer, front string) {
			fmt.Fprintf(w, "revocast dev: admin client %q (all formats, all realms). Its secret was printed at first start;\n"+
				"  delete %s for a new one, or set %s=id:secret to choose your own.\n", rec.ID, path, devAdminEnv)
			howTo(w, front, rec.ID, "$SECRET")
		}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	secret := auth.GenerateSecret()
	h, err := auth.HashSecret(secret)
	if err != nil {
		return nil, nil, err
	}
	rec := devAdminRecord{ID: "admin", SecretHash: h}
	b, _ := yaml.Marshal(rec)
	b = append([]byte(fmt.Sprintf("# revocast dev admin client, created %s.\n# Only the secret's hash is kept; the secret was printed once at first start.\n",
		time.Now().UTC().Format(time.RFC3339))), b...)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("write %s: %w", path, err)
	}
	return adminCreds(rec.ID, h), func(w io.Writer, front string) {
		fmt.Fprintf(w, "\nrevocast dev: created the admin client (all formats, all realms). Its secret is shown only now:\n\n"+
			"    id:      %s\n    secret:  %s\n\n"+
			"  Only its hash is kept, in %s (mode 0600): delete that file for a new one,\n"+
			"  or set %s=id:secret to choose your own.\n", rec.ID, secret, path, devAdminEnv)
		howTo(w, front, rec.ID, secret)
	}, nil
}

func adminCreds(id, hash string) []auth.Credential {
	var out []auth.Credential
	for _, k := range []auth.Kind{auth.KindClient, auth.KindUser, auth.KindAPIKey} {
		out = append(out, auth.Credential{Kind: k, ID: id, SecretHash: hash, Allow: []string{auth.Any}, Realms: []string{auth.Any}})
	}
	return out
}

func howTo(w io.Writer, front, id, secret string) {
	fmt.Fprintf(w, "  Elasticsearch: curl -u '%s:%s' -X DELETE %s/_security/oauth2/token -H 'Content-Type: application/json' -d '{\"token\":\"...\"}'\n", id, secret, front)
	fmt.Fprintf(w, "  RFC 7009:      curl -u '%s:%s' %s/oauth2/revoke -d token=...\n\n", id, secret, front)
}

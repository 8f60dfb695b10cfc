#!/usr/bin/env bash
# make-certs.sh [DIR]: a private CA and the TLS certificates of revocast's
# NATS cluster, written to DIR (default: certs/ next to this script, which
# the node configurations read as ./certs when started from this directory).
#
#   ca.pem, ca-key.pem          the CA (keep ca-key.pem off the NATS hosts)
#   nats-N.pem, nats-N-key.pem  node N's certificate: names nats-N, localhost
#                               and 127.0.0.1; server and client use, because
#                               a node presents it on client connections and,
#                               verified by its peers, on routes
#
# Clients get no certificates: they prove who they are with their NATS
# credentials (revocast nats-creds) and verify the servers with ca.pem.
# Existing files are kept; delete a node's pair to renew it (a new CA
# renews every node). Private keys are written with mode 0600.
# REVOCAST_CERT_DAYS sets the validity in days (825).
set -euo pipefail
umask 077
dir=${1:-"$(cd "$(dirname "$0")" && pwd)/certs"}
days=${REVOCAST_CERT_DAYS:-825}
nodes=(nats-1 nats-2 nats-3)

command -v openssl >/dev/null || { echo "make-certs.sh: openssl is required" >&2; exit 1; }
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

serial() { echo "0x$(openssl rand -hex 16)"; }

newca=0
if [ ! -f ca.pem ] || [ ! -f ca-key.pem ]; then
  newca=1
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca-key.pem -out ca.pem -days "$days" -set_serial "$(serial)" -subj "/CN=revocast NATS CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  echo "wrote $dir/ca.pem"
fi
chmod 644 ca.pem

for n in "${nodes[@]}"; do
  if [ "$newca" = 0 ] && [ -f "$n.pem" ] && [ -f "$n-key.pem" ]; then
    continue
  fi
  cat >"$work/$n.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$n,DNS:localhost,IP:127.0.0.1
EXT
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$n-key.pem" -out "$work/$n.csr" -subj "/CN=$n"
  openssl x509 -req -in "$work/$n.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "$(serial)" \
    -days "$days" -extfile "$work/$n.ext" -out "$n.pem"
  chmod 644 "$n.pem"
  echo "wrote $dir/$n.pem"
done

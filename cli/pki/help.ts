// The --help texts of `conclave pki` and its commands.

const KEY_FLAGS = `  --key-algo ALGO    ecdsa (default) or rsa
  --key-size N       ecdsa: 256 (default), 384 or 521; rsa: 2048 (default) to 8192
  --force            replace files that already exist (default: refuse)`;

export const HELP: Record<string, string> = {
  "": `Usage: conclave pki <command> [flags]

Makes the certificate authority and the server, peer and client certificates of a cluster,
with cfssl's file names (ca.pem, ca-key.pem, server.pem, server-key.pem, ...) so existing
unit files and flags work unchanged. Keys are ECDSA P-256 unless --key-algo rsa; key files are
written with mode 0600.

Commands:
  ca        a certificate authority: ca.pem, ca-key.pem
  server    a server certificate (server auth) for the client port
  peer      a peer certificate (server and client auth) for the peer port
  client    a client certificate (client auth); its CN is the user name
  cluster   a CA and every certificate of a cluster, and each member's TLS flags
  crl       a certificate revocation list for --client-crl-file / --peer-crl-file
  inspect   print a certificate's subject, SANs, usages and expiry (or a CRL's entries)

Run 'conclave pki <command> --help' for a command's flags.
Exit status: 0 done, 1 the work failed (unreadable CA, unwritable directory), 2 bad flags.
`,
  ca: `Usage: conclave pki ca [flags]

Creates a self-signed certificate authority: DIR/ca.pem and DIR/ca-key.pem.

Flags:
  --dir DIR          where to write (default .)
  --cn NAME          the CA's common name (default conclave-ca)
  --expiry DURATION  validity, hours/minutes/seconds as in cfssl (default 43800h, 5 years)
${KEY_FLAGS}
`,
  server: leafHelp("server", "server auth: the certificate of the client port (--cert-file, --key-file)", "server") +
    "\nNote: etcd 3.4 members with --client-cert-auth also present this certificate to themselves\n(their JSON gateway dials the gRPC server); give such etcd members a peer certificate instead.\n",
  peer: leafHelp("peer", "server auth and client auth: the certificate of the peer port (--peer-cert-file, --peer-key-file)", "peer"),
  client: `Usage: conclave pki client --cn USER [flags]

Issues a client certificate (client auth) signed by the CA: DIR/NAME.pem and DIR/NAME-key.pem.
Its common name is the user a member with --client-cert-auth takes the client to be.

Flags:
  --cn USER          the user name (required)
  --dir DIR          where to write (default .)
  --name NAME        file name stem (default client)
  --ca FILE          CA certificate (default DIR/ca.pem)
  --ca-key FILE      CA key (default DIR/ca-key.pem)
  --hosts H[,H...]   optional SANs (IP or DNS name each); may be repeated
  --expiry DURATION  validity (default 8760h, 1 year)
${KEY_FLAGS}
`,
  cluster: `Usage: conclave pki cluster --dir DIR --member NAME=HOST[,HOST...] [--member ...] [--client USER ...]

Makes everything a TLS cluster needs in one go and prints the TLS flags of each member:
  DIR/ca.pem, DIR/ca-key.pem
  DIR/NAME/server.pem, DIR/NAME/server-key.pem   (server auth; SANs = the member's hosts)
  DIR/NAME/peer.pem, DIR/NAME/peer-key.pem       (server and client auth; same SANs)
  DIR/client-USER.pem, DIR/client-USER-key.pem   (client auth; CN = USER)
Each HOST goes into the SANs as an IP address or a DNS name, as it parses
(127.0.0.1 and localhost are common on one machine).

Flags:
  --dir DIR          where to write (required)
  --member SPEC      NAME=HOST[,HOST...]; repeat for each member (at least one)
  --client USER      a client certificate for USER; repeat for more (default root)
  --expiry DURATION  validity of the certificates (default 8760h)
  --ca-expiry DURATION  validity of the CA (default 43800h)
${KEY_FLAGS}
`,
  crl: `Usage: conclave pki crl --revoke CERT [--revoke CERT ...] [flags]

Writes a certificate revocation list signed by the CA, for --client-crl-file or --peer-crl-file
(members re-read it when it changes).

Flags:
  --revoke FILE      a certificate to revoke; may be repeated
  --serial HEX       a serial number to revoke; may be repeated
  --dir DIR          where the CA is and the CRL goes (default .)
  --ca FILE          CA certificate (default DIR/ca.pem)
  --ca-key FILE      CA key (default DIR/ca-key.pem)
  --out FILE         the CRL file (default DIR/crl.pem)
  --expiry DURATION  time until the next update (default 168h)
  --force            replace an existing CRL file
`,
  inspect: `Usage: conclave pki inspect FILE

Prints each certificate in FILE (subject, issuer, serial, validity, key, usages, SANs) or the
entries of a CRL.
`,
};

function leafHelp(kind: string, usage: string, stem: string): string {
  return `Usage: conclave pki ${kind} --hosts H[,H...] [flags]

Issues a ${kind} certificate (${usage}) signed by the CA: DIR/NAME.pem and DIR/NAME-key.pem.

Flags:
  --hosts H[,H...]   SANs: each an IP address or a DNS name (required); may be repeated
  --cn NAME          common name (default the first host)
  --dir DIR          where to write (default .)
  --name NAME        file name stem (default ${stem})
  --ca FILE          CA certificate (default DIR/ca.pem)
  --ca-key FILE      CA key (default DIR/ca-key.pem)
  --expiry DURATION  validity (default 8760h, 1 year)
${KEY_FLAGS}
`;
}

"""Generate a small test PKI for the OMS certificate method.

root (P-384, self-signed CA) -> intermediate (P-256, CA, pathlen 0) -> leaf (P-256, digitalSignature)
plus hostile variants: a leaf without signing usage, a leaf under another root, a leaf whose
"intermediate" is not a CA, and a leaf two CAs below the pathlen-0 intermediate. Validity is 1 Jan 2020 - 1 Jan 2120 so the fixtures do not expire.

usage: python gen_pki.py OUT_DIR
"""

import datetime
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2120, 1, 1, tzinfo=datetime.timezone.utc)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject, key, issuer, issuer_key, *, ca, pathlen=None, ku_sign=True, eku=None, hash_alg=None):
    b = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=ku_sign and not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return b.sign(issuer_key, hash_alg or hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def key_pem(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root_k = ec.generate_private_key(ec.SECP384R1())
    root = cert("aigis test root", root_k, "aigis test root", root_k, ca=True, hash_alg=hashes.SHA384())
    int_k = ec.generate_private_key(ec.SECP256R1())
    inter = cert("aigis test intermediate", int_k, "aigis test root", root_k, ca=True, pathlen=0, hash_alg=hashes.SHA384())
    leaf_k = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("aigis test signer", leaf_k, "aigis test intermediate", int_k, ca=False)
    # Usage only through EKU codeSigning (no digitalSignature): allowed.
    eku_k = ec.generate_private_key(ec.SECP256R1())
    eku_leaf = cert("aigis eku signer", eku_k, "aigis test intermediate", int_k, ca=False, ku_sign=False,
                    eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    # Neither digitalSignature nor codeSigning: refused.
    nosign_k = ec.generate_private_key(ec.SECP256R1())
    nosign = cert("aigis no-sign leaf", nosign_k, "aigis test intermediate", int_k, ca=False, ku_sign=False,
                  eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    other_k = ec.generate_private_key(ec.SECP256R1())
    other_root = cert("aigis other root", other_k, "aigis other root", other_k, ca=True)
    # Issued by a certificate that is not a CA.
    notca_k = ec.generate_private_key(ec.SECP256R1())
    notca = cert("aigis not a ca", notca_k, "aigis test root", root_k, ca=False, hash_alg=hashes.SHA384())
    bad_leaf_k = ec.generate_private_key(ec.SECP256R1())
    bad_leaf = cert("aigis bad leaf", bad_leaf_k, "aigis not a ca", notca_k, ca=False)

    # A second intermediate below one with pathlen 0: the chain breaks its path length.
    deep_k = ec.generate_private_key(ec.SECP256R1())
    deep = cert("aigis too deep", deep_k, "aigis test intermediate", int_k, ca=True)
    deep_leaf_k = ec.generate_private_key(ec.SECP256R1())
    deep_leaf = cert("aigis deep leaf", deep_leaf_k, "aigis too deep", deep_k, ca=False)

    files = {
        "root.pem": pem(root),
        "intermediate.pem": pem(inter),
        "leaf.pem": pem(leaf),
        "leaf.key": key_pem(leaf_k),
        "eku-leaf.pem": pem(eku_leaf),
        "eku-leaf.key": key_pem(eku_k),
        "nosign-leaf.pem": pem(nosign),
        "nosign-leaf.key": key_pem(nosign_k),
        "other-root.pem": pem(other_root),
        "notca.pem": pem(notca),
        "notca-leaf.pem": pem(bad_leaf),
        "notca-leaf.key": key_pem(bad_leaf_k),
        "deep-chain.pem": pem(deep) + pem(inter),
        "deep-leaf.pem": pem(deep_leaf),
        "deep-leaf.key": key_pem(deep_leaf_k),
    }
    for n, data in files.items():
        (out / n).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1])

"""A self-made RSA key and X.509 certificate that signs SNS messages the way SNS does."""
from __future__ import annotations

import base64
import datetime as dt

import pytest


class SnsSigner:
    CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + dt.timedelta(days=3650)).sign(self.key, hashes.SHA256()))
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem

    def sign(self, msg: dict) -> dict:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        from aisre.sources.webhooks.sns import canonical_string

        algo = hashes.SHA1() if str(msg.get("SignatureVersion")) == "1" else hashes.SHA256()
        out = dict(msg)
        out["Signature"] = base64.b64encode(self.key.sign(canonical_string(out), padding.PKCS1v15(), algo)).decode()
        return out


@pytest.fixture(scope="session")
def sns_signer() -> SnsSigner:
    return SnsSigner()

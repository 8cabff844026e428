"""Amazon SNS HTTP(S) message signature verification.

The canonical string is ``Key\\nValue\\n`` for a fixed list of keys (Notification: Message,
MessageId, Subject if present, Timestamp, TopicArn, Type; SubscriptionConfirmation and
UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type).
SignatureVersion 1 signs it with SHA1withRSA, 2 with SHA256withRSA. The signing certificate
must come over https from an ``sns.<region>.amazonaws.com`` host whose region matches the
topic's; it is fetched through an injectable fetcher and cached per URL.
"""
from __future__ import annotations

import base64
import re
import threading
import urllib.parse
from collections import OrderedDict
from typing import Any, Callable, Mapping

from aisre.errors import SourceDown, ValidationError

_HOST = re.compile(r"^sns\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def canonical_string(msg: Mapping[str, Any]) -> bytes:
    mtype = msg.get("Type")
    keys = NOTIFICATION_KEYS if mtype == "Notification" else SUBSCRIPTION_KEYS
    out = []
    for k in keys:
        if k == "Subject" and msg.get(k) is None:
            continue
        if msg.get(k) is None:
            raise ValidationError(f"SNS {mtype} is missing {k}", what="sns", path=k)
        out.append(f"{k}\n{msg[k]}\n")
    return "".join(out).encode("utf-8")


def check_sns_url(url: str, topic_arn: str = "", field: str = "SigningCertURL") -> str:
    """Return the region of an https URL on ``sns.<region>.amazonaws.com`` matching the topic's region."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(f"SNS {field} is not a URL", what="sns", path=field) from None
    m = _HOST.match(parts.hostname or "")
    if parts.scheme != "https" or not m or port not in (None, 443) or parts.username or parts.password:
        raise ValidationError(f"SNS {field} must be https on sns.<region>.amazonaws.com, got {url[:200]!r}",
                              what="sns", path=field)
    region = m.group(1)
    arn = topic_arn.split(":")
    if len(arn) >= 4 and arn[0] == "arn" and arn[3] and arn[3] != region:
        raise ValidationError(f"SNS {field} region {region} does not match topic region {arn[3]}",
                              what="sns", path=field)
    return region


def check_cert_url(url: str, topic_arn: str = "") -> str:
    """Return the region of a valid SigningCertURL (https, SNS host, .pem), else :class:`ValidationError`."""
    region = check_sns_url(url, topic_arn)
    if not urllib.parse.urlsplit(url).path.endswith(".pem"):
        raise ValidationError("SNS SigningCertURL must point to a .pem certificate", what="sns", path="SigningCertURL")
    return region


def default_fetcher(url: str) -> bytes:
    import requests

    try:
        resp = requests.get(url, timeout=5, allow_redirects=False)
    except requests.RequestException as exc:
        raise SourceDown(f"cannot fetch SNS signing certificate: {exc}", integration="sns",
                         operation="get_cert", target=url) from None
    if resp.status_code != 200:
        raise SourceDown("cannot fetch SNS signing certificate", integration="sns", operation="get_cert",
                         target=url, status=resp.status_code)
    return resp.content


class CertCache:
    """Bounded LRU of parsed public keys per certificate URL (thread-safe)."""

    def __init__(self, maxsize: int = 32) -> None:
        self.maxsize = maxsize
        self._keys: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.fetches = 0

    def public_key(self, url: str, fetcher: Callable[[str], bytes]) -> Any:
        with self._lock:
            if url in self._keys:
                self._keys.move_to_end(url)
                return self._keys[url]
        from cryptography import x509

        pem = fetcher(url)
        self.fetches += 1
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"SNS signing certificate is not a PEM X.509 certificate: {exc}", what="sns") from None
        with self._lock:
            self._keys[url] = key
            while len(self._keys) > self.maxsize:
                self._keys.popitem(last=False)
        return key


CERT_CACHE = CertCache()


def verify(msg: Mapping[str, Any], fetcher: Callable[[str], bytes] | None = None,
           cache: CertCache | None = None) -> None:
    """Raise :class:`ValidationError` unless ``msg`` carries a valid SNS signature."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    version = str(msg.get("SignatureVersion") or "")
    algo = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
    if algo is None:
        raise ValidationError(f"SNS SignatureVersion {version!r} is not supported (1 or 2)", what="sns",
                              path="SignatureVersion")
    url = str(msg.get("SigningCertURL") or msg.get("SigningCertUrl") or "")
    check_cert_url(url, str(msg.get("TopicArn") or ""))
    try:
        signature = base64.b64decode(str(msg.get("Signature") or ""), validate=True)
    except (ValueError, TypeError):
        raise ValidationError("SNS Signature is not base64", what="sns", path="Signature") from None
    if not signature:
        raise ValidationError("SNS message is not signed", what="sns", path="Signature")
    key = (cache or CERT_CACHE).public_key(url, fetcher or default_fetcher)  # SourceDown if unreachable
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValidationError("SNS signing certificate does not hold an RSA key", what="sns")
    try:
        key.verify(signature, canonical_string(msg), padding.PKCS1v15(), algo)
    except InvalidSignature:
        raise ValidationError("SNS message signature does not verify", what="sns", path="Signature") from None

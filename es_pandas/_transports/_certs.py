"""Certificate files into an SSL context: PEM as the ssl module reads it, and PKCS#12
bundles (``es-cert.p12``, ``user.p12`` on premises) through ``cryptography``, in memory.

A file is told apart by its content, never its name: PKCS#12 is DER that opens with
the PFX version (3), PEM has a ``-----BEGIN`` line. The ssl module reads only files,
so a PKCS#12 client key goes to it through a temporary file, encrypted with a one-time
password that never leaves this process: the key is never on disk in the clear.
"""

from __future__ import annotations

import base64
import os
import secrets
import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes as PrivateKey

__all__ = ["load_identity", "trust_arguments"]

_PKCS12_EXTRA = (
    'reading a PKCS#12 bundle needs cryptography: pip install "eventstreams-pandas[pkcs12]"'
)
# where each password is given, for messages
_PASSWORDS = {
    "verify": "ca_password= (--ca-password, ES_PANDAS_CA_PASSWORD)",
    "cert": "cert_password= (--client-cert-password, ES_PANDAS_CLIENT_CERT_PASSWORD)",
}


def trust_arguments(path: str, password: str | None, setting: str) -> dict[str, str]:
    """The ``ssl.create_default_context`` argument for the CA certificates in ``path``
    (named by ``setting`` in messages): ``cafile`` for PEM, ``cadata`` for PKCS#12."""
    data = _read(path, setting)
    if not _pkcs12(data, path, setting):
        return {"cafile": path}
    _, certificate, chain = _open_pkcs12(data, path, password, setting)
    certificates = [*([certificate] if certificate is not None else []), *chain]
    if not certificates:
        raise ConfigurationError(f"{setting}: the PKCS#12 bundle {path!r} holds no certificate")
    return {"cadata": "".join(_pem(c) for c in certificates)}


def load_identity(
    context: ssl.SSLContext, cert: str | tuple[str, str], password: str | None
) -> None:
    """Present ``cert`` (one PEM or PKCS#12 file, or a PEM certificate and key) as the
    client certificate of ``context``."""
    certificate, key = (cert, None) if isinstance(cert, str) else cert
    data = _read(certificate, "cert")
    if not _pkcs12(data, certificate, "cert"):
        _load_pem(context, certificate, key, password, data)
        return
    if key is not None:
        raise ConfigurationError(
            f"cert: {certificate!r} is not a PEM certificate; a PKCS#12 bundle holds its "
            "own key: give it alone, without a key file"
        )
    private_key, leaf, chain = _open_pkcs12(data, certificate, password, "cert")
    if private_key is None or leaf is None:
        raise ConfigurationError(
            f"cert: the PKCS#12 bundle {certificate!r} holds no private key and certificate "
            "(a CA's bundle, such as es-cert.p12, goes to verify=)"
        )
    from cryptography.hazmat.primitives import serialization

    one_time = secrets.token_urlsafe(32)
    encrypted = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time.encode()),
    )
    chain_pem = "".join(_pem(c) for c in [leaf, *chain]).encode()
    name = None
    try:
        # readable by this user alone; and the key in it is encrypted anyway
        descriptor, name = tempfile.mkstemp(prefix="es-pandas-", suffix=".pem")
        with os.fdopen(descriptor, "wb") as file:
            file.write(encrypted + chain_pem)
        context.load_cert_chain(name, password=one_time)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cert: cannot use the key and certificate of {certificate!r}: {_reason(exc)}"
        ) from None
    finally:
        if name is not None:
            os.unlink(name)


def _load_pem(
    context: ssl.SSLContext, certificate: str, key: str | None, password: str | None, data: bytes
) -> None:
    asked = False

    def give_password() -> str:
        nonlocal asked
        asked = True
        if password is None:
            # Without this, OpenSSL would prompt on the terminal.
            raise ConfigurationError(
                f"cert: the private key in {key or certificate!r} is encrypted: pass its "
                f"password as {_PASSWORDS['cert']}"
            )
        return password

    try:
        context.load_cert_chain(certificate, key, password=give_password)
    except (OSError, ssl.SSLError) as exc:
        reason = (
            f"wrong password in {_PASSWORDS['cert']}"
            if asked
            else _mismatch(exc, data, key) or _reason(exc)
        )
        raise ConfigurationError(
            f"cert: cannot load the client certificate {certificate!r}"
            + (f" with key {key!r}" if key else "")
            + f": {reason}"
        ) from None


def _mismatch(exc: OSError | ssl.SSLError, data: bytes, key: str | None) -> str | None:
    """What is wrong with a PEM certificate (``data``) and key that go together badly, in
    words (OpenSSL says "PEM lib" of a missing key or certificate)."""
    if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
        return "the key is not this certificate's: give the key issued with it"
    if b"CERTIFICATE-----" not in data:
        return "it holds no certificate" + (
            ": are the certificate and its key swapped?" if key is not None else ""
        )
    try:
        key_data = data if key is None else Path(key).read_bytes()
    except OSError:
        return None
    if b"PRIVATE KEY-----" in key_data:
        return None
    if key is None:
        return (
            "it holds no private key: pass its key file as well, cert=(certificate, key) "
            "(--client-key, ES_PANDAS_CLIENT_KEY)"
        )
    return "the key file holds no private key"


def _open_pkcs12(
    data: bytes, path: str, password: str | None, setting: str
) -> tuple[PrivateKey | None, x509.Certificate | None, list[x509.Certificate]]:
    """The key, certificate and other certificates of a PKCS#12 bundle."""
    try:
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError:
        raise ConfigurationError(
            f"{setting}: {path!r} is a PKCS#12 bundle; {_PKCS12_EXTRA}"
        ) from None
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(
            data, None if password is None else password.encode()
        )
    except ValueError:
        # cryptography says the same of a wrong password and of a damaged bundle
        problem = (
            f"wrong password in {_PASSWORDS[setting]}"
            if password is not None
            else f"it is protected by a password: pass it as {_PASSWORDS[setting]}"
        )
        raise ConfigurationError(
            f"{setting}: cannot open the PKCS#12 bundle {path!r}: {problem} (or the file "
            "is damaged)"
        ) from None
    return key, certificate, list(chain)


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{setting}: cannot read {path!r}: {exc.strerror}") from None


def _pkcs12(data: bytes, path: str, setting: str) -> bool:
    """Whether ``data`` is PKCS#12 (else it is PEM), or one clear error."""
    # PFX ::= SEQUENCE { version INTEGER (3), ... }: 30 <length> 02 01 03, the length
    # in one byte, or 0x8n and n more bytes (0x80: BER's indefinite length)
    start = 2 + (data[1] & 0x7F if len(data) > 1 and data[1] & 0x80 else 0)
    if data[:1] == b"\x30" and data[start : start + 3] == b"\x02\x01\x03":
        return True
    if b"-----BEGIN" not in data:
        raise ConfigurationError(
            f"{setting}: {path!r} is neither a PEM file (-----BEGIN CERTIFICATE-----) nor "
            f"a PKCS#12 bundle{_looks_like(data)}"
        )
    return False


def _looks_like(data: bytes) -> str:
    """What a file that is neither PEM nor PKCS#12 may be instead, and how to fix it:
    the two ways a certificate is commonly saved wrong."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"-\x00-\x00-\x00" in data:
        return ": it is UTF-16 text (as PowerShell 5's > writes it): save it as UTF-8"
    try:
        decoded = base64.b64decode(b"".join(data.split()), validate=True)
    except ValueError:
        return ""
    if b"-----BEGIN" in decoded:
        return (
            ": it is a PEM file encoded once more in base64 (as kubectl get secret -o "
            "jsonpath prints it): decode it first, base64 -d FILE > es-cert.pem"
        )
    return ""


def _pem(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def _reason(exc: OSError | ssl.SSLError) -> str:
    return str(getattr(exc, "reason", None) or exc.strerror or exc)

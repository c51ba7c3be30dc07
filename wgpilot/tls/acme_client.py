"""ACME (RFC 8555) issuance with HTTP-01 through the ``acme`` package.

The ``acme`` client is synchronous (requests); the manager runs these functions in a
thread. The account key is a P-256 key kept in ``<data_dir>/certs/acme-account.key``; the
account itself is looked up again from that key on every run (``newAccount`` answers
"exists" with its URL), so nothing else about it needs storing. Challenge responses go
into a ``ChallengeStore`` that the port-80 server (``http01.py``) answers from.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wgpilot.tls import certs

if TYPE_CHECKING:
    import josepy

# ``acme`` pulls in requests/urllib3 (~0.1 s of imports): loaded on first use, not at
# server start, since most servers never talk ACME.

ACCOUNT_KEY = "acme-account.key"


class AcmeError(Exception):
    """Issuance failed; the message says at which step and what the server answered."""


class ChallengeStore:
    """token → key authorization, shared between the ACME thread and the HTTP server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, str] = {}

    def put(self, token: str, value: str) -> None:
        with self._lock:
            self._items[token] = value

    def get(self, token: str) -> str | None:
        with self._lock:
            return self._items.get(token)

    def remove(self, token: str) -> None:
        with self._lock:
            self._items.pop(token, None)


@dataclass(frozen=True)
class AcmeConfig:
    directory: str
    ca_bundle: str  # "" = system trust store
    email: str
    certs_dir: Path
    user_agent: str = "wgpilot"
    timeout: float = 90.0

    @property
    def account_key_file(self) -> Path:
        return self.certs_dir / ACCOUNT_KEY

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_bundle or None)


def _account_key(cfg: AcmeConfig) -> josepy.JWKEC:
    import josepy

    path = cfg.account_key_file
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AcmeError(f"{path}: not an EC private key")
    else:
        key = certs.new_key()
        certs.atomic_write(path, certs.key_pem(key))
    return josepy.JWKEC(key=key)


def _describe(exc: BaseException) -> str:
    from acme import errors, messages

    if isinstance(exc, messages.Error):
        return f"{exc.typ}: {exc.detail}" if exc.detail else str(exc.typ)
    if isinstance(exc, errors.ValidationError):
        details = []
        for authzr in exc.failed_authzrs:
            for ch in authzr.body.challenges:
                if ch.error is not None:
                    details.append(f"{authzr.body.identifier.value}: {ch.error.detail or ch.error.typ}")
        return "challenge failed: " + ("; ".join(details) or "no detail")
    if isinstance(exc, errors.TimeoutError):
        return "the ACME server did not finish the order in time"
    return f"{type(exc).__name__}: {exc}"


def issue(cfg: AcmeConfig, domain: str, key_pem: bytes, store: ChallengeStore) -> bytes:
    """Order a certificate for ``domain`` with ``key_pem``; returns the full chain PEM."""
    import josepy
    from acme import challenges, client, crypto_util, errors, messages

    step = "reading the directory"
    tokens: list[str] = []
    try:
        jwk = _account_key(cfg)
        verify: Any = cfg.ca_bundle or True  # requests takes a CA bundle path as `verify`
        net = client.ClientNetwork(
            jwk, alg=josepy.ES256, verify_ssl=cast(bool, verify), user_agent=cfg.user_agent
        )
        directory = client.ClientV2.get_directory(cfg.directory, net)
        acme = client.ClientV2(directory, net)
        step = "registering the account"
        contact = (f"mailto:{cfg.email}",) if cfg.email else ()
        try:
            acme.new_account(
                messages.NewRegistration.from_data(terms_of_service_agreed=True, contact=contact)
            )
        except errors.ConflictError as exc:  # the key already has an account: use it
            net.account = messages.RegistrationResource(uri=exc.location, body=messages.Registration())
        step = "creating the order"
        order = acme.new_order(crypto_util.make_csr(key_pem, [domain]))
        step = "answering the HTTP-01 challenge"
        for authz in order.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue  # the CA reuses a recent validation (renewals): nothing to answer
            challb = next((c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)), None)
            if challb is None:
                raise AcmeError(f"the ACME server offers no HTTP-01 challenge for {domain}")
            response, validation = challb.response_and_validation(jwk)
            token = challb.chall.encode("token")
            store.put(token, validation)
            tokens.append(token)
            acme.answer_challenge(challb, response)
        step = "waiting for validation and the certificate"
        deadline = dt.datetime.now() + dt.timedelta(seconds=cfg.timeout)
        done = acme.poll_and_finalize(order, deadline)
        if not done.fullchain_pem:
            raise AcmeError("the ACME server returned no certificate")
        return done.fullchain_pem.encode()
    except AcmeError:
        raise
    except Exception as exc:  # requests, josepy and acme errors alike: one clear line
        raise AcmeError(f"ACME {step} at {cfg.directory} failed: {_describe(exc)}") from exc
    finally:
        for token in tokens:
            store.remove(token)


def probe_directory(cfg: AcmeConfig, timeout: float = 10.0) -> dict[str, Any]:
    """GET the directory document (with the configured CA bundle); raises AcmeError."""
    request = urllib.request.Request(cfg.directory, headers={"User-Agent": cfg.user_agent})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=cfg.ssl_context()) as resp:  # noqa: S310
            doc = json.loads(resp.read(256 * 1024))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AcmeError(f"cannot reach the ACME directory {cfg.directory}: {reason}") from None
    if not isinstance(doc, dict) or "newOrder" not in doc:
        raise AcmeError(f"{cfg.directory} is not an ACME directory (no newOrder)")
    return doc

"""Test helpers: Google identities that need no network: service-account key files made here
(their tokens come from the fake Vertex service's token endpoint) and ready access tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import credentials as oauth2_credentials


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceAccount:
    email: str
    key_file: str
    """The JSON key file, as the console's "Add key, JSON" downloads it."""
    public_pem: bytes


def service_account(
    project: str = "acme-ml", name: str = "ftbot", token_uri: str = ""
) -> ServiceAccount:
    """A new service account's JSON key (a fresh RSA key; `token_uri` as the file names it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = f"{name}@{project}.iam.gserviceaccount.com"
    document = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private,
        "client_email": email,
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri or "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    }
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ServiceAccount(email=email, key_file=json.dumps(document, indent=2), public_pem=public)


def static_token(token: str) -> oauth2_credentials.Credentials:
    """Credentials holding a ready access token: never refreshed, no metadata server asked."""
    return oauth2_credentials.Credentials(token=token)  # type: ignore[no-untyped-call]

"""Who is asking: a visitor's identity, signed so that it cannot be forged, and what they may do.

A visitor without a login gets a random id, kept by their browser in a
cookie as `<id>.<signature>`. The signature is an HMAC with a server secret,
so an edited cookie fails verification and its holder becomes a new visitor:
never someone else. With Streamlit's login on, the logged-in user is the
identity instead. No Streamlit here (ui/common/identity.py reads cookies and users).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRET_NAME = ".visitor-secret"


@dataclass(frozen=True)
class Viewer:
    id: str  # "v:<random>" for a visitor, "u:<email or subject>" for a logged-in user
    admin: bool = False
    address: str | None = None  # the client address (limits per address), when known

    @property
    def short(self) -> str:
        return self.id.split(":", 1)[-1][:8]


def server_secret(folder: str | os.PathLike) -> bytes:
    """The signing key: kept beside the runs, so identities survive a server restart."""
    path = Path(folder) / SECRET_NAME
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key
    except FileExistsError:  # another process wrote it first
        return path.read_bytes()


def _sign(secret: bytes, visitor_id: str) -> str:
    return hmac.new(secret, visitor_id.encode(), hashlib.sha256).hexdigest()[:32]


def new_token(secret: bytes) -> tuple[str, str]:
    """(visitor id, cookie value) for a new visitor."""
    visitor_id = "v:" + secrets.token_hex(12)
    return visitor_id, f"{visitor_id}.{_sign(secret, visitor_id)}"


def verify_token(secret: bytes, token: str | None) -> str | None:
    """The visitor id a cookie value proves, or None (missing, malformed or forged)."""
    if not token or "." not in token:
        return None
    visitor_id, _, signature = token.rpartition(".")
    if not visitor_id.startswith("v:"):
        return None
    return visitor_id if hmac.compare_digest(signature, _sign(secret, visitor_id)) else None


def is_admin_token(given: str | None, configured: str) -> bool:
    return bool(configured) and bool(given) and hmac.compare_digest(given, configured)


def over_https(page_url: str | None, forwarded_proto: list[str]) -> bool:
    """Whether the browser reached the page over HTTPS: its own URL says so, or a proxy
    that terminates TLS said so in X-Forwarded-Proto (its first hop: the client's)."""
    if isinstance(page_url, str) and page_url.lower().startswith("https:"):
        return True
    hops = [h.strip().lower() for value in forwarded_proto for h in value.split(",") if h.strip()]
    return bool(hops) and hops[0] == "https"


def cookie_attributes(max_age: int, secure: bool) -> str:
    """The visitor cookie's attributes. `Secure` over HTTPS: the browser then never sends
    the cookie over plain HTTP, where anyone on the network could read it."""
    return f"path=/; max-age={max_age}; SameSite=Lax" + ("; Secure" if secure else "")


def can_control(viewer: Viewer, owner: str) -> bool:
    """Stop, resume, delete, download, use: the owner's and the admin's."""
    return viewer.admin or viewer.id == owner


def can_see(viewer: Viewer, owner: str, show_others: bool) -> bool:
    return show_others or can_control(viewer, owner)


LOCAL = "local"  # the address of a connection from this machine (Streamlit reports none)
NEW_VISITOR_WINDOW = 3600.0  # max_new_visitors_per_address counts ids made in this window


def client_address(connection: str | None, forwarded_for: list[str], trusted_proxies: int) -> str:
    """Who is asking, as an address to key limits on.

    `connection` is the address of the TCP peer (None from this machine), `forwarded_for`
    the X-Forwarded-For hops in order (each proxy appends the address it got the request
    from). Behind `trusted_proxies` proxies, the client is the hop that many from the end:
    anything before it was written by the client, who may have forged it. A request with
    fewer hops did not come through the proxies; its own connection counts.
    """
    if trusted_proxies > 0 and len(forwarded_for) >= trusted_proxies:
        return forwarded_for[-trusted_proxies]
    return connection or LOCAL


def address_visitor(secret: bytes, address: str) -> str:
    """The one visitor id that every cookie-less session from an address shares once the
    address has had its new ids for the hour: a script that drops its cookie gets this id
    back, with this id's limits. Never written into a cookie."""
    return "v:addr-" + _sign(secret, "address:" + address)[:16]

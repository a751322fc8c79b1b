"""Password hashing with scrypt (from the standard library), and token digests.

A password is stored as ``scrypt$N$r$p$salt$hash`` (salt and hash in base64), so the
cost can be raised later and old hashes still verify. N=2**15, r=8, p=1 costs about
32 MiB and a tenth of a second per check on a laptop: slow enough that a stolen
database is expensive to guess through, quick enough for a class signing in at
once. Session tokens are random (192 bits), so a plain SHA-256 is enough to store
them: the database never holds a token that would let its reader sign in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEMORY = 64 * 1024 * 1024
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
"""Long passphrases are welcome; a megabyte "password" is a way to burn the CPU."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (a `hash_password` result), in constant time."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Checked against when the user does not exist, so a wrong name costs as long as a
    wrong password and the answer's timing does not tell which names have accounts."""
    return hash_password(secrets.token_urlsafe(16))


def token_digest(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_password(password: str) -> None:
    """Raise ValueError, with a reason for a person, for a password not worth keeping."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"a password can be at most {MAX_PASSWORD_CHARS} characters")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=MAX_MEMORY,
        dklen=KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

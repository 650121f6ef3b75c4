"""A non-Node backend verifying latchkey access tokens through JWKS with PyJWT.

Usage: verify_pyjwt.py BASE_URL ISSUER AUDIENCE  (tokens on stdin, one per line)
Prints one JSON line per token: {"ok": true, "sub": ..., "sid": ...} or {"ok": false, "error": ...}.
"""
import json
import sys

import jwt

base_url, issuer, audience = sys.argv[1], sys.argv[2], sys.argv[3]
jwks = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json")

for line in sys.stdin:
    token = line.strip()
    if not token:
        continue
    try:
        # typ is checked by hand: PyJWT verifies signature and claims, not the header type, and an
        # ID token must never pass for an access token (RFC 9068 section 4, RFC 8725 section 3.11).
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "at+jwt":
            raise jwt.InvalidTokenError("typ is not at+jwt")
        key = jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["EdDSA", "ES256", "RS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        print(json.dumps({"ok": True, "sub": claims["sub"], "sid": claims["sid"], "role": claims.get("role")}), flush=True)
    except Exception as error:  # noqa: BLE001 - report any refusal
        print(json.dumps({"ok": False, "error": type(error).__name__}), flush=True)

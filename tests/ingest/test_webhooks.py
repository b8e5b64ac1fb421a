"""Sender authentication: the published GitHub vector, every accepted digest form, and what is refused."""
import base64
import hashlib
import hmac

import pytest

from app.ingest.webhooks import Refused, authenticate, signature_matches

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_HEX = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
GITHUB_B64 = base64.b64encode(bytes.fromhex(GITHUB_HEX)).decode()


@pytest.mark.parametrize("header", [
    "sha256=" + GITHUB_HEX,
    GITHUB_HEX,
    GITHUB_HEX.upper(),
    "SHA256=" + GITHUB_HEX,
    "HMAC " + GITHUB_HEX,
    GITHUB_B64,
    "sha256=" + GITHUB_B64,
    "HMAC " + GITHUB_B64,
    base64.urlsafe_b64encode(bytes.fromhex(GITHUB_HEX)).decode().rstrip("="),
    "  sha256=%s  " % GITHUB_HEX,
])
def test_the_github_test_vector_verifies_in_every_accepted_form(header):
    assert signature_matches(GITHUB_SECRET, GITHUB_BODY, header)
    assert authenticate(GITHUB_SECRET, GITHUB_BODY, signature=header) == "hmac"


@pytest.mark.parametrize("secret, body, header", [
    (GITHUB_SECRET, b"Hello, World!\n", "sha256=" + GITHUB_HEX),  # one byte more
    ("It's a secret to everybody", GITHUB_BODY, "sha256=" + GITHUB_HEX),  # another secret
    (GITHUB_SECRET, GITHUB_BODY, "sha256=" + GITHUB_HEX[:-2]),  # truncated
    (GITHUB_SECRET, GITHUB_BODY, "sha1=" + GITHUB_HEX),  # another algorithm's prefix
    (GITHUB_SECRET, GITHUB_BODY, "sha256="),
    (GITHUB_SECRET, GITHUB_BODY, "not base64 at all!"),
    (GITHUB_SECRET, GITHUB_BODY, base64.b64encode(b"x" * 31).decode()),
])
def test_wrong_or_malformed_signatures_are_refused(secret, body, header):
    assert not signature_matches(secret, body, header)
    with pytest.raises(Refused) as refused:
        authenticate(secret, body, signature=header)
    assert refused.value.status == 401


def test_static_secrets_in_the_header_or_the_query():
    secret = "a-static-secret-of-some-length"
    assert authenticate(secret, b"{}", authorization="Bearer " + secret) == "bearer"
    assert authenticate(secret, b"{}", authorization="bearer " + secret) == "bearer"
    assert authenticate(secret, b"{}", query_token=secret) == "token"
    for kwargs in ({"authorization": "Bearer nope"}, {"authorization": "Basic " + secret}, {"query_token": "nope"}, {}):
        with pytest.raises(Refused) as refused:
            authenticate(secret, b"{}", **kwargs)
        assert refused.value.status == 401


def test_a_present_signature_must_verify_even_with_a_valid_static_secret():
    secret = "a-static-secret-of-some-length"
    body = b'{"a": 1}'
    good = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert authenticate(secret, body, signature=good, authorization="Bearer wrong") == "hmac"
    with pytest.raises(Refused):
        authenticate(secret, body, signature="sha256=" + "0" * 64, authorization="Bearer " + secret)

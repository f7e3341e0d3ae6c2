#!/usr/bin/env python3
"""Prints one "name token" line per JWT of the attack set, built here with
Python's own hmac/base64 (independently of ARK's code). Usage:
attack_tokens.py SECRET NOW"""
import base64, hashlib, hmac, json, sys

secret, now = sys.argv[1].encode(), int(sys.argv[2])
def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
def part(obj): return b64(json.dumps(obj, separators=(",", ":")).encode())
def sign(header, payload, key=secret, digest=hashlib.sha256):
    signing = part(header) + "." + part(payload)
    return signing + "." + b64(hmac.new(key, signing.encode(), digest).digest())
ok = {"sub": "t", "scope": "signals:write", "exp": now + 600}
hs = {"alg": "HS256", "typ": "JWT"}
good = sign(hs, ok)
head, pay, sig = good.split(".")
tampered_pay = part({"sub": "t", "scope": "signals:write admin", "exp": now + 600})
cases = {
    "alg_none": part({"alg": "none", "typ": "JWT"}) + "." + part(ok) + ".",
    "alg_none_signed": sign({"alg": "none"}, ok),
    "hs512": sign({"alg": "HS512", "typ": "JWT"}, ok, digest=hashlib.sha512),
    "rs256_secret_as_key": sign({"alg": "RS256", "typ": "JWT"}, ok),
    "wrong_key": sign(hs, ok, key=b"not-the-secret-not-the-secret-xx"),
    "empty_signature": head + "." + pay + ".",
    "truncated_signature": good[:-2],
    "expired": sign(hs, {"scope": "signals:write", "exp": now - 3600}),
    "not_yet_valid": sign(hs, {"scope": "signals:write", "exp": now + 3600, "nbf": now + 1800}),
    "tampered_payload": head + "." + tampered_pay + "." + sig,
    "padding": good + "==",
    "non_base64url": head.replace(head[3], "+", 1) + "." + pay + "." + sig,
    "oversized": sign(hs, dict(ok, pad="x" * 6000)),
    "no_exp": sign(hs, {"scope": "signals:write"}),
    "four_parts": good + ".e30",
}
for name, token in cases.items():
    print(name, token)

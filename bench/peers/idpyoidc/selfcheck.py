#!/usr/bin/env python3
"""End-to-end check of the idpyoidc peer. Run it with the venv's python:

    VENV/bin/python bench/peers/idpyoidc/selfcheck.py [-v]

It makes a client key pair (RSA + EC) and a self-signed certificate in a temporary directory,
starts three peers on free 127.0.0.1 ports (http; https; http with --accept-issuer-aud
--require-response-type), checks them with requests (and curl, if present), stops them by pid,
and ends with 'N passed, N failed'. Exit status 0 only if nothing failed.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import parse_qs
from urllib.parse import urlparse

import requests
from cryptojwt.jwk.ec import new_ec_key
from cryptojwt.jwk.rsa import new_rsa_key
from cryptojwt.jws.jws import JWS

HERE = os.path.dirname(os.path.abspath(__file__))
REDIRECT = "https://client.example.org/cb"
BASIC = ("basic-client", "basic-secret")
JWT_CLIENT = "jwt-client"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PAR_BODY_RE = re.compile(r'^\{"request_uri": "urn:uuid:[0-9a-f-]{36}", "expires_in": \d+\}$')

passed = failed = 0
verbose = False


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        if verbose:
            print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    def __init__(self, tmp, label, extra, tls=None):
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.label = label
        args = [sys.executable, os.path.join(HERE, "server.py"), "--host", "127.0.0.1",
                "--port", str(self.port), "--issuer", self.base, "--redirect-uri", REDIRECT,
                "--basic-client-id", BASIC[0], "--basic-client-secret", BASIC[1],
                "--jwt-client-id", JWT_CLIENT,
                "--jwt-client-jwks", os.path.join(tmp, "client-public.jwks")] + extra
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.err = open(os.path.join(tmp, f"{label}.stderr"), "w+")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, text=True)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("ready"):
                return True
            if self.proc.poll() is not None:
                break
        self.err.seek(0)
        print(f"peer {self.label} did not start: {line!r}\n{self.err.read()}")
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce():
    verifier = b64(secrets.token_bytes(32))
    return verifier, b64(hashlib.sha256(verifier.encode()).digest())


def assertion(key, alg, aud, jti=True, lifetime=60):
    now = int(time.time())
    claims = {"iss": JWT_CLIENT, "sub": JWT_CLIENT, "aud": aud, "iat": now, "exp": now + lifetime}
    if jti:
        claims["jti"] = str(uuid.uuid4())
    return JWS(json.dumps(claims), alg=alg).sign_compact([key])


def par_form(state, challenge, client_id):
    return {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
            "scope": "openid", "state": state, "code_challenge": challenge,
            "code_challenge_method": "S256"}


def run_checks(peer, keys, verify, expect_issuer_aud, stock_authorize, curl_ca):
    B = peer.base
    tag = peer.label
    s = requests.Session()
    s.trust_env = False  # else REQUESTS_CA_BUNDLE etc. override s.verify
    s.verify = verify
    rsa, ec = keys

    # metadata
    r = s.get(B + "/.well-known/oauth-authorization-server")
    meta = r.json() if r.status_code == 200 else {}
    check(f"{tag} metadata 200", r.status_code == 200, r.status_code)
    check(f"{tag} metadata issuer", meta.get("issuer") == B, meta.get("issuer"))
    check(f"{tag} metadata PAR endpoint",
          meta.get("pushed_authorization_request_endpoint") == B + "/par",
          meta.get("pushed_authorization_request_endpoint"))

    # client_secret_basic push
    verifier, challenge = pkce()
    r = s.post(B + "/par", data=par_form("st-basic", challenge, BASIC[0]), auth=BASIC)
    check(f"{tag} PAR basic 201", r.status_code == 201, (r.status_code, r.text))
    check(f"{tag} PAR body is idpyoidc's json.dumps", PAR_BODY_RE.match(r.text), r.text)
    check(f"{tag} PAR content-type", r.headers.get("content-type")
          == "application/json; charset=utf-8", r.headers.get("content-type"))
    check(f"{tag} PAR no-store", r.headers.get("cache-control") == "no-store",
          r.headers.get("cache-control"))
    basic_uri = r.json().get("request_uri") if r.status_code == 201 else None

    r = s.post(B + "/par", data=par_form("x", challenge, BASIC[0]), auth=(BASIC[0], "wrong"))
    check(f"{tag} PAR basic wrong secret 401", r.status_code == 401
          and r.json().get("error") == "invalid_client", (r.status_code, r.text))
    r = s.post(B + "/par", data=dict(par_form("x", challenge, BASIC[0]),
                                     redirect_uri="https://evil.example/cb"), auth=BASIC)
    check(f"{tag} PAR unregistered redirect_uri 400", r.status_code == 400
          and r.json().get("error") == "invalid_request", (r.status_code, r.text))

    # private_key_jwt pushes
    def jwt_push(a, state="st-jwt"):
        return s.post(B + "/par", data=dict(par_form(state, challenge, JWT_CLIENT),
                                            client_assertion_type=ASSERTION_TYPE,
                                            client_assertion=a))

    a = assertion(rsa, "RS256", B + "/par")
    r = jwt_push(a)
    check(f"{tag} PAR private_key_jwt RS256 aud=PAR URL 201", r.status_code == 201
          and PAR_BODY_RE.match(r.text), (r.status_code, r.text))
    jwt_uri = r.json().get("request_uri") if r.status_code == 201 else None
    r = jwt_push(a)
    check(f"{tag} PAR replayed assertion (same jti) 401", r.status_code == 401, r.status_code)
    for key, alg in ((rsa, "PS256"), (ec, "ES256")):
        r = jwt_push(assertion(key, alg, B + "/par"))
        check(f"{tag} PAR private_key_jwt {alg} 201", r.status_code == 201,
              (r.status_code, r.text))
    r = jwt_push(assertion(rsa, "RS256", [B, B + "/par"]))
    check(f"{tag} PAR aud=[issuer, PAR URL] 201", r.status_code == 201, (r.status_code, r.text))
    r = jwt_push(assertion(rsa, "RS256", B))
    want = 201 if expect_issuer_aud else 401
    check(f"{tag} PAR aud=issuer {want}", r.status_code == want, (r.status_code, r.text))
    r = jwt_push(assertion(rsa, "RS256", B + "/token"))
    check(f"{tag} PAR aud=token endpoint 401", r.status_code == 401, r.status_code)
    r = jwt_push(assertion(rsa, "RS256", B + "/par", lifetime=-120))
    check(f"{tag} PAR expired assertion 401", r.status_code == 401, r.status_code)

    # /authorize with client_id + request_uri
    def authorize(client_id, request_uri, **extra):
        return s.get(B + "/authorize", allow_redirects=False,
                     params=dict({"client_id": client_id, "request_uri": request_uri}, **extra))

    code = None
    if stock_authorize:
        r = authorize(BASIC[0], basic_uri)
        check(f"{tag} stock /authorize without response_type 400", r.status_code == 400
              and "response_type" in r.json().get("error_description", ""), (r.status_code,
                                                                               r.text))
        r = authorize(BASIC[0], basic_uri, response_type="code")
    else:
        r = authorize(BASIC[0], basic_uri)
    loc = r.headers.get("location", "")
    q = parse_qs(urlparse(loc).query)
    check(f"{tag} /authorize 302 to redirect_uri", r.status_code == 302
          and loc.startswith(REDIRECT + "?"), (r.status_code, loc or r.text))
    check(f"{tag} /authorize code+state+iss", q.get("code") and q.get("state") == ["st-basic"]
          and q.get("iss") == [B] and q.get("client_id") == [BASIC[0]], q)
    code = (q.get("code") or [None])[0]

    extra = {"response_type": "code"} if stock_authorize else {}
    r = authorize(BASIC[0], basic_uri, **extra)
    check(f"{tag} /authorize reused request_uri 400", r.status_code == 400 and r.json() ==
          {"error": "invalid_request", "error_description": "Got a request_uri I can not resolve"},
          (r.status_code, r.text))
    r = authorize(BASIC[0], "urn:uuid:" + str(uuid.uuid4()), **extra)
    check(f"{tag} /authorize unknown urn:uuid 400", r.status_code == 400
          and r.json().get("error") == "invalid_request", (r.status_code, r.text))
    r = authorize(BASIC[0], "urn:ietf:params:oauth:request_uri:" + "A" * 43, **extra)
    check(f"{tag} /authorize unknown non-uuid request_uri 400", r.status_code == 400
          and r.json().get("error") == "invalid_request", (r.status_code, r.text))
    r = authorize("no-such-client", "urn:uuid:" + str(uuid.uuid4()), **extra)
    check(f"{tag} /authorize unknown client 401", r.status_code == 401, (r.status_code, r.text))

    # Quirk: the request_uri is not bound to the client_id given at /authorize.
    r = authorize(BASIC[0], jwt_uri, **extra)
    q = parse_qs(urlparse(r.headers.get("location", "")).query)
    check(f"{tag} /authorize other client's request_uri: 302 for the pushing client",
          r.status_code == 302 and q.get("client_id") == [JWT_CLIENT], (r.status_code, q))

    # token endpoint (PKCE S256)
    if code:
        r = s.post(B + "/token", auth=BASIC, data={"grant_type": "authorization_code",
                                                    "code": code, "redirect_uri": REDIRECT,
                                                    "code_verifier": verifier})
        check(f"{tag} /token with PKCE 200", r.status_code == 200
              and "access_token" in r.json(), (r.status_code, r.text[:200]))

    # raw bytes with curl
    if shutil.which("curl"):
        cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-u", ":".join(BASIC),
               "-d", "response_type=code", "-d", f"client_id={BASIC[0]}",
               "-d", f"redirect_uri={REDIRECT}", "-d", "scope=openid", B + "/par"]
        if curl_ca:
            cmd[1:1] = ["--cacert", curl_ca]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        body, _, status = out.stdout.rpartition("\n")
        check(f"{tag} curl PAR 201 raw body", status == "201" and PAR_BODY_RE.match(body),
              (out.stdout, out.stderr))
        if verbose:
            print(f"     curl: {status} {body}")


def main():
    global verbose
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", "--verbose", action="store_true")
    verbose = ap.parse_args().verbose

    tmp = tempfile.mkdtemp(prefix="idpy-peer-check-")
    rsa = new_rsa_key(key_size=2048, kid="rsa1", use="sig")
    ec = new_ec_key("P-256", kid="ec1", use="sig")
    with open(os.path.join(tmp, "client-public.jwks"), "w") as f:
        json.dump({"keys": [rsa.serialize(private=False), ec.serialize(private=False)]}, f)
    subprocess.run([os.path.join(HERE, "make-cert"), tmp], check=True)
    tls = (os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem"))

    peers = [
        # (peer, CA file for https, accepts aud=issuer, stock /authorize)
        (Peer(tmp, "http", []), None, False, False),
        (Peer(tmp, "https", [], tls=tls), tls[0], False, False),
        (Peer(tmp, "http-issaud-stockauthz", ["--accept-issuer-aud", "--require-response-type"]),
         None, True, True),
    ]
    try:
        for peer, ca, issuer_aud, stock in peers:
            if not peer.wait_ready():
                check(f"{peer.label} started", False, "see above")
                continue
            try:
                run_checks(peer, (rsa, ec), ca or True, expect_issuer_aud=issuer_aud,
                           stock_authorize=stock, curl_ca=ca)
            except Exception as exc:  # a crash is a failed check, the other peers still run
                check(f"{peer.label} checks ran to the end", False, repr(exc))
    finally:
        for peer, *_ in peers:
            peer.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

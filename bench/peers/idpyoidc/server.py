#!/usr/bin/env python3
"""An independent RFC 9126 (PAR) authorization server for testing parbench.

All OAuth logic is idpyoidc's (idpyoidc.server): client authentication, request
validation, the pushed-request store, the authorization endpoint and the JSON it
writes. This file only wires idpyoidc's endpoints to HTTP (Starlette + uvicorn)
and registers two clients. See README.md.
"""
import argparse
import json
import logging
import shutil
import sys
import tempfile

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import Route

from idpyoidc.message import OPTIONAL_LIST_OF_SP_SEP_STRINGS
from idpyoidc.message.oauth2 import AuthorizationRequest
from idpyoidc.message.oauth2 import ResponseMessage
from idpyoidc.server import ASConfiguration
from idpyoidc.server import Server
from idpyoidc.server.exception import ClientAuthenticationError
from idpyoidc.server.exception import InvalidClient
from idpyoidc.server.exception import UnAuthorizedClient
from idpyoidc.server.exception import UnknownClient
from idpyoidc.server.oauth2.add_on.pkce import CC_METHOD

log = logging.getLogger("parpeer")

CLIENT_AUTH_ERRORS = (ClientAuthenticationError, InvalidClient, UnAuthorizedClient, UnknownClient)


# --------------------------------------------------------------------------- configuration

class PushedRefAuthorizationRequest(AuthorizationRequest):
    """idpyoidc's AuthorizationRequest with response_type optional.

    Stock idpyoidc validates the /authorize query against AuthorizationRequest (response_type
    REQUIRED, the OpenID Connect rule) before it resolves request_uri, so an RFC 9126 §4 request
    (client_id + request_uri only) gets 400 "Missing required attribute 'response_type'".
    Endpoints take a request_cls option; this one only relaxes that parameter: the pushed
    request, with its response_type, replaces the query once request_uri is resolved.
    --require-response-type keeps the stock class.
    """

    c_param = dict(AuthorizationRequest.c_param, response_type=OPTIONAL_LIST_OF_SP_SEP_STRINGS)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="idpyoidc-based RFC 9126 peer")
    p.add_argument("--config", help="JSON file; its keys are the long option names with '_' "
                   "(e.g. basic_client_id); command-line options override it")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--issuer", default=None,
                   help="default: http(s)://HOST:PORT (https when --tls-cert is given)")
    p.add_argument("--tls-cert", default=None)
    p.add_argument("--tls-key", default=None)
    p.add_argument("--redirect-uri", action="append", default=None,
                   help="registered redirect URI of both clients (repeatable)")
    p.add_argument("--basic-client-id", default=None)
    p.add_argument("--basic-client-secret", default=None)
    p.add_argument("--basic-client-auth-methods", default=None,
                   help="comma-separated methods the secret client may use at /par and /token "
                        "(default client_secret_basic; client_secret_post also possible)")
    p.add_argument("--jwt-client-id", default=None)
    p.add_argument("--jwt-client-jwks", default=None,
                   help="file with the private_key_jwt client's public JWKS ({\"keys\": [...]})")
    p.add_argument("--par-ttl", type=int, default=None,
                   help="expires_in announced for request_uris (idpyoidc's default 3600; "
                        "idpyoidc does not enforce it)")
    p.add_argument("--accept-issuer-aud", action="store_true", default=None,
                   help="also accept the issuer as client_assertion aud at /par "
                        "(stock idpyoidc accepts only the PAR endpoint URL)")
    p.add_argument("--require-response-type", action="store_true", default=None,
                   help="stock idpyoidc /authorize: response_type required in the query even "
                        "with a request_uri (default: RFC 9126 client_id + request_uri suffice)")
    p.add_argument("--user", default=None, help="the user every /authorize is authenticated as")
    p.add_argument("--log-level", default=None, help="default: warning")
    args = p.parse_args(argv)

    defaults = {
        "host": "127.0.0.1", "port": 8443, "issuer": None, "tls_cert": None, "tls_key": None,
        "redirect_uri": ["https://client.example.org/cb"],
        "basic_client_id": "basic-client", "basic_client_secret": "basic-secret",
        "jwt_client_id": "jwt-client", "jwt_client_jwks": None,
        "basic_client_auth_methods": "client_secret_basic",
        "par_ttl": 3600, "accept_issuer_aud": False, "require_response_type": False,
        "user": "testuser", "log_level": "warning",
    }
    file_conf = {}
    if args.config:
        with open(args.config) as f:
            file_conf = json.load(f)
        unknown = set(file_conf) - set(defaults)
        if unknown:
            p.error(f"unknown keys in {args.config}: {sorted(unknown)}")
    conf = {}
    for key, val in defaults.items():
        cli = getattr(args, key)
        conf[key] = cli if cli is not None else file_conf.get(key, val)
    methods = conf["basic_client_auth_methods"]
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if not methods or set(methods) - {"client_secret_basic", "client_secret_post"}:
        p.error("--basic-client-auth-methods: client_secret_basic and/or client_secret_post")
    conf["basic_client_auth_methods"] = methods
    if isinstance(conf["redirect_uri"], str):
        conf["redirect_uri"] = [conf["redirect_uri"]]
    if bool(conf["tls_cert"]) != bool(conf["tls_key"]):
        p.error("--tls-cert and --tls-key go together")
    if not conf["issuer"]:
        scheme = "https" if conf["tls_cert"] else "http"
        conf["issuer"] = f"{scheme}://{conf['host']}:{conf['port']}"
    conf["issuer"] = conf["issuer"].rstrip("/")
    return conf


def idpy_config(conf):
    """The idpyoidc server configuration: an OAuth 2.0 AS with PAR, no files on disk."""
    enc_keys = lambda *kids: {"keys": {"key_defs": [{"type": "OCT", "use": ["enc"], "kid": k}
                                                    for k in kids]}}
    return {
        "issuer": conf["issuer"],
        "httpc_params": {"verify": False, "timeout": 4},
        # The AS's own signing keys, in memory only.
        "key_conf": {"key_defs": [{"type": "RSA", "use": ["sig"]},
                                  {"type": "EC", "crv": "P-256", "use": ["sig"]}]},
        "endpoint": {
            "provider_info": {
                "path": ".well-known/oauth-authorization-server",
                "class": "idpyoidc.server.oauth2.server_metadata.ServerMetadata",
                "kwargs": {"client_authn_method": None},
            },
            "pushed_authorization": {
                "path": "par",
                "class": "idpyoidc.server.oauth2.pushed_authorization.PushedAuthorization",
                "kwargs": {
                    "ttl": conf["par_ttl"],
                    "client_authn_method": ["client_secret_basic", "client_secret_post",
                                            "private_key_jwt"],
                },
            },
            "authorization": {
                "path": "authorize",
                "class": "idpyoidc.server.oauth2.authorization.Authorization",
                "kwargs": {
                    # At /authorize the client is identified by client_id only (RFC 9126 §4).
                    "client_authn_method": ["public"],
                    "response_types_supported": ["code"],
                    "response_modes_supported": ["query", "form_post"],
                    **({} if conf["require_response_type"]
                       else {"request_cls": PushedRefAuthorizationRequest}),
                },
            },
            "token": {
                "path": "token",
                "class": "idpyoidc.server.oauth2.token.Token",
                "kwargs": {
                    # idpyoidc's Token defaults to a JSON body; RFC 6749 §4.1.3 is a form.
                    "request_format": "urlencoded",
                    "client_authn_method": ["client_secret_basic", "client_secret_post",
                                            "private_key_jwt"],
                },
            },
        },
        # No real user: idpyoidc's NoAuthn authenticates everyone as a fixed test user.
        "authentication": {
            "anon": {
                "acr": "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
                "class": "idpyoidc.server.user_authn.user.NoAuthn",
                "kwargs": {"user": conf["user"]},
            }
        },
        "authz": {
            "class": "idpyoidc.server.authz.AuthzHandling",
            "kwargs": {"grant_config": {
                "usage_rules": {
                    "authorization_code": {"supports_minting": ["access_token", "refresh_token"],
                                           "max_usage": 1, "expires_in": 120},
                    "access_token": {"expires_in": 3600},
                    "refresh_token": {"supports_minting": ["access_token"], "expires_in": 86400},
                },
                "expires_in": 43200,
            }},
        },
        "token_handler_args": {
            "jwks_def": {"key_defs": [{"type": "oct", "bytes": 24, "use": ["enc"], "kid": "code"},
                                      {"type": "oct", "bytes": 24, "use": ["enc"], "kid": "token"},
                                      {"type": "oct", "bytes": 24, "use": ["enc"],
                                       "kid": "refresh"}]},
            "code": {"kwargs": {"lifetime": 120}},
            "token": {"kwargs": {"lifetime": 3600}},
            "refresh": {"kwargs": {"lifetime": 86400}},
        },
        "cookie_handler": {
            "class": "idpyoidc.server.cookie_handler.CookieHandler",
            "kwargs": {
                "keys": {"key_defs": [{"type": "OCT", "use": ["enc"], "kid": "enc"},
                                      {"type": "OCT", "use": ["sig"], "kid": "sig"}]},
                "name": {"session": "idpy_session", "register": "idpy_rp",
                         "session_management": "idpy_sman"},
            },
        },
        "session_params": {"encrypter": {"kwargs": enc_keys("password", "salt")}},
        "add_on": {
            "pkce": {
                "function": "idpyoidc.server.oauth2.add_on.pkce.add_support",
                # Only S256 (plain/S384/S512 are idpyoidc's other options); PKCE optional.
                "kwargs": {"essential": False,
                           "code_challenge_methods": {"S256": CC_METHOD["S256"]}},
            }
        },
        "scopes_to_claims": {"openid": ["sub"]},
        "allowed_scopes": ["openid"],
        "template_dir": None,
    }


def _authn_methods(*methods):
    """Per-endpoint client authentication (idpyoidc reads '<endpoint_name>_client_authn_method');
    /authorize stays open to the endpoint's own method ('public': client_id only)."""
    return {
        "pushed_authorization_request_endpoint_client_authn_method": list(methods),
        "token_endpoint_client_authn_method": list(methods),
        "token_endpoint_auth_method": methods[0],
    }


def _no_fetch(method, url, **kwargs):
    """idpyoidc's HTTP client, used for non-PAR request_uris: this peer never goes out."""
    raise ValueError(f"fetching {url} is disabled in this peer")


def build_server(conf):
    # idpyoidc writes its token keys to CWD/private/token_jwks.json (and would reuse them next
    # time): give it a scratch directory, gone once the keys are in memory.
    scratch = tempfile.mkdtemp(prefix="idpy-peer-")
    try:
        server = Server(ASConfiguration(conf=idpy_config(conf)), cwd=scratch, httpc=_no_fetch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ctx = server.context
    # Only pushed (urn:uuid:) request_uris: anything else would make idpyoidc GET the URI.
    # With this, idpyoidc itself answers "Someone is using request_uri which I'm not supporting".
    ctx.provider_info["request_uri_parameter_supported"] = False
    redirect_uris = [(u, {}) for u in conf["redirect_uri"]]
    common = {
        "redirect_uris": redirect_uris,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "allowed_scopes": ["openid"],
        "client_salt": "salt",
    }
    ctx.cdb[conf["basic_client_id"]] = dict(
        common, client_id=conf["basic_client_id"], client_secret=conf["basic_client_secret"],
        **_authn_methods(*conf["basic_client_auth_methods"]))
    if conf["jwt_client_jwks"]:
        with open(conf["jwt_client_jwks"]) as f:
            jwks = json.load(f)
        server.keyjar.import_jwks(jwks, conf["jwt_client_id"])
        ctx.cdb[conf["jwt_client_id"]] = dict(
            common, client_id=conf["jwt_client_id"], **_authn_methods("private_key_jwt"))
    if conf["accept_issuer_aud"]:
        # Endpoint.allowed_target_uris() maps "" to the issuer (as idpyoidc's userinfo does).
        server.endpoint["pushed_authorization"].allowed_targets.append("")
    return server


# --------------------------------------------------------------------------- HTTP glue

def _json_error(status, msg):
    """An error body serialised by idpyoidc itself (Message.to_json)."""
    return Response(msg.to_json(), status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8",
                             "Cache-Control": "no-store", "Pragma": "no-cache"})


def _to_http(info, status=200, redirect_status=302):
    """Turn idpyoidc's do_response() dict into an HTTP response, body untouched."""
    headers = {k: v for k, v in info.get("http_headers", []) if k.lower() != "content-type"}
    ctype = dict((k.lower(), v) for k, v in info.get("http_headers", [])).get("content-type")
    body = info["response"]
    if info.get("is_redirect"):
        resp = RedirectResponse(body, status_code=redirect_status, headers=headers)
    else:
        resp = Response(body, status_code=status, headers=headers, media_type=None)
        if ctype:
            resp.headers["content-type"] = ctype
    for c in info.get("cookie") or []:  # idpyoidc's session cookie, with its own flags
        resp.set_cookie(c["name"], c["value"], path="/", secure=bool(c.get("secure")),
                        httponly=bool(c.get("httponly")),
                        samesite=(c.get("samesite") or "lax").lower())
    return resp


def _http_info(request: Request):
    return {"headers": {k.lower(): v for k, v in request.headers.items()},
            "url": str(request.url), "method": request.method,
            "cookie": None}


def make_app(server):
    par = server.endpoint["pushed_authorization"]
    authz = server.endpoint["authorization"]
    meta = server.endpoint["server_metadata"]
    token = server.endpoint["token"]

    def _parse(endpoint, body, http_info):
        """parse_request; idpyoidc raises on some errors, map those like idpyoidc would."""
        try:
            return endpoint.parse_request(body, http_info=http_info), None
        except CLIENT_AUTH_ERRORS as err:
            return None, _json_error(401, ResponseMessage(error="invalid_client",
                                                          error_description=str(err)))
        except Exception as err:  # e.g. ValueError("Got a request_uri I can not resolve")
            log.info("parse_request failed: %r", err)
            return None, _json_error(400, endpoint.process_verify_error(err))

    async def par_endpoint(request: Request):
        body = (await request.body()).decode("utf-8")
        req, err = _parse(par, body, _http_info(request))
        if err:
            return err
        if isinstance(req, ResponseMessage) and "error" in req:
            return _json_error(400, req)
        try:
            args = par.process_request(req)
        except Exception as exc:
            log.info("PAR process_request failed: %r", exc)
            return _json_error(400, par.process_verify_error(exc))
        # idpyoidc returns {"http_response": {"request_uri":..., "expires_in":...}};
        # do_response serialises it with Message.to_json() (json.dumps defaults).
        info = par.do_response(response_args=args["http_response"], request=req)
        return _to_http(info, status=201)

    async def authorize_endpoint(request: Request):
        query = request.url.query
        http_info = _http_info(request)
        req, err = _parse(authz, query, http_info)
        if err:
            return err
        if isinstance(req, ResponseMessage) and "error" in req:
            return _json_error(400, req)
        try:
            args = authz.process_request(req, http_info=http_info)
        except Exception as exc:
            log.info("authorization process_request failed: %r", exc)
            return _json_error(400, authz.process_verify_error(exc))
        if isinstance(args, ResponseMessage) and "error" in args:
            return _json_error(400, args)
        if "http_response" in args:  # a login page (not with NoAuthn)
            return Response(args["http_response"], status_code=200, media_type="text/html")
        info = authz.do_response(request=req, **args)
        if info.get("response_placement") == "body":
            return _to_http(info)  # response_mode=form_post: an auto-submitting HTML form
        info["is_redirect"] = True
        return _to_http(info)

    async def token_endpoint(request: Request):
        body = (await request.body()).decode("utf-8")
        req, err = _parse(token, body, _http_info(request))
        if err:
            return err
        if isinstance(req, ResponseMessage) and "error" in req:
            return _json_error(400, req)
        try:
            args = token.process_request(req)
        except Exception as exc:
            log.info("token process_request failed: %r", exc)
            return _json_error(400, token.process_verify_error(exc))
        if isinstance(args, ResponseMessage) and "error" in args:
            return _json_error(400, args)
        return _to_http(token.do_response(request=req, **args))

    async def metadata_endpoint(request: Request):
        args = meta.process_request()
        info = meta.do_response(request={}, **args)
        return _to_http(info)

    routes = [
        Route("/par", par_endpoint, methods=["POST"]),
        Route("/authorize", authorize_endpoint, methods=["GET"]),
        Route("/token", token_endpoint, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", metadata_endpoint, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def main(argv=None):
    conf = parse_args(argv)
    level = getattr(logging, conf["log_level"].upper())
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("idpyoidc").setLevel(level)
    server = build_server(conf)
    app = make_app(server)

    uv_conf = uvicorn.Config(
        app, host=conf["host"], port=conf["port"], log_level=conf["log_level"].lower(),
        access_log=level <= logging.INFO, ssl_certfile=conf["tls_cert"],
        ssl_keyfile=conf["tls_key"], lifespan="off", loop="asyncio", http="h11")
    issuer = conf["issuer"]

    class ReadyServer(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)  # exits with status 3 if it cannot bind
            if self.started:
                print(f"ready {issuer}", flush=True)

    ReadyServer(uv_conf).run()


if __name__ == "__main__":
    main()

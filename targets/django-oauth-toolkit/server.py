"""A minimal Django project serving django-oauth-toolkit (DOT) on loopback, for authcheck.

DOT is an OAuth 2.0 provider; a session service needs a few things around it, which this file
adds as plainly as a Django shop would:

    POST /o/token/            DOT: password grant and refresh grant (public client "authcheck")
    POST /o/revoke_token/     DOT: RFC 7009 revocation
    POST /o/introspect/       DOT: RFC 7662 introspection
    GET  /me                  a protected resource answering with the token's user
    POST /users               user creation {username, password}  201 | 409 | 422
    POST /admin/users/<name>/disable|enable|unlock   (Bearer admin token)  204 | 404
    POST /__test/clock        {advance_seconds}: moves time for the whole process (time-machine)
    GET  /__test/clock        {now}
    POST /__test/reset        a fresh start: the database copied from --template again, the
                              clock back to its start (so one process serves many cases)

Usage: server.py --db FILE|NAME [--template FILE|NAME] [--postgres HOST:PORT:USER]
       [--access-ttl S] [--rotate 0|1] [--grace S] [--reuse-protection 0|1] [--make-template].
SQLite by default (--db is a file); with --postgres, --db and --template name databases of that
cluster (the instance's database is created from the template with CREATE DATABASE ...
TEMPLATE, and again on each reset). Binds 127.0.0.1 on a free port and prints its base URL as the
first line of stdout; exits when its stdin closes (the harness that started it is gone).
Loopback only: the test hooks must never face a network.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import time_machine

CLIENT_ID = "authcheck"
ADMIN_TOKEN = "authcheck-admin"
USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,150}\Z")
START = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True, help="the SQLite file, or the PostgreSQL database name")
    p.add_argument("--template", help="a migrated database to copy instead of migrating")
    p.add_argument(
        "--postgres",
        metavar="HOST:PORT:USER",
        help="use PostgreSQL (HOST may be a socket directory) instead of SQLite",
    )
    p.add_argument("--access-ttl", type=int, default=36000)
    p.add_argument("--rotate", type=int, default=1)
    p.add_argument("--grace", type=int, default=0)
    p.add_argument("--reuse-protection", type=int, default=0)
    p.add_argument("--make-template", action="store_true", help="migrate --db and exit")
    return p.parse_args()


def postgres(args, name=None):
    host, port, user = args.postgres.rsplit(":", 2)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name or args.db,
        "HOST": host,
        "PORT": port,
        "USER": user,
    }


def pg_admin(args, *statements):
    """Runs statements on the cluster's maintenance database (outside any transaction)."""
    import psycopg

    host, port, user = args.postgres.rsplit(":", 2)
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as c:
        for statement in statements:
            c.execute(statement)


def fresh_copy(args):
    """The instance's database, a copy of the migrated template."""
    if args.postgres:
        pg_admin(
            args,
            f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)',
            f'CREATE DATABASE "{args.db}" TEMPLATE "{args.template}"',
        )
    else:
        shutil.copyfile(args.template, args.db)


def configure(args):
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="authcheck-loopback-test-server",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "oauth2_provider",
        ],
        MIDDLEWARE=[],
        DATABASES={"default": postgres(args)} if args.postgres else {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": args.db,
                # Write transactions take the lock when they begin: with SQLite's default
                # (deferred) mode two concurrent refreshes both read, then both try to write,
                # and one fails with "database is locked" (a 500) whatever the timeout.
                "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
            }
        },
        # Fast hashing for a test server (the campaign logs in thousands of times).
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        OAUTH2_PROVIDER={
            "ACCESS_TOKEN_EXPIRE_SECONDS": args.access_ttl,
            "ROTATE_REFRESH_TOKEN": bool(args.rotate),
            "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": args.grace,
            "REFRESH_TOKEN_REUSE_PROTECTION": bool(args.reuse_protection),
            "SCOPES": {"read": "read"},
            "DEFAULT_SCOPES": ["read"],
        },
        # Server errors (a 500) go to stderr with their traceback; nothing else is logged.
        LOGGING={
            "version": 1,
            "disable_existing_loggers": True,
            "handlers": {"stderr": {"class": "logging.StreamHandler"}},
            "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
        },
    )
    import django

    django.setup()


def migrate():
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    Application.objects.create(
        name="authcheck",
        client_id=CLIENT_ID,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_PASSWORD,
        client_secret="",
    )


# ---- views -----------------------------------------------------------------------------


def answer(status, body=None):
    from django.http import HttpResponse

    return HttpResponse(
        b"" if body is None else json.dumps(body).encode(),
        status=status,
        content_type="application/json",
    )


def register(request):
    from django.contrib.auth.models import User
    from django.db import IntegrityError, transaction

    if request.method != "POST":
        return answer(405, {"error": "method_not_allowed"})
    try:
        body = json.loads(request.body or b"{}")
        username, password = body["username"], body["password"]
        assert isinstance(username, str) and isinstance(password, str)
    except Exception:
        return answer(400, {"error": "invalid_request"})
    if not USERNAME.match(username):
        return answer(422, {"error": "invalid_username"})
    if not 8 <= len(password) <= 128:
        return answer(422, {"error": "weak_password"})
    try:
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                return answer(409, {"error": "username_taken"})
            User.objects.create_user(username=username, password=password)
    except IntegrityError:
        return answer(409, {"error": "username_taken"})
    return answer(201, {"username": username})


def admin(request, username, action):
    from django.contrib.auth.models import User

    if request.method != "POST":
        return answer(405, {"error": "method_not_allowed"})
    if request.headers.get("Authorization") != f"Bearer {ADMIN_TOKEN}":
        return answer(401, {"error": "unauthorized"})
    user = User.objects.filter(username=username).first()
    if user is None:
        return answer(404, {"error": "unknown_user"})
    if action == "disable":
        user.is_active = False
    elif action == "enable":
        user.is_active = True
    # "unlock": there is no lockout to lift (see README: django-axes and the password grant)
    user.save()
    return answer(204)


def me(request):
    from oauth2_provider.oauth2_backends import get_oauthlib_core

    valid, r = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        return answer(401, {"error": "invalid_token"})
    return answer(200, {"username": r.user.username})


CLOCK = {}


def clock(request):
    if request.method == "POST":
        body = json.loads(request.body or b"{}")
        try:
            CLOCK["coordinates"].shift(datetime.timedelta(seconds=int(body["advance_seconds"])))
        except OverflowError:
            return answer(422, {"error": "beyond_the_calendar"})
        return answer(204)
    return answer(200, {"now": int(datetime.datetime.now(datetime.timezone.utc).timestamp())})


FILES = {}


def reset(request):
    from django.db import connections

    if request.method != "POST" or not FILES.get("template"):
        return answer(405, {"error": "method_not_allowed"})
    # Requests close their connections when they finish (CONN_MAX_AGE = 0); this one too,
    # before the database is replaced under it.
    connections.close_all()
    fresh_copy(FILES["args"])
    CLOCK["coordinates"].move_to(START)
    return answer(204)


def exit_when_orphaned():
    sys.stdin.read()
    os._exit(0)


def urls():
    from django.urls import include, path

    return [
        path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
        path("users", register),
        path("admin/users/<str:username>/<str:action>", admin),
        path("me", me),
        path("__test/clock", clock),
        path("__test/reset", reset),
    ]


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    args = parse_args()
    if args.postgres and args.make_template:
        pg_admin(args, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)', f'CREATE DATABASE "{args.db}"')
    if args.template and not args.make_template:
        fresh_copy(args)
        FILES.update(template=args.template, args=args)
    configure(args)
    # Time stands still except when the harness moves it.
    CLOCK["coordinates"] = time_machine.travel(START, tick=False).start()
    if args.make_template:
        migrate()
        return
    if not args.template:
        migrate()
    global urlpatterns
    urlpatterns = urls()
    from django.core.wsgi import get_wsgi_application

    httpd = make_server(
        "127.0.0.1", 0, get_wsgi_application(), server_class=Server, handler_class=QuietHandler
    )
    threading.Thread(target=exit_when_orphaned, daemon=True).start()
    print(f"http://127.0.0.1:{httpd.server_port}", flush=True)
    httpd.serve_forever()


urlpatterns = []

if __name__ == "__main__":
    main()

"""`greenai registry ...` and `greenai submit`: the command-line side of the registry."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from greenai.errors import GreenAIError

TOKEN_ENV = "GREENAI_REGISTRY_TOKEN"
DB_ENV = "GREENAI_REGISTRY_DB"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `registry` (serve, add-submitter, rerate, audit) and `submit` to the CLI."""
    p = sub.add_parser("registry", help="a registry of signed disclosures: serve, add-submitter")
    reg = p.add_subparsers(dest="action", required=True)

    def db(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--db",
            default=os.environ.get(DB_ENV, "registry.db"),
            help=f"SQLite file or postgresql:// URL (default ${DB_ENV} or registry.db)",
        )

    sp = reg.add_parser("serve", help="serve the registry over HTTP")
    db(sp)
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8750, help="TCP port (default 8750; 0: any)")
    sp.add_argument("--read", choices=("public", "token"), default="public", help="who may read")
    sp.add_argument("--max-upload-bytes", type=int, default=16 * 1024 * 1024)
    sp.add_argument("--per-minute", type=int, default=600, help="submissions a submitter a minute")
    sp.add_argument("--standard", default=None, help="the leaderboard's standard (shipped id)")
    sp.add_argument("--verbose", action="store_true", help="log every request to stderr")
    sp.set_defaults(func=_cmd_serve)

    sp = reg.add_parser("add-submitter", help="register a party and its key; prints its token")
    db(sp)
    sp.add_argument("name")
    sp.add_argument("--public-key", required=True, help="the party's Ed25519 key (PEM .pub)")
    sp.add_argument("--role", choices=("submit", "read"), default="submit")
    sp.set_defaults(func=_cmd_add_submitter)

    sp = reg.add_parser("rerate", help="grade distribution of the whole registry under a standard")
    db(sp)
    sp.add_argument("--standard", default=None, help="standard id or .toml (a draft)")
    sp.add_argument("--task", default=None)
    sp.add_argument("--provenance", default=None)
    sp.set_defaults(func=_cmd_rerate)

    sp = reg.add_parser("audit", help="print the audit log, newest first")
    db(sp)
    sp.add_argument("--limit", type=int, default=50)
    sp.set_defaults(func=_cmd_audit)

    p = sub.add_parser("submit", help="send signed disclosures to a registry")
    p.add_argument("files", nargs="+", help="signed disclosure files (greenai sign)")
    p.add_argument("--registry", required=True, help="the registry's URL")
    p.add_argument("--token", default=None, help=f"your API token (default ${TOKEN_ENV})")
    p.set_defaults(func=_cmd_submit)


def _open(db: str) -> Any:
    """Return the store at db, migrated; print what a migration did (once, when it runs)."""
    from greenai.registry.store import open_store

    store = open_store(db)
    for note in store.notes:
        print(f"greenai registry: {db}: {note}", file=sys.stderr)
    return store


def _cmd_serve(args: argparse.Namespace) -> int:
    from greenai.registry.server import Config, make_server

    store = _open(args.db)
    config = Config(args.read, args.max_upload_bytes, args.per_minute, args.standard)
    server = make_server(store, args.host, args.port, config, quiet=not args.verbose)
    print(f"greenai registry: serving {server.url} from {args.db}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _exit)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
    return 0


def _exit(*_: object) -> None:
    raise SystemExit(0)


def _cmd_add_submitter(args: argparse.Namespace) -> int:
    from greenai import disclosure

    key = disclosure.load_public_key(args.public_key)
    token = _open(args.db).add_submitter(args.name, key, args.role)
    print(f"{args.name}: {args.role}, key {key}")
    print(f"token (shown once, the registry keeps only its hash): {token}")
    return 0


def _cmd_rerate(args: argparse.Namespace) -> int:
    from greenai.registry.ratings import rerate
    from greenai.standard import load_standard

    std = load_standard(args.standard)
    result = rerate(_open(args.db), std, {"task": args.task, "provenance": args.provenance})
    read_s, rate_s = result["seconds"]["read"], result["seconds"]["rate"]
    print(
        f"{result['total']} disclosure(s) re-rated under {std.id} ({std.status}) in "
        f"{read_s + rate_s:.2f} s (read {read_s:.2f} s, rate {rate_s:.2f} s)"
    )
    for task, c in result["classes"].items():
        if c["rated"]:
            grades = " ".join(f"{g}:{n}" for g, n in c["grades"].items()) or "none"
            print(
                f"  {task:<22} {c['rated']:>9} results, graded {grades}, "
                f"not graded {c['not graded']}"
            )
    if result["unknown task"]:
        print(f"  {'(no task class)':<22} {result['unknown task']:>9}")
    if result["not re-indexed"]:
        print(
            f"  {result['not re-indexed']} not re-indexed: stored without a document, their "
            "work block is not known (rated as disclosing none; re-submit the documents)"
        )
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:

    for e in _open(args.db).audit_log(args.limit):
        print(
            f"{e['id']:>6} {e['at']} {e['submitter'] or '-':<16} {e['action']:<14} "
            f"{(e['sha256'] or '-')[:16]:<16} {e['detail']}"
        )
    return 0


def token_of(args: argparse.Namespace, required: bool) -> str | None:
    """Return --token, else $GREENAI_REGISTRY_TOKEN; GreenAIError if required and missing."""
    token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV)
    if required and not token:
        raise GreenAIError(f"give your API token: --token T or ${TOKEN_ENV}")
    return token


def _cmd_submit(args: argparse.Namespace) -> int:
    from greenai.registry import client

    token = token_of(args, required=True)
    assert token is not None
    worst = 0
    for path in args.files:
        answer = client.submit(args.registry, path, token)
        if answer.ok:
            body = answer.body
            print(f"{path}: {body['state']} ({body['status']}), sha256 {body['sha256']}")
        else:
            worst = 1
            print(f"{path}: refused (HTTP {answer.status}): {answer.reason}")
    return worst


@contextlib.contextmanager
def population_file(registry: str, token: str | None) -> Iterator[str]:
    """Yield the path of a population file (JSON lines) exported from a registry."""
    from greenai.registry import client

    with tempfile.TemporaryDirectory(prefix="greenai-registry-") as tmp:
        path = Path(tmp) / "registry.jsonl"
        n = client.export(registry, path, token=token)
        print(f"{registry}: {n} disclosure(s) exported", file=sys.stderr)
        yield str(path)


__all__ = ["add_commands", "population_file", "token_of"]

"""The response-signing stage: signed answers per second against the raw sign rate.

    python bench/response_signing.py --seconds 10
    python bench/response_signing.py --seconds 20 --blocks 10 --json bench/results/stage.json

What every answer to a verified call goes through, measured without HTTP around it:
`ccare.web.signed.SignedCalls` (the real middleware, with the platform keys of a real
`ccare` app on a fresh SQLite database) wraps a minimal ASGI app that answers a whoami-
shaped JSON body; each request arrives already verified (its `SignedCall` in the request
state, as the edge or the route leaves it). `--concurrency` requests are in flight at once
on one event loop, as on a busy server. RSA2 answers are signed on the signing threads
(one per core) beside the event loop; Ed25519 answers inline.

Figures, all against baselines measured in the same run, in this process, before and
after the stage phases (the higher of the two counts):

- RSA2 signed answers per second / (2 x the raw one-thread RSA2 sign rate): whether the
  stage keeps two cores signing (goal >= 0.70).
- Ed25519 against RSA2 by CPU per signed answer (process CPU seconds, every thread, per
  answer): what each answer costs whichever cores do the work (goal >= 5x); and by answers
  per second on this machine.

The stage phases alternate in `--blocks` blocks; a sample of answers is verified with the
platform's public keys. The HTTP figures are in bench/signed_api.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccare.core.signing import SignAlgorithm, response_content, verify
from order_pay_http import machine
from signed_api import crypto_rates

BODY = b'{"app_id":"2088000000000001","kind":"app","merchant_id":1,"scopes":["catalog"]}'
SAMPLES = 20


@dataclass
class Stage:
    algorithm: SignAlgorithm
    answers: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    samples: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.answers * 1e6 if self.answers else 0.0


async def answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app behind the middleware: a fixed JSON answer, as whoami gives."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY, "more_body": False})


def build(tmp: Path) -> tuple[Any, Any]:
    """A real ccare app on a fresh database: the middleware and the scope's `app`."""
    os.environ.update(
        {
            "CCARE_DATABASE_URL": f"sqlite:///{tmp / 'stage.sqlite3'}",
            "CCARE_DATA_DIR": str(tmp),
            "CCARE_ANALYTICS_PATH": str(tmp / "analytics.duckdb"),
            "CCARE_BROKER_URL": "",
            "CCARE_REDIS_URL": "",
        }
    )
    subprocess.run([sys.executable, "-m", "ccare.cli", "db", "upgrade"], check=True)
    from ccare.openplatform.service import platform_private_key
    from ccare.web.app import create_app
    from ccare.web.signed import SignedCalls

    app = create_app()
    runtime = app.state.platform
    for algorithm in SignAlgorithm:  # created and cached, as the first signed call does
        with runtime.db.transaction() as db:
            platform_private_key(db, algorithm)
    return SignedCalls(answer), app


def verified_call(algorithm: SignAlgorithm) -> Any:
    from ccare.openplatform.auth import SignedCall

    # The signer reads only the algorithm; the rest is what a verified app call carries.
    return SignedCall(app=None, principal=None, algorithm=algorithm)  # type: ignore[arg-type]


async def run_stage(
    middleware: Any, app: Any, algorithm: SignAlgorithm, seconds: float, concurrency: int
) -> Stage:
    from ccare.web.signed import STATE_CALL

    stage = Stage(algorithm)
    call = verified_call(algorithm)
    stop = 0.0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def client() -> int:
        done = 0
        while time.perf_counter() < stop:
            sent: list[dict[str, Any]] = []

            async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
                sent.append(message)

            scope = {
                "type": "http",
                "method": "GET",
                "path": "/api/v1/openplatform/whoami",
                "headers": [],
                "app": app,
                "state": {STATE_CALL: call},
            }
            await middleware(scope, receive, send)
            if len(stage.samples) < SAMPLES:
                headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
                stage.samples.append((headers, sent[1]["body"]))
            done += 1
        return done

    cpu0, began = time.process_time(), time.perf_counter()
    stop = began + seconds
    counts = await asyncio.gather(*(client() for _ in range(concurrency)))
    stage.seconds = time.perf_counter() - began
    stage.cpu_s = time.process_time() - cpu0
    stage.answers = sum(counts)
    return stage


def check(stage: Stage, app: Any) -> None:
    from ccare.openplatform.service import platform_private_key

    with app.state.platform.db.transaction() as db:
        public = platform_private_key(db, stage.algorithm).public_key()
    for headers, body in stage.samples:
        content = response_content(headers["ccare-timestamp"], headers["ccare-nonce"], body)
        if headers["ccare-sign-type"] != stage.algorithm.value or not verify(
            public, content, headers["ccare-signature"]
        ):
            raise SystemExit(f"{stage.algorithm.value}: an answer does not verify")


def merge(into: Stage | None, stage: Stage) -> Stage:
    if into is None:
        return stage
    into.answers += stage.answers
    into.seconds += stage.seconds
    into.cpu_s += stage.cpu_s
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per stage")
    parser.add_argument("--blocks", type=int, default=5, help="alternations of the stages")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--crypto-seconds", type=float, default=3, help="per raw rate")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    before = crypto_rates(args.crypto_seconds)
    with tempfile.TemporaryDirectory(prefix="ccare-stage-") as tmp:
        middleware, app = build(Path(tmp))
        stages: dict[SignAlgorithm, Stage] = {}

        async def measure() -> None:
            for algorithm in SignAlgorithm:  # warm up: threads started, keys cached
                await run_stage(middleware, app, algorithm, 0.5, args.concurrency)
            for _ in range(args.blocks):
                for algorithm in SignAlgorithm:
                    stage = await run_stage(
                        middleware, app, algorithm, args.seconds / args.blocks, args.concurrency
                    )
                    check(stage, app)
                    stages[algorithm] = merge(stages.get(algorithm), stage)

        asyncio.run(measure())
    after = crypto_rates(args.crypto_seconds)
    raw = {a: {k: max(v, after[a][k]) for k, v in r.items()} for a, r in before.items()}

    rsa, ed = stages[SignAlgorithm.RSA2], stages[SignAlgorithm.ED25519]
    rsa_sign = raw["RSA2"]["sign_per_s"]
    figures = {
        "rsa2_answers_per_2x_sign_rate": round(rsa.rate / (2 * rsa_sign), 4),
        "ed25519_per_rsa2_cpu_per_answer": round(rsa.cpu_us / ed.cpu_us, 4),
        "ed25519_per_rsa2_answers_per_s": round(ed.rate / rsa.rate, 4),
        "sign_2_threads_per_1_thread": round(raw["RSA2"]["sign_2_threads_per_s"] / rsa_sign, 4),
    }
    report = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "raw_crypto": raw,
        "stages": {
            a.value: {
                "answers_per_s": round(s.rate, 1),
                "cpu_us_per_answer": round(s.cpu_us, 1),
                "cores": round(s.cpu_s / s.seconds, 2),
            }
            for a, s in stages.items()
        },
        "figures": figures,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print()
    print(f"machine   {report['machine']}")
    print(f"{args.concurrency} in flight; {args.seconds:g} s per stage in {args.blocks} blocks")
    two = raw["RSA2"]["sign_2_threads_per_s"]
    ed_sign = raw["ED25519"]["sign_per_s"]
    print(f"raw RSA2 sign {rsa_sign:.0f}/s (2 threads {two:.0f}/s)   ED25519 sign {ed_sign:.0f}/s")
    for algorithm, s in stages.items():
        print(
            f"stage {algorithm.value:8} {s.rate:9.0f} answers/s   {s.cpu_us:6.1f} µs CPU/answer"
            f"   {s.cpu_s / s.seconds:.2f} cores"
        )
    print(
        f"2. RSA2 answers / (2 x RSA2 sign rate) = {figures['rsa2_answers_per_2x_sign_rate']:.3f}"
        " (goal 0.70)"
    )
    print(
        f"3. ED25519 / RSA2: CPU per answer {figures['ed25519_per_rsa2_cpu_per_answer']:.2f}x"
        f" (goal 5), answers/s {figures['ed25519_per_rsa2_answers_per_s']:.2f}x"
    )


if __name__ == "__main__":
    main()

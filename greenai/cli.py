"""The `greenai` command: parses arguments, calls the library, prints. Nothing else."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from greenai._version import __version__
from greenai.errors import GreenAIError


def _cmd_probe(args: argparse.Namespace) -> int:
    from greenai.probes.discover import discover
    from greenai.report.text import probe_report

    found = discover()
    if args.json:
        doc = {
            "probes": [
                {
                    "id": p.id,
                    "domain": p.domain,
                    "method": p.method.value,
                    "provenance": p.method.provenance,
                    "counts_in_total": p.counts_in_total,
                    "info": p.info(),
                }
                for p in found.probes
            ],
            "unavailable": [u.to_dict() for u in found.unavailable],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(probe_report(found))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print(
            "greenai run: no command given. Usage: greenai run [-o FILE] -- CMD ...",
            file=sys.stderr,
        )
        return 2
    from greenai.site import Site

    # a bad --site/--grid fails here, before anything runs, so nothing measured is lost
    site = Site.resolve(args.site, grid=args.grid, pue=args.pue, wue_l_per_kwh=args.wue)
    _check_embodied(site)
    from greenai.journal import OutputClaim

    # the output belongs to this run while it lives: a second run on it is refused at once
    claim = OutputClaim(args.output).acquire()
    try:
        return _run_claimed(args, command, site, claim)
    finally:
        claim.release()


def _child_death_signal() -> Any:
    """Return a preexec_fn asking Linux to SIGTERM the child when greenai dies, or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def arrange() -> None:  # runs in the child between fork and exec: no Python objects made
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # greenai died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def _run_claimed(args: argparse.Namespace, command: list[str], site: Any, claim: Any) -> int:
    from greenai.journal import is_live, journals_for
    from greenai.meter import Meter
    from greenai.report.text import summary

    journal = None if args.no_journal else f"{args.output}.journal"
    m = Meter(
        task=args.task,
        unit=args.unit,
        interval_s=args.interval,
        timeline_hz=args.timeline_hz,
        idle_baseline_s=args.idle_baseline,
        output=args.output,
        site=site,
        journal=journal,
        journal_period_s=args.journal_period,
        handle_signals=False,  # greenai run forwards signals to the child itself
        work=_work_of(args),
    )
    m._output_claim = claim  # refused above if another run holds it: the meter need not retry
    m.command = tuple(command)
    preexec = None if args.no_kill_child else _child_death_signal()
    m.journal_header = {
        "child_on_death": "SIGTERM (PR_SET_PDEATHSIG)" if preexec else "left running"
    }
    forwarded: list[int] = []
    env, units_file = _units_channel(args.units)
    m.start()
    try:
        child = subprocess.Popen(command, env=env, preexec_fn=preexec)  # noqa: PLW1509
    except OSError as exc:
        m.exit_code = 127
        m.stop("failed", exc)
        _close_units_channel(units_file)
        print(f"greenai run: cannot start {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 127

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    period = args.progress
    if period is None:
        period = 10.0 if sys.stderr.isatty() else 60.0
    try:
        code = _wait_with_progress(child, m, 0.0 if args.quiet else period)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    exit_code = code if code >= 0 else 128 - code  # killed by signal N -> 128 + N, like a shell
    m.exit_code = exit_code
    if args.units is not None:
        m.count(args.units)
    elif units_file is not None:
        from greenai.channel import read_total

        counted, lines = read_total(units_file)
        if lines:
            m.count(counted)
    _close_units_channel(units_file)
    status = "interrupted" if forwarded else ("ok" if code == 0 else "failed")
    result = m.stop(status)
    if result is not None and not args.quiet:
        print(summary(result), file=sys.stderr)
        print(f"result      {args.output}", file=sys.stderr)
    left = [j for j in journals_for(args.output) if not is_live(j)]
    if left:  # journals of killed runs on this output: their energy is not in this result
        print(
            f"greenai run: {len(left)} journal(s) of killed run(s) on this output remain: "
            f"{', '.join(map(str, left))} (greenai recover JOURNAL -o FILE)",
            file=sys.stderr,
        )
    return exit_code


def _units_channel(units: float | None) -> tuple[dict[str, str] | None, str | None]:
    """Return the child's environment and the units file it counts into (greenai.channel).

    With --units the count is given: the child gets no channel (GREENAI_UNITS_FILE removed).
    """
    from greenai.channel import UNITS_ENV

    env = dict(os.environ)
    env.pop(UNITS_ENV, None)
    if units is not None:
        return env, None
    import tempfile

    fd, path = tempfile.mkstemp(prefix="greenai-units-", suffix=".txt")
    os.close(fd)
    env[UNITS_ENV] = path
    return env, path


def _close_units_channel(path: str | None) -> None:
    if path is not None:
        Path(path).unlink(missing_ok=True)


def _wait_with_progress(child: subprocess.Popen, m: Any, period_s: float) -> int:
    """Return the child's exit code; every period_s print a progress line (0: none).

    Whole lines, not a redrawn bar: the command writes to the same terminal, and a bar
    redrawn under its output would tear it.
    """
    from greenai import units

    started = time.monotonic()
    while True:
        try:
            return child.wait(timeout=period_s if period_s > 0 else None)
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            energy_j = m.energy_j
            print(
                f"greenai: {elapsed:,.0f} s, {units.si(energy_j, 'J')} so far, mean "
                f"{units.si(energy_j / elapsed if elapsed else 0.0, 'W')} "
                f"[{m.provenance}]",
                file=sys.stderr,
                flush=True,
            )


def _cmd_recover(args: argparse.Namespace) -> int:
    from greenai.recovery import recover_journal
    from greenai.report.text import summary

    if not args.settings and (args.journal is None or args.output is None):
        print("greenai recover: give JOURNAL -o FILE, or --settings", file=sys.stderr)
        return 2
    _restore_settings(args.journal)
    if args.settings:
        return 0
    from greenai.journal import is_live

    if is_live(args.journal):
        print(
            f"greenai recover: {args.journal} belongs to a run that is still alive; "
            "this is what it measured so far",
            file=sys.stderr,
        )
    result = recover_journal(args.journal, site=args.site)
    result.save(args.output)
    print(summary(result))
    print(f"result      {args.output}")
    return 0


def _restore_settings(journal: str | None) -> None:
    """Put back what killed tuners changed (the journal's record, then the node's); say so."""
    from greenai.optimize import guard

    done = guard.restore_from_journal(journal) if journal else []
    done += guard.restore_stale()
    for line in done:
        print(f"restored    {line}")


def _fraction(text: str) -> float:
    """Return a fraction from '5%' or '0.05'."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a fraction (0.05) or percent (5%)"
        ) from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite fraction >= 0")
    return value


def _cmd_tune(args: argparse.Namespace) -> int:
    from greenai.meter import Terminated
    from greenai.optimize import guard
    from greenai.optimize.knobs import CpuThreads, GpuPowerLimit
    from greenai.optimize.offline import sweep_command
    from greenai.report.tune import tradeoff_png, tune_table

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("greenai tune: no command given. Usage: greenai tune [...] -- CMD", file=sys.stderr)
        return 2
    for line in guard.restore_stale():
        print(f"restored    {line}", file=sys.stderr)
    knob = CpuThreads() if args.knob == "threads" else GpuPowerLimit()
    values = [float(v) for v in args.values.split(",")] if args.values else None

    def on_sigterm(signum: int, _frame: object) -> None:
        raise Terminated(signum)  # unwinds through the sweep, which restores the setting

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        sweep = sweep_command(
            command,
            knob,
            Path(args.output),
            values=values,
            repeats=args.repeats,
            units_per_run=args.units,
            task=args.task,
            unit=args.unit,
            objective=args.objective,
            max_slowdown=args.max_slowdown,
            site=args.site,
            progress=lambda text: print(f"greenai tune: {text}", file=sys.stderr),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    out = Path(args.output)
    block = sweep.optimisation
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps({"optimisation": block.to_dict()}, indent=2) + "\n")
    png = tradeoff_png(block, out / "tune.png", unit=args.unit)
    print(tune_table(block))
    print(f"disclosures {', '.join(str(p) for p in sweep.disclosures.values())}")
    print(f"summary     {summary_path}")
    print(f"plot        {png}")
    return 0


def _cmd_site(args: argparse.Namespace) -> int:
    from greenai.site import Site, format_presets

    if args.action == "list":
        print(format_presets())
    else:
        from greenai.embodied import Settings, describe_settings

        print(Site.resolve(args.name, grid=args.grid).describe())
        print(describe_settings(Settings.resolve(args.name)))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from greenai import disclosure

    worst = 0
    for path in args.files:
        doc: dict[str, Any] = {}
        canonical, errors = None, []
        valid = disclosure.try_read_valid(path)
        if valid is not None:
            doc, canonical = valid.doc, valid.canonical
        else:  # invalid, or a check the one-pass reader leaves to the reference path
            try:
                doc = disclosure.read_document(path)
                errors = disclosure.validation_errors(disclosure.upgrade(doc, path), True)
            except GreenAIError as exc:
                errors = [str(exc)]
        if errors:
            worst = 1
            print(f"{path}: INVALID, {len(errors)} problem(s)")
            for e in errors:
                print(f"  {e}")
            continue
        # the schema says nothing about the seal: say what it is (verify checks signatures)
        status, problems = disclosure.verify(doc, canonical=canonical)
        sealed = isinstance(doc.get("integrity"), dict)
        state = f"integrity {status}" + (f": {'; '.join(problems)}" if problems else "")
        if sealed and status == "unverified":  # sealed, but the content is not what was sealed
            worst = 1
            print(f"{path}: valid schema {disclosure.SCHEMA_VERSION}, but {state}")
        else:
            print(f"{path}: valid (schema {disclosure.SCHEMA_VERSION}); {state}")
    return worst


def _cmd_keygen(args: argparse.Namespace) -> int:
    from greenai import disclosure

    pub = disclosure.generate_key(f"{args.output}.pem", f"{args.output}.pub")
    print(
        f"private key {args.output}.pem (keep it secret)\npublic key  {args.output}.pub\n"
        f"public key (base64) {pub}"
    )
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    import json

    from greenai import disclosure
    from greenai.measurement import write_atomic

    doc = disclosure.validate(disclosure.read_document(args.file), args.file)
    signed = disclosure.sign(doc, args.key)
    out = args.output or args.file
    write_atomic(Path(out), json.dumps(signed, indent=2, allow_nan=False) + "\n")
    print(f"{out}: signed, sha256 {signed['integrity']['sha256']}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from greenai import disclosure

    keys = tuple(disclosure.load_public_key(k) for k in args.public_key)
    worst = 0
    for path in args.files:
        try:
            status, problems = disclosure.verify(disclosure.read_document(path), keys)
        except GreenAIError as exc:
            status, problems = "unverified", [str(exc)]
        if status != "verified" and (keys or status == "unverified"):
            worst = 1
        print(f"{path}: {status}" + (f" ({'; '.join(problems)})" if problems else ""))
    return worst


def _cmd_bench(args: argparse.Namespace) -> int:
    from greenai.bench import harness
    from greenai.bench.suite import list_suites, load_suite

    if args.action == "list":
        for suite in list_suites():
            print(f"{suite.id:<10} {suite.description}  (about {suite.planned_s() / 60:.1f} min)")
            for w in suite.workloads:
                print(
                    f"  {w.id:<16} {w.kind:<15} task {w.task:<30} {w.repetitions} x "
                    f">= {w.min_duration_s:g} s"
                )
        return 0
    if args.action == "serve":
        return _cmd_bench_serve(args)
    if args.action == "report":
        from greenai.measurement import write_atomic
        from greenai.report.bench import comparability, summary_html

        summaries = harness.load_results(args.folders)
        if not summaries:
            print(f"greenai bench report: no summary.json under {args.folders}", file=sys.stderr)
            return 2
        page = summary_html(summaries, "greenai benchmark comparison", comparability(summaries))
        write_atomic(Path(args.output), page)
        for path, label in summaries.duplicates:
            print(f"{path}: the same file (SHA-256) as {label}: counted once")
        for label, summary in summaries.items():
            print(f"  {label:<24} {summary['directory']}")
        print(f"{args.output}: {len(summaries)} result set(s) compared")
        return 0
    if args.slurm:
        return _cmd_bench_slurm(args)
    if args.nodes != 1 or args.partition or args.wait:
        print("greenai bench run: --nodes, --partition and --wait need --slurm", file=sys.stderr)
        return 2
    from greenai.site import Site

    site = Site.resolve(args.site, grid=args.grid, pue=args.pue, wue_l_per_kwh=args.wue)
    _check_embodied(site)
    adaptive = None
    if args.adaptive:
        adaptive = harness.Adaptive(args.target_ci, args.max_repetitions, args.time_cap)
    run = harness.run_suite(
        load_suite(args.suite),
        args.output,
        site=site,
        standard=args.standard,
        force=args.force,
        cooldown_s=args.cooldown,
        repetitions=args.repetitions,
        min_duration_s=args.min_duration,
        adaptive=adaptive,
        target_ci=args.target_ci,
    )
    for line in harness.summary_table(harness.summary_rows(run.results, run.target_ci)):
        print(line)
    for line in harness.summary_notes(run):
        print(line)
    ran = len(run.results) - len(run.reused)
    kept = f", {len(run.reused)} kept from before (--force re-runs them)" if run.reused else ""
    failed = f", {len(run.skipped)} skipped" if run.skipped else ""
    print(
        f"results in {run.directory} ({ran} workload(s) run{kept}{failed}); "
        f"summary {run.directory / 'summary.html'}"
    )
    return 130 if run.interrupted else 0


def _seconds(text: str) -> float:
    """Parse '2s', '250ms' or '2' (seconds) for argparse."""
    t = text.strip().lower()
    scale = 1e-3 if t.endswith("ms") else 1.0
    t = t.removesuffix("ms").removesuffix("s")
    try:
        value = float(t) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds, e.g. 2s or 250ms") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be above 0")
    return value


def _number_list(kind: type) -> Any:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give a comma-separated list") from None

    return parse


def _cmd_bench_serve(args: argparse.Namespace) -> int:
    """greenai bench serve --endpoint URL: energy per request and token at each load level."""
    from greenai.bench import serve
    from greenai.meter import Meter
    from greenai.report.serve import table_text, write_tradeoff

    endpoint = serve.Endpoint(
        args.endpoint,
        api=args.api,
        stream=not args.no_stream,
        max_tokens=args.max_tokens,
        model=args.model,
        timeout_s=args.timeout,
    )
    prompts = serve.load_prompts(args.prompts or serve.default_prompts_path())
    result = serve.run_serve(
        endpoint,
        prompts,
        requests=args.requests,
        concurrency=args.concurrency or (() if args.rate else (1,)),
        rates_per_s=args.rate or (),
        output=args.output,
        meter_factory=lambda: Meter(task="chat", unit="token", idle_baseline_s=args.idle_baseline),
        parameters=args.params,
        software=args.software,
        slo_p90_s=args.slo_p90,
        log=lambda line: print(line, file=sys.stderr),
        warmup=args.warmup,
    )
    page, png = write_tradeoff(result.summary, Path(args.output) / "tradeoff.html")
    print(table_text(result.summary))
    shown = ("summary.json", page.name, *([png.name] if png else []))
    print(f"results in {args.output}: " + ", ".join(shown))
    levels = result.levels
    return 0 if levels and all(run.aborted is None for run in levels) else 3


def _cmd_bench_slurm(args: argparse.Namespace) -> int:
    from greenai.bench import slurm
    from greenai.bench.harness import DEFAULT_TARGET_CI
    from greenai.bench.suite import load_suite

    suite = load_suite(args.suite)  # a bad suite fails here, not on every node
    passed = [
        (flag, value)
        for flag, value in (
            ("--standard", args.standard),
            ("--cooldown", args.cooldown or None),
            ("--repetitions", args.repetitions),
            ("--min-duration", args.min_duration),
            ("--site", args.site),
            ("--grid", args.grid),
            ("--pue", args.pue),
            ("--wue", args.wue),
            ("--target-ci", None if args.target_ci == DEFAULT_TARGET_CI else args.target_ci),
        )
        if value is not None
    ]
    flags = [("--force", args.force), ("--adaptive", args.adaptive)]
    bench_args = [str(x) for pair in passed for x in pair] + [f for f, on in flags if on]
    if args.adaptive:
        bench_args += ["--max-repetitions", str(args.max_repetitions)]
        bench_args += ["--time-cap", str(args.time_cap)]
    script = slurm.sbatch_script(
        args.suite,
        args.output,
        suite_id=suite.id,
        nodes=args.nodes,
        partition=args.partition,
        bench_args=bench_args,
    )
    job = slurm.submit(script, args.output, suite.id, wait=args.wait)
    state = "finished" if args.wait else "submitted"
    print(f"Slurm job {job.job_id} {state}: {args.nodes} node(s), script {job.script}")
    where = Path(args.output) / suite.id
    print(f"results in {where}/<node>/; then: greenai bench report {args.output}")
    return 0


_WORK_FLAGS = (
    ("--workload", str, "the named benchmark workload run (e.g. greenai-gemm-fp32)"),
    ("--dataset", str, "the dataset id the work ran on (e.g. imagenet-1k)"),
    ("--split", str, "the dataset split (e.g. validation)"),
    ("--model", str, "the model id (e.g. meta-llama/Llama-3.1-8B)"),
    ("--params", float, "the model's parameter count (e.g. 8e9)"),
    ("--quality-metric", str, "the quality metric reached (e.g. top1-accuracy)"),
    ("--quality", float, "the value reached on --quality-metric"),
    ("--phase", str, "training or inference"),
)


def _add_work_flags(p: argparse.ArgumentParser) -> None:
    """Add the flags that disclose what the work was (the rating checks them)."""
    for flag, kind, text in _WORK_FLAGS:
        p.add_argument(flag, type=kind, default=None, help=text)


def _work_of(args: argparse.Namespace) -> dict[str, object]:
    """Return the work fields given on the command line (greenai.work.Work)."""
    names = [flag[2:].replace("-", "_") for flag, _, _ in _WORK_FLAGS]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _cmd_rate(args: argparse.Namespace) -> int:
    from greenai.calibration import load_population
    from greenai.scoring import compare_ratings, rate_many
    from greenai.standard import load_standard

    std = load_standard(args.standard)
    json_only = all(Path(f).is_dir() or Path(f).suffix == ".json" for f in args.files)
    if args.output and json_only:  # read each file once: write it re-rated, keep its figures
        population = _write_rerated(args.files, std, Path(args.output))
    else:
        population = load_population(list(args.files))
        if args.output:
            _write_rerated(args.files, std, Path(args.output))
    for skipped in population.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
    if len(population) == 0:
        print(
            f"greenai rate: nothing to rate: {len(population.skipped)} input(s) skipped, "
            "none readable",
            file=sys.stderr,
        )
        return 2
    if args.against:
        other = load_standard(args.against)
        for kind in ("energy", "water"):
            cmp = compare_ratings(population, std, other, kind=kind)
            print(f"{kind} grades: {other.id} -> {std.id}")
            print(f"  {'disclosure':<40} {'task':<22} {'was':>4} {'now':>4}  change")
            for row in cmp.rows:
                why = f": {row.cause}" if row.cause else ""
                print(
                    f"  {row.label[-40:]:<40} {str(row.task)[:22]:<22} "
                    f"{row.grade_against or '-':>4} {row.grade or '-':>4}  {row.change}{why}"
                )
            counts = ", ".join(f"{k} {v}" for k, v in cmp.summary().items() if v)
            print(f"  moved {len(cmp.moved)} of {len(cmp.rows)} ({counts})")
        return 0
    table = rate_many(population, std)
    print(f"rated under {std.id} ({std.status}, version {std.version})")
    print(
        f"{'disclosure':<40} {'task':<22} {'energy idx':>10} {'grade':>5} "
        f"{'water idx':>10} {'grade':>5}  verdict"
    )
    energy_grades, water_grades = table.grades("energy"), table.grades("water")
    ratings = [table.rating(i) for i in range(len(table))]  # once: the rows, then the notes
    lines = []
    for i, r in enumerate(ratings):
        e, w = r.energy, r.water
        lines.append(
            f"{population.label(i)[-40:]:<40} {str(r.task)[:22]:<22} {_idx(e.index)} "
            f"{energy_grades[i] or '-':>5} {_idx(w.index)} {water_grades[i] or '-':>5}  "
            f"{e.verdict}"
        )
    print("\n".join(lines))
    _print_rating_notes(ratings)
    return 0


def _print_rating_notes(ratings: Sequence[Any]) -> None:
    """Print each rating note (third-party figures) once, with how many runs it concerns."""
    notes: dict[str, int] = {}
    for rating in ratings:
        for note in rating.notes:
            notes[note] = notes.get(note, 0) + 1
    for note, count in notes.items():
        print(f"note ({count} run(s)): {note}")


def _write_rerated(sources: list[str], std: object, out: Path) -> Any:
    """Write each disclosure among sources into out/, with its rating block under std;
    return them as a scoring.Population (labelled by file; skipped: what was not read)."""

    from greenai import disclosure
    from greenai.scoring import RatingInput, rate

    files = []
    for src in map(Path, sources):
        files.extend(sorted(src.rglob("*.json")) if src.is_dir() else [src])
    used: set[str] = set()
    inputs, labels, skipped = [], [], []
    out.mkdir(parents=True, exist_ok=True)
    for path in files:
        try:  # a file the schema passes may still hold a figure the rating refuses: skip it
            doc, pieces, _ = disclosure.read_valid(path)
            inp = RatingInput.from_disclosure(doc, str(path))
            rating = rate(inp, std)  # type: ignore[arg-type]
            pieces = dict(pieces or {})  # the blocks as read: those changed below are dropped
            _rerate_embodied(doc, pieces, rating, std, path)
        except GreenAIError as exc:
            skipped.append(str(exc))
            continue
        inputs.append(inp)
        labels.append(str(path))
        doc["rating"] = rating.to_dict()
        pieces.pop("rating", None)
        name = path.name if path.name not in used else f"{len(used)}-{path.name}"
        used.add(name)
        _replace_text(out / name, disclosure.sealed_text(doc, pieces))
    if hasattr(os, "sync"):
        os.sync()  # one flush for the batch, not an fsync per file (~7 ms each here)
    print(f"{len(used)} re-rated disclosure(s) written to {out}", file=sys.stderr)
    from greenai.scoring import Population

    return Population.from_inputs(inputs, labels, skipped)


def _rerate_embodied(
    doc: dict[str, Any], pieces: dict[str, Any], rating: Any, std: Any, path: Path
) -> None:
    """Re-derive the embodied block's lifecycle rating under std, in place; drop its text as
    read from pieces only when the rating changed (else that text is still its text)."""
    if not isinstance(doc.get("embodied"), dict):
        return
    from greenai import embodied

    block = embodied.Embodied.from_dict(doc["embodied"], f"{path}: embodied")
    lifecycle = embodied.lifecycle_rating(block, rating, std)
    before = doc["embodied"].pop("lifecycle_rating", _ABSENT)
    if lifecycle is not None:
        doc["embodied"]["lifecycle_rating"] = lifecycle
    if not _same_json(before, _ABSENT if lifecycle is None else lifecycle):
        pieces.pop("embodied", None)


_ABSENT = object()  # a key that is not there


def _same_json(a: object, b: object) -> bool:
    """Return whether two values (or both _ABSENT) have the same canonical JSON text."""
    from greenai import disclosure

    if a is _ABSENT or b is _ABSENT:
        return a is b
    return disclosure.canonical_bytes({"v": a}) == disclosure.canonical_bytes({"v": b})


def _replace_text(path: Path, text: str) -> None:
    """Write text to path through a file beside it and a rename, not flushed (the caller
    syncs once for a batch): a reader sees the old file or the new one, never part of one.

    Cheaper than measurement.write_atomic's mkstemp for thousands of files; the temporary
    name holds the process id, so two processes writing one folder do not collide, and the
    file gets the mode a plain open() gives.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _idx(value: float | None) -> str:
    from greenai import units

    return f"{units.index(value) if value is not None else '-':>10}"


def _cmd_standard(args: argparse.Namespace) -> int:
    from greenai.standard import list_standards, load_standard

    if args.action == "list":
        for s in list_standards():
            state = f"ERROR: {s.error}" if s.error else f"{s.status}, {s.date}: {s.title}"
            print(f"{s.id:<20} {state}")
        return 0
    if args.action == "show":
        print(load_standard(args.standard).to_toml(), end="")
        return 0
    from greenai.calibration import calibrate, calibrated_toml, load_population
    from greenai.measurement import write_atomic

    with _registry_population(args, list(args.sources)) as sources:
        population = load_population(sources)
    args.sources = args.sources or [args.registry]
    base = load_standard(args.standard)
    report: list = []
    draft = calibrate(
        population,
        base,
        method=args.method,
        n_bands=args.bands,
        min_population=args.min_population,
        new_id=args.id,
        new_version=args.version,
        source=", ".join(args.sources),
        relax=args.relax,
        uncertainty=args.uncertainty,
        report=report,
    )
    # the drafter's file, edited: its comments and layout stay (tomlkit)
    text = calibrated_toml(draft, Path(base.path).read_text(encoding="utf-8"))
    write_atomic(Path(args.output), text)
    print(f"{args.output}: {draft.id} ({args.method}, population {len(population)})")
    _print_calibration_table(population, draft, report)
    if args.relax:
        relaxed = [r.task for r in report if draft.task_class(r.task).requirements.third_party]
        if relaxed:
            print(f"  --relax: third-party requirements in {', '.join(relaxed)}")
    return 0


def _print_calibration_table(population: object, draft: object, report: list) -> None:
    """Print one line per class with results (calibrated or why not), one for the rest."""
    from greenai.scoring import rate_many

    table = rate_many(population, draft)  # type: ignore[arg-type]
    grades = table.grades("energy")
    tasks = table.task.tolist()
    print(f"  {'class':<24} {'results':>7} {'graded':>6}  outcome")
    empty = []
    for row in report:
        if not row.results:
            empty.append(row.task)
            continue
        if row.bands is not None:
            got = [g for t, g in zip(tasks, grades, strict=True) if t == row.task]
            counts = " ".join(f"{g}:{got.count(g)}" for g in row.bands.grades)
            outcome = f"calibrated, {len(row.bands.bands)} grades ({counts})"
            if row.note != "calibrated":
                outcome += f"; {row.note}"
        else:
            outcome = f"not calibrated: {row.note}"
        print(f"  {row.task:<24} {row.results:>7} {row.conformant:>6}  {outcome}")
    if empty:
        print(f"  no results, not calibrated: {', '.join(empty)}")


def _cmd_report(args: argparse.Namespace) -> int:
    import json

    from greenai import disclosure
    from greenai.measurement import write_atomic

    # a document that is not a valid disclosure ({} or a hand-edited one) renders nothing
    doc = disclosure.validate(disclosure.read_document(args.file), args.file)
    fmt = args.format
    out = args.output or f"{Path(args.file).with_suffix('')}.{_SUFFIX[fmt]}"
    if fmt == "html":
        from greenai.report.html import to_html

        write_atomic(Path(out), to_html(doc))
    elif fmt == "md":
        from greenai.report.markdown import to_markdown

        write_atomic(Path(out), to_markdown(doc))
    elif fmt == "label":
        from greenai.report.label import to_label_svg, write_label_png

        if out.endswith(".svg"):
            write_atomic(Path(out), to_label_svg(doc))
        else:
            write_label_png(doc, out)
    elif fmt == "csv":
        from greenai.report.table import to_csv

        to_csv([doc], out)
    else:
        from greenai.interop.boamps import to_boamps

        write_atomic(Path(out), json.dumps(to_boamps(doc), indent=2) + "\n")
    print(out)
    return 0


_SUFFIX = {"html": "html", "md": "md", "label": "png", "csv": "csv", "boamps": "boamps.json"}


def _cmd_compare(args: argparse.Namespace) -> int:
    from greenai import disclosure
    from greenai.measurement import write_atomic
    from greenai.report.compare import compare, to_html, to_markdown

    docs = [disclosure.read_document(f) for f in args.files]
    keys = tuple(disclosure.load_public_key(k) for k in args.public_key)
    cmp = compare(docs, names=_unique_names(args.files), standard=args.standard, public_keys=keys)
    text = to_markdown(cmp) if args.output.endswith(".md") else to_html(cmp)
    write_atomic(Path(args.output), text)
    flagged = sum(1 for p in cmp.pairs if p.reasons)
    print(f"{args.output}: {len(docs)} disclosures, {flagged} pair(s) not comparable")
    return 0


def _unique_names(files: list[str]) -> list[str]:
    """Return short names for files: base names, or the paths given when base names repeat."""
    names = [Path(f).name for f in files]
    if len(set(names)) < len(names):
        names = list(files)
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n} #{seen[n]}")
    return unique


def _cmd_import(args: argparse.Namespace) -> int:
    import json

    from greenai import disclosure
    from greenai.interop.codecarbon import from_codecarbon_csv

    if args.source == "table":
        return _import_table(args)
    from greenai.interop.codecarbon import apply_site
    from greenai.safepath import create_unique

    docs = from_codecarbon_csv(args.file, task=args.task, cpu_method=args.cpu_method)
    out = Path(args.output)
    for i, doc in enumerate(docs):
        doc, where = apply_site(
            doc, args.site, grid=args.grid, pue=args.pue, wue_l_per_kwh=args.wue
        )
        # exclusive create: a second import into the same folder writes beside, never over
        text = json.dumps(disclosure.seal(doc), indent=2, allow_nan=False) + "\n"
        path = create_unique(out, f"codecarbon-{i:04d}", ".json", text)
        print(f"{path}: footprint at {where}" if doc["site"] else f"{path}: {where}")
    print(f"{len(docs)} disclosure(s) written to {out}")
    return 0


def _import_table(args: argparse.Namespace) -> int:
    """greenai import table: a published table, row by row, into disclosures (third-party)."""
    import json
    import time

    from greenai import disclosure
    from greenai.interop.table import RowError, TableStream, import_table, load_mapping
    from greenai.safepath import create_unique, slug

    if bool(args.format) == bool(args.mapping):
        print("greenai import table: give --format NAME or --mapping FILE.toml", file=sys.stderr)
        return 2
    mapping = load_mapping(args.mapping or args.format)
    out = Path(args.output)
    one_file = out.suffix == ".jsonl"
    if mapping.delegate is not None:
        docs = import_table(args.file, mapping, task=args.task, max_rows=args.max_rows).docs
    else:
        limit = args.max_rows or (None if one_file else FOLDER_MAX_ROWS)
        stream = TableStream(args.file, mapping, gpu=args.gpu, task=args.task, max_rows=limit)
        docs = stream
    started = time.perf_counter()
    written = errors = 0
    sink = None
    if one_file:
        out.parent.mkdir(parents=True, exist_ok=True)
        sink = open(out, "w", encoding="utf-8")  # noqa: SIM115 (closed below, streamed into)
    try:
        for item in docs:
            if isinstance(item, RowError):
                errors += 1
                if errors <= args.show_errors:
                    print(f"error: {item}", file=sys.stderr)
                continue
            written += 1
            if sink is not None:  # one line per document: a population file, not sealed
                sink.write(json.dumps(item, allow_nan=False, separators=(",", ":")) + "\n")
            else:
                # the name comes from the row (its model), made unique by exclusive create:
                # two imports into one folder keep every disclosure
                model = (item.get("source") or {}).get("model") or "row"
                text = json.dumps(disclosure.seal(item), indent=2, allow_nan=False) + "\n"
                create_unique(out, f"{mapping.id}-{slug(model)}", ".json", text)
    finally:
        if sink is not None:
            sink.close()
    elapsed_s = time.perf_counter() - started
    if errors > args.show_errors:
        print(f"error: ... and {errors - args.show_errors} more row(s) left out", file=sys.stderr)
    rows = written + errors
    rate = f", {rows / elapsed_s:,.0f} rows/s" if elapsed_s > 0 else ""
    print(f"{written} disclosure(s) written to {out} ({errors} row(s) left out{rate})")
    if isinstance(docs, TableStream) and docs.truncated:
        print(
            f"stopped after {docs.rows_read} rows (--max-rows {docs.max_rows}); for a large "
            "table write one population file: -o population.jsonl",
            file=sys.stderr,
        )
    return 1 if errors and not written else 0


FOLDER_MAX_ROWS = 10_000  # one sealed file per row: beyond this, write one .jsonl file


def _add_registry_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", default=None, help="read the population from a registry URL")
    p.add_argument("--token", default=None, help="API token, if the registry gates reading")


def _registry_population(args: argparse.Namespace, given: list[str]) -> Any:
    """Return a context yielding the population paths: `given`, plus the registry's export."""
    import contextlib

    if not args.registry:
        if not given:
            raise GreenAIError("give a population (folders or files) or --registry URL")
        return contextlib.nullcontext(given)
    from greenai.registry.cli import population_file, token_of

    @contextlib.contextmanager
    def paths() -> Any:
        with population_file(args.registry, token_of(args, required=False)) as path:
            yield [*given, path]

    return paths()


def _cmd_rank(args: argparse.Namespace) -> int:
    """greenai rank POP RUN...: percentile of each run in a population, HTML + PNG."""
    if args.registry and args.population:  # with --registry every file named is a run
        args.runs, args.population = [args.population, *args.runs], None
    with _registry_population(args, [args.population] if args.population else []) as paths:
        args.population = paths if len(paths) > 1 else paths[0]
        return _rank(args)


def _rank(args: argparse.Namespace) -> int:
    from greenai import disclosure, units
    from greenai.population import load
    from greenai.report.rank import rank, write_html

    results = load(args.population)
    for skipped in results.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
    runs = [disclosure.read_document(f) for f in args.runs]
    ranking = rank(results, runs, names=_unique_names(args.runs), standard=args.standard)
    page, png = write_html(ranking, args.output)
    n = len(ranking.energy_per_unit_j)
    print(f"population: {n} results, task {ranking.task}, per {ranking.unit} ({ranking.standard})")
    for line in (*ranking.notes, *ranking.population_flags):
        print(f"  {line}")
    for r in ranking.runs:
        where = units.placement(r.rank or 0, n) if r.placed else "not placed"
        per = units.energy_per_unit_scale(r.energy_per_unit_j, r.unit)(r.energy_per_unit_j)
        print(f"{r.name}: {per}: {where}, grade {r.grade or '-'}")
        for reason in r.refused:
            print(f"  not placed: {reason}")
        for flag in r.flags:
            print(f"  flag: {flag}")
    print(f"{page} and {png}")
    return 0 if all(r.placed for r in ranking.runs) else 3


def _add_site_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--site", default=None, help="site preset (greenai site list) or site .toml file"
    )
    p.add_argument("--grid", default=None, help="grid region: ISO 3166 code (FR, US-CA, CN)")
    p.add_argument("--pue", type=float, default=None, help="measured PUE of the site")
    p.add_argument("--wue", type=float, default=None, help="measured on-site WUE, L/kWh")


def _cmd_demo(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from greenai.meter import meter
    from greenai.report.text import summary

    n = 512
    flop_per_matmul = 2 * n**3
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    print(
        f"greenai demo: metering {args.seconds:g} s of {n}x{n} float32 matmuls...", file=sys.stderr
    )
    work = {"workload": "greenai-gemm-fp32", "phase": "inference"}  # what the demo runs
    with meter(task="greenai-gemm-fp32", unit="GFLOP", output=args.output, work=work) as m:
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            a @ b
            m.count(flop_per_matmul / 1e9)
    assert m.result is not None
    print(summary(m.result))
    if args.output:
        print(f"result      {args.output}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from greenai import disclosure
    from greenai.measurement import load
    from greenai.report.text import summary

    disclosure.validate(disclosure.read_document(args.file), args.file)  # no false summary
    print(summary(load(args.file)))
    return 0


def _check_embodied(site: object) -> None:
    """Refuse (SiteError) a site file whose [embodied] table is wrong, before anything runs."""
    from greenai.embodied import Settings

    Settings.resolve(site)


def _cmd_embodied(args: argparse.Namespace) -> int:
    from greenai.embodied import account
    from greenai.report.text import embodied_lines

    result = account(args.file)
    print("\n".join(embodied_lines(result, result.unit)))
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from greenai.distributed import merge_files
    from greenai.report.text import summary

    result = merge_files(args.shards, site=args.site, standard=args.standard)
    result.save(args.output)
    print(summary(result))
    print(f"result      {args.output}")
    return 0


def _cmd_exporter(args: argparse.Namespace) -> int:
    import threading

    from greenai.export.prometheus import Exporter
    from greenai.site import Site

    site = Site.resolve(args.site, grid=args.grid, pue=args.pue, wue_l_per_kwh=args.wue)
    exporter = Exporter(args.port, args.addr, interval_s=args.interval, site=site)
    print(f"greenai exporter: serving {exporter.url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        exporter.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `greenai` command."""
    parser = argparse.ArgumentParser(
        prog="greenai",
        description="Meter the energy and water of AI work, rate it, and disclose it.",
    )
    parser.add_argument("--version", action="version", version=f"greenai {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("probe", help="list the probes that work here, and why others don't")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_probe)

    p = sub.add_parser("run", help="meter a command: greenai run -o run.json -- CMD ...")
    p.add_argument(
        "-o", "--output", default="greenai-run.json", help="result JSON (default %(default)s)"
    )
    p.add_argument(
        "--interval",
        type=float,
        default=None,
        help="power/model probes' sampling interval in s (default 0.1; energy counters are "
        "read at the window's edges); alone, it also sets the timeline's",
    )
    p.add_argument(
        "--timeline-hz",
        type=float,
        default=None,
        help="power timeline readings per second (default 0.5; 0: no timeline)",
    )
    p.add_argument("--task", default=None, help="task class of the work (e.g. text-generation)")
    p.add_argument("--unit", default=None, help="functional unit (sample, token, query)")
    p.add_argument(
        "--units",
        type=float,
        default=None,
        help="functional units the command did (default: what it counts with greenai.count(n) "
        "or lines appended to $GREENAI_UNITS_FILE)",
    )
    _add_work_flags(p)
    p.add_argument(
        "--idle-baseline",
        type=float,
        default=0.0,
        metavar="S",
        help="measure idle power for S seconds first",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print no summary or progress")
    p.add_argument(
        "--progress",
        type=float,
        default=None,
        metavar="S",
        help="a progress line every S seconds (default 10 on a terminal, 60 otherwise; 0: none)",
    )
    p.add_argument(
        "--journal-period",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between journal checkpoints (default 1)",
    )
    p.add_argument(
        "--no-journal",
        action="store_true",
        help="do not keep OUTPUT.journal while the command runs",
    )
    p.add_argument(
        "--no-kill-child",
        action="store_true",
        help="let the command run on if greenai is killed (default: Linux sends it SIGTERM)",
    )
    _add_site_flags(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="render a disclosure: html, md, label, csv, boamps")
    p.add_argument("file")
    p.add_argument("--format", choices=sorted(_SUFFIX), default="html")
    p.add_argument("-o", "--output", default=None, help="output file (label: .png or .svg)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("compare", help="compare disclosures side by side, flagging what differs")
    p.add_argument("files", nargs="+")
    p.add_argument("-o", "--output", required=True, help="OUT.html or OUT.md")
    p.add_argument("--standard", default=None, help="re-rate every input under this standard")
    p.add_argument("--public-key", action="append", default=[], help="trusted PEM public key")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("import", help="import CodeCarbon's emissions.csv as disclosures")
    p.add_argument("source", choices=["codecarbon", "table"])
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True, help="folder for the disclosures")
    p.add_argument("--task", default=None)
    # import table: a published table through a mapping (standards/importers/)
    p.add_argument("--format", default=None, help="table: shipped mapping (ml-energy, codecarbon)")
    p.add_argument("--mapping", default=None, help="table: your own mapping FILE.toml")
    p.add_argument("--gpu", default=None, help="table: hardware the figures were measured on")
    p.add_argument(
        "--max-rows",
        type=int,
        default=None,
        help=f"table: read at most N rows (default {FOLDER_MAX_ROWS} into a folder; "
        "-o FILE.jsonl writes one population file, no limit)",
    )
    p.add_argument("--show-errors", type=int, default=20, help="table: bad rows to print")
    p.add_argument(
        "--cpu-method",
        choices=["measured", "modelled"],
        default=None,
        help="how CodeCarbon obtained CPU energy, when the file does not say",
    )
    _add_site_flags(p)  # codecarbon: else the site of the file's cloud region or country
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("rank", help="place runs in a population: percentile, grade bands, plot")
    p.add_argument("population", nargs="?", help="folder of disclosures (or .json/.jsonl file)")
    p.add_argument("runs", nargs="+", help="your run(s): disclosure files")
    p.add_argument("-o", "--output", default="rank.html", help="OUT.html (and OUT.png beside)")
    p.add_argument("--standard", default=None, help="standard id or .toml for the grade bands")
    _add_registry_flags(p)
    p.set_defaults(func=_cmd_rank)

    p = sub.add_parser("rate", help="(re-)rate disclosures under a standard")
    p.add_argument("files", nargs="+", help="disclosure files or folders (or a CSV table)")
    p.add_argument("--standard", default=None, help="standard id or .toml (default: shipped)")
    p.add_argument("--against", default=None, help="a second standard: show where grades move")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="folder to write the disclosures re-rated under --standard",
    )
    p.set_defaults(func=_cmd_rate)

    p = sub.add_parser("standard", help="standards: list, show, calibrate")
    std_sub = p.add_subparsers(dest="action", required=True)
    sp = std_sub.add_parser("list", help="list the shipped standards")
    sp.set_defaults(func=_cmd_standard)
    sp = std_sub.add_parser("show", help="print a standard as TOML")
    sp.add_argument("standard", nargs="?", default=None)
    sp.set_defaults(func=_cmd_standard)
    sp = std_sub.add_parser("calibrate", help="derive grade bands from a population of results")
    sp.add_argument("sources", nargs="*", help="folders of disclosures, JSON files or a CSV")
    _add_registry_flags(sp)
    sp.add_argument("--standard", default=None, help="the standard to start from")
    sp.add_argument(
        "--method",
        choices=("quantile", "log-equal", "equal-range"),
        default="quantile",
        help="quantile (equal counts), log-equal, equal-range (the AI Energy Score's sections)",
    )
    sp.add_argument(
        "--relax",
        action="store_true",
        help="calibrate a class of third-party figures under the requirements they can meet",
    )
    sp.add_argument(
        "--uncertainty",
        type=float,
        default=None,
        metavar="U",
        help="relative 95%% uncertainty of the results (default: their CIs, else 0.05)",
    )
    sp.add_argument("--bands", type=int, default=7, help="number of grades (default 7: A-G)")
    sp.add_argument("--min-population", type=int, default=30)
    sp.add_argument("--id", default=None, help="id of the new standard")
    sp.add_argument("--version", default=None, help="version of the new standard")
    sp.add_argument("-o", "--output", required=True)
    sp.set_defaults(func=_cmd_standard)

    p = sub.add_parser("bench", help="benchmark suites: list, run, report")
    bench = p.add_subparsers(dest="action", required=True)
    bp = bench.add_parser("list", help="list the shipped suites")
    bp.set_defaults(func=_cmd_bench)
    bp = bench.add_parser("run", help="run a suite (smoke, standard, or a .toml file)")
    bp.add_argument("suite")
    bp.add_argument("-o", "--output", default="results", help="results folder (default results)")
    bp.add_argument("--standard", default=None, help="standard id or .toml file to rate under")
    bp.add_argument("--force", action="store_true", help="run workloads whose results exist")
    bp.add_argument(
        "--cooldown", type=float, default=0.0, metavar="S", help="seconds of rest between workloads"
    )
    bp.add_argument("--repetitions", type=int, default=None, help="override repetitions")
    bp.add_argument(
        "--min-duration",
        type=float,
        default=None,
        metavar="S",
        help="override the minimum measured window",
    )
    bp.add_argument(
        "--adaptive",
        action="store_true",
        help="repeat each workload until its 95 %% CI is within --target-ci (or a cap)",
    )
    bp.add_argument(
        "--target-ci",
        type=_fraction,
        default=0.05,
        metavar="F",
        help="CI half-width target, of the mean: 5%% or 0.05 (default 5%%); wider is flagged",
    )
    bp.add_argument(
        "--max-repetitions", type=int, default=30, help="adaptive: at most this many (30)"
    )
    bp.add_argument(
        "--time-cap",
        type=float,
        default=600.0,
        metavar="S",
        help="adaptive: stop adding repetitions of a workload after S seconds (600)",
    )
    _add_site_flags(bp)
    bp.add_argument(
        "--slurm", action="store_true", help="submit an sbatch job running the suite on each node"
    )
    bp.add_argument("--nodes", type=int, default=1, help="with --slurm: nodes (default 1)")
    bp.add_argument("--partition", default=None, help="with --slurm: Slurm partition")
    bp.add_argument("--wait", action="store_true", help="with --slurm: return when the job ends")
    bp.set_defaults(func=_cmd_bench)
    bp = bench.add_parser(
        "serve", help="drive an OpenAI-compatible server: energy per request and token, latency"
    )
    bp.add_argument("--endpoint", required=True, help="base URL, e.g. http://127.0.0.1:8000/v1")
    bp.add_argument(
        "--concurrency",
        type=_number_list(int),
        default=None,
        metavar="N,N",
        help="closed-loop levels: requests in flight (default 1)",
    )
    bp.add_argument(
        "--rate",
        type=_number_list(float),
        default=None,
        metavar="R,R",
        help="Poisson arrival levels, requests/s (instead of or besides --concurrency)",
    )
    bp.add_argument("--requests", type=int, default=40, help="requests per level (default 40)")
    bp.add_argument("--prompts", default=None, help="prompt set .jsonl (default prompts-v1)")
    bp.add_argument("--api", choices=("chat", "completions"), default="chat")
    bp.add_argument("--no-stream", action="store_true", help="non-streaming requests (no TTFT)")
    bp.add_argument("--max-tokens", type=int, default=64, help="max_tokens per request (64)")
    bp.add_argument("--model", default=None, help="model id to ask for (default: GET /models)")
    bp.add_argument("--params", type=int, default=None, help="model parameter count (declared)")
    bp.add_argument("--software", default=None, help="server software and version (declared)")
    bp.add_argument(
        "--idle-baseline",
        type=float,
        default=0.0,
        metavar="S",
        help="measure idle power for S seconds before each level: net energy",
    )
    bp.add_argument(
        "--slo-p90",
        type=_seconds,
        default=None,
        metavar="T",
        help="latency target (2s, 500ms): name the most efficient level that meets it",
    )
    bp.add_argument(
        "--warmup",
        type=int,
        default=2,
        metavar="N",
        help="requests sent before each level's metering starts, not counted (default 2)",
    )
    bp.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, s")
    bp.add_argument("-o", "--output", default="serve-results", help="results folder")
    bp.set_defaults(func=_cmd_bench)
    bp = bench.add_parser("report", help="compare suite results of several hosts")
    bp.add_argument("folders", nargs="+")
    bp.add_argument("-o", "--output", default="summary.html")
    bp.set_defaults(func=_cmd_bench)

    p = sub.add_parser("demo", help="meter a short built-in workload and print the result")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("-o", "--output", default=None)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("recover", help="rebuild a result from the journal of a killed run")
    p.add_argument("journal", nargs="?", default=None)
    p.add_argument("-o", "--output", default=None)
    p.add_argument("--site", default=None)
    p.add_argument(
        "--settings",
        action="store_true",
        help="only put back device settings (GPU power limits) a killed tuner left changed",
    )
    p.set_defaults(func=_cmd_recover)

    p = sub.add_parser(
        "tune", help="find the setting that saves energy: greenai tune --max-slowdown 5%% -- CMD"
    )
    p.add_argument("--knob", choices=("threads", "gpu-power"), default="threads")
    p.add_argument("--values", default=None, help="settings to try, comma-separated (default all)")
    p.add_argument("--max-slowdown", type=_fraction, default=None, help="e.g. 5%% or 0.05")
    p.add_argument("--objective", choices=("energy", "edp"), default="energy")
    p.add_argument("--repeats", type=int, default=3, help="runs of CMD per setting (>= 2)")
    p.add_argument("--units", type=float, default=1.0, help="functional units one run does")
    p.add_argument("--task", default=None)
    p.add_argument("--unit", default="run")
    p.add_argument("--site", default=None)
    p.add_argument("-o", "--output", default="tune", help="folder for the results (default tune)")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("site", help="site presets and grid factors, with their sources")
    site_sub = p.add_subparsers(dest="action", required=True)
    sp = site_sub.add_parser("list", help="list the presets")
    sp.set_defaults(func=_cmd_site)
    sp = site_sub.add_parser("show", help="show one preset (or the default) with every factor")
    sp.add_argument("name", nargs="?", default=None)
    sp.add_argument("--grid", default=None)
    sp.set_defaults(func=_cmd_site)

    p = sub.add_parser("validate", help="check disclosures against the JSON Schema")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("keygen", help="make an Ed25519 key pair: OUT.pem and OUT.pub")
    p.add_argument("-o", "--output", required=True, help="path prefix of the key files")
    p.set_defaults(func=_cmd_keygen)

    p = sub.add_parser("sign", help="seal and sign a disclosure with an Ed25519 key")
    p.add_argument("file")
    p.add_argument("--key", required=True, help="PEM private key (greenai keygen)")
    p.add_argument("-o", "--output", default=None, help="signed copy (default: in place)")
    p.set_defaults(func=_cmd_sign)

    p = sub.add_parser("verify", help="check the hash and signature of disclosures")
    p.add_argument("files", nargs="+")
    p.add_argument("--public-key", action="append", default=[], help="trusted PEM public key")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("show", help="print the summary of a result file")
    p.add_argument("file")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser(
        "embodied",
        help="embodied carbon, fab water and ADP of an accounted run "
        "(a TOML file like examples/bloom_embodied.toml)",
    )
    p.add_argument("file", help="TOML with [run] and [embodied] tables")
    p.set_defaults(func=_cmd_embodied)

    p = sub.add_parser("merge", help="combine per-rank shards of a job into one result")
    p.add_argument("shards", nargs="+", help="rank-N.json shards (or one result per node)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--site", default=None, help="site preset or .toml for the footprint")
    p.add_argument("--standard", default=None, help="standard id or .toml to rate under")
    p.set_defaults(func=_cmd_merge)

    p = sub.add_parser("exporter", help="serve live power and energy per device to Prometheus")
    p.add_argument("--port", type=int, default=9464, help="TCP port (default 9464)")
    p.add_argument(
        "--addr", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0: all)"
    )
    p.add_argument("--interval", type=float, default=1.0, help="sampling interval in s (default 1)")
    _add_site_flags(p)  # water and carbon counters use the site's factors
    p.set_defaults(func=_cmd_exporter)

    from greenai.registry.cli import add_commands as add_registry_commands

    add_registry_commands(sub)  # registry serve / add-submitter / rerate / audit, and submit
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `greenai` command; return its exit code."""
    args = build_parser().parse_args(argv)
    warnings.formatwarning = _one_line_warning
    try:
        return int(args.func(args))
    except GreenAIError as exc:
        if os.environ.get("GREENAI_DEBUG") == "1":
            raise
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        print(f"greenai: {'; '.join(lines)[:2000]}", file=sys.stderr)  # one line, always
        return 2
    except OSError as exc:  # a file or folder named on the command line cannot be used
        where = f" {exc.filename}" if exc.filename else ""
        print(f"greenai:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: one line, exit 2
        if os.environ.get("GREENAI_DEBUG") == "1":
            raise
        text = " ".join(str(exc).split())[:300] or "no message"
        print(
            f"greenai: error: {type(exc).__name__}: {text} (GREENAI_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 2


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Return a warning as one line without the source line Python prints by default."""
    text = str(message)
    text = text[len("greenai: ") :] if text.startswith("greenai: ") else text  # said once
    return f"greenai: warning: {text}\n"


if __name__ == "__main__":
    sys.exit(main())

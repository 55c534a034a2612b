"""Meter a multi-process job (torchrun, torch.distributed, SLURM) once per node, as one result.

Each node is metered once: node-level probes (RAPL zones, CPU and DRAM models) run only on
the node's local rank 0, and each GPU only on the rank that owns it. At the end the ranks'
Measurements are gathered over the job's own process group (``all_gather_object``) or,
without one, written as per-rank shards that ``greenai merge SHARDS... -o job.json`` combines.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from greenai.assessment import assess
from greenai.errors import DisclosureError
from greenai.measurement import DeviceEnergy, DomainEnergy, Gap, Measurement, PhaseEnergy
from greenai.meter import Meter
from greenai.probes.base import Discovery, Probe

RANK_BLOCK = "rank"  # extra block of a shard: where it was measured
STATUS_ORDER = ("ok", "interrupted", "failed")  # a merged job takes the worst


@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in the job: global rank, rank on its node, node index."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    node_rank: int = 0
    host: str = ""
    source: str = "single"  # torch.distributed | torchrun | slurm | single

    @property
    def meters_node(self) -> bool:
        """Return whether this rank meters the node-level domains (CPU, DRAM, system)."""
        return self.local_rank == 0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "rank": self.rank,
            "local_rank": self.local_rank,
            "world_size": self.world_size,
            "local_world_size": self.local_world_size,
            "node_rank": self.node_rank,
            "host": self.host,
            "source": self.source,
        }


def _int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return None


def detect_rank(env: Mapping[str, str] | None = None) -> RankInfo:
    """Return this process's rank info from torch.distributed, torchrun's or SLURM's env."""
    env = os.environ if env is None else env
    host = platform.node()
    rank = _int(env, "RANK")
    world = _int(env, "WORLD_SIZE")
    source = "torchrun"
    if rank is None or world is None:
        rank, world, source = _int(env, "SLURM_PROCID"), _int(env, "SLURM_NTASKS"), "slurm"
    if rank is None or world is None:
        rank, world, source = 0, 1, "single"
    dist = _torch_dist()
    if dist is not None:
        rank, world, source = dist.get_rank(), dist.get_world_size(), "torch.distributed"
    local_world = _int(env, "LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE") or world
    local_rank = _int(env, "LOCAL_RANK", "SLURM_LOCALID")
    if local_rank is None:  # no launcher said: ranks fill nodes in order
        local_rank = rank % local_world
    node = _int(env, "GROUP_RANK", "SLURM_NODEID")
    if node is None:
        node = rank // local_world if local_world > 0 else 0
    return RankInfo(rank, local_rank, world, local_world, node, host, source)


def _torch_dist() -> Any:
    """Return torch.distributed when a process group is initialised, else None."""
    import sys

    if "torch" not in sys.modules:  # never import torch just to find out
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def owned_gpus(rank: RankInfo, visible: int, env: Mapping[str, str] | None = None) -> list[int]:
    """Return the CUDA indices of the GPUs this rank meters.

    torchrun convention: rank ``local_rank`` uses ``cuda:local_rank``; when the launcher binds
    one GPU per rank (CUDA_VISIBLE_DEVICES with a single entry, e.g. SLURM --gpus-per-task),
    the rank owns ``cuda:0``. Ranks beyond the visible GPUs own none (no GPU is counted twice).
    """
    env = os.environ if env is None else env
    bound = env.get("CUDA_VISIBLE_DEVICES", "")
    if visible == 1 and bound and "," not in bound:
        return [0]
    return [rank.local_rank] if rank.local_rank < visible else []


def rank_probes(
    found: Discovery,
    rank: RankInfo,
    gpus: Sequence[int] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Probe]:
    """Return the probes this rank meters: node-level ones on local rank 0, its own GPUs."""
    # GPUs a rank can own carry their CUDA index (NVML); other accelerators (AMD sockets,
    # Apple GPU/ANE, hwmon GPUs) are metered once per node, with the node's probes
    gpu_probes = [p for p in found.probes if p.domain == "gpu" and hasattr(p, "cuda_index")]
    node_probes = [p for p in found.probes if not (p.domain == "gpu" and hasattr(p, "cuda_index"))]
    if gpus is None:
        gpus = owned_gpus(rank, len(gpu_probes), env)
    mine = [p for p in gpu_probes if getattr(p, "cuda_index", None) in set(gpus)]
    return [*(node_probes if rank.meters_node else []), *mine]


class DistributedMeter(Meter):
    """A Meter for one rank of a job; ``result`` on every rank is the merged job's result.

    With a torch.distributed process group the ranks' results are combined over it (every
    rank must stop the meter, as for any collective). Without one, each rank writes
    ``shard_dir/rank-N.json``; combine them with ``greenai merge``.
    """

    def __init__(
        self,
        task: str | None = None,
        unit: str | None = None,
        *,
        rank: RankInfo | None = None,
        gpus: Sequence[int] | None = None,
        shard_dir: str | os.PathLike[str] | None = None,
        group: Any = None,
        output: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ):
        if "probes" not in kwargs and "sampler" not in kwargs:
            from greenai.probes.discover import discover_cached

            self.rank_info = rank or detect_rank()
            found = discover_cached()
            kwargs["probes"] = rank_probes(found, self.rank_info, gpus)
            self._found_unavailable = tuple(u.to_dict() for u in found.unavailable)
        else:
            self.rank_info = rank or detect_rank()
            self._found_unavailable = ()
        super().__init__(task, unit, **kwargs)
        self._unavailable = self._found_unavailable
        self.job_output = output
        self.shard_dir = shard_dir
        self.group = group
        self.shard: Measurement | None = None  # this rank's own result
        self.shard_path: Path | None = None

    def stop(self, status: str = "ok", error: BaseException | None = None) -> Measurement | None:
        """Stop this rank's metering, combine the ranks' results; return the job's result."""
        if self.shard is not None:
            return self.result
        own = super().stop(status, error)
        if own is None:
            return None
        self.shard = replace(own, extra={**own.extra, RANK_BLOCK: self.rank_info.to_dict()})
        dist = _torch_dist()
        if dist is not None and self.rank_info.world_size > 1:
            docs: list[Any] = [None] * dist.get_world_size(self.group)
            dist.all_gather_object(docs, self.shard.to_dict(), group=self.group)
            shards = [Measurement.from_dict(d, f"rank {i}") for i, d in enumerate(docs)]
            self.result = merge(shards, site=self.site, standard=self.standard)
            if self.job_output and self.rank_info.rank == 0:
                self.result.save(self.job_output)
            return self.result
        if self.rank_info.world_size > 1:
            folder = Path(self.shard_dir or ".")
            self.shard_path = self.shard.save(folder / f"rank-{self.rank_info.rank}.json")
            self.result = self.shard
            return self.result
        self.result = self.shard
        if self.job_output:
            self.result.save(self.job_output)
        return self.result


# --------------------------------------------------------------------- merge
def _rank_of(m: Measurement, i: int) -> dict[str, Any]:
    block = m.extra.get(RANK_BLOCK)
    if isinstance(block, dict) and isinstance(block.get("rank"), int):
        return block
    # a plain result (e.g. `greenai run` on each node): one node, metered whole
    return {"rank": i, "local_rank": 0, "node_rank": i, "host": m.host.get("hostname", "")}


def _node_key(r: Mapping[str, Any]) -> str:
    return f"node{r.get('node_rank', 0)}"


def _device_id(d: DeviceEnergy, node: str) -> str:
    if d.domain == "gpu" and isinstance(d.info.get("nvml_index"), int):
        return f"{node}:nvml:{d.info['nvml_index']}"  # physical index: unique on the node
    return f"{node}:{d.id}"


def merge(
    shards: Sequence[Measurement],
    site: Any = None,
    standard: Any = None,
) -> Measurement:
    """Return one job Measurement from per-rank results (node energy once, GPUs per rank).

    Devices are renamed ``nodeN:<id>`` and carry their rank and host in ``info``; domains are
    re-summed from the devices; duration is the job's wall window (the longest rank); units
    and phases are summed. DisclosureError when a node or a GPU was metered by two ranks.
    """
    if not shards:
        raise DisclosureError("merge: no results given")
    ranks = [_rank_of(m, i) for i, m in enumerate(shards)]
    order = sorted(range(len(shards)), key=lambda i: ranks[i]["rank"])
    shards = [shards[i] for i in order]
    ranks = [ranks[i] for i in order]
    devices: list[DeviceEnergy] = []
    seen: dict[str, int] = {}
    gaps: list[Gap] = []
    unavailable: list[dict[str, str]] = []
    for m, r in zip(shards, ranks, strict=True):
        node = _node_key(r)
        renamed: dict[str, str] = {}
        for d in m.devices:
            new_id = _device_id(d, node)
            if new_id in seen:
                raise DisclosureError(
                    f"merge: {new_id} was metered by rank {seen[new_id]} and rank {r['rank']}: "
                    "its energy would count twice. Meter each node once (greenai.distributed "
                    "puts node probes on local rank 0 only)."
                )
            seen[new_id] = r["rank"]
            renamed[d.id] = new_id
            info = {**d.info, "rank": r["rank"], "host": r.get("host", ""), "node": node}
            devices.append(replace(d, id=new_id, info=info))
        gaps.extend(replace(g, probe=renamed.get(g.probe, f"{node}:{g.probe}")) for g in m.gaps)
        unavailable.extend(
            {**u, "probe": f"{node}:{u.get('probe', '')}"} for u in m.probes_unavailable
        )
    _check_same(shards, "task")
    _check_same(shards, "unit")
    status = max((m.status for m in shards), key=STATUS_ORDER.index)
    first = shards[0]
    hosts = _hosts(shards, ranks)
    merged = Measurement(
        status=status,
        task=first.task,
        unit=first.unit,
        units_done=math.fsum(m.units_done for m in shards),
        started_at=min(m.started_at for m in shards),
        duration_s=max(m.duration_s for m in shards),
        domains=_domains(devices),
        devices=tuple(devices),
        phases=_phases(shards),
        idle=None,
        gaps=tuple(gaps),
        probes_unavailable=tuple(unavailable),
        host={**first.host, "gpus": [g for n in hosts for g in n["gpus"]], "nodes": hosts},
        sampling={
            "interval_s": max((m.sampling.get("interval_s") or 0.0) for m in shards),
            "samples": sum(int(m.sampling.get("samples") or 0) for m in shards),
            "clock": "monotonic",
            "problems": [p for m in shards for p in m.sampling.get("problems", [])],
            "merged_from_ranks": len(shards),
            **_edge_reads(shards),
        },
        timeline=None,  # ranks' clocks are not comparable; per-rank timelines stay in shards
        error=next((m.error for m in shards if m.error), None),
        command=first.command,
        exit_code=next((m.exit_code for m in shards if m.exit_code), first.exit_code),
        extra={
            "distributed": {
                "world_size": max(int(r.get("world_size", len(shards))) for r in ranks),
                "ranks": ranks,
                "method": "node-level probes on local rank 0; each GPU on its owning rank",
            }
        },
        greenai_version=first.greenai_version,
    )
    return assess(merged, site, standard, stacklevel=3)


def _check_same(shards: Sequence[Measurement], field: str) -> None:
    values = {getattr(m, field) for m in shards} - {None}
    if len(values) > 1:
        raise DisclosureError(f"merge: the results disagree on {field}: {sorted(values)}")


def _domains(devices: Sequence[DeviceEnergy]) -> dict[str, DomainEnergy]:
    sums: dict[str, list[float]] = {}
    provenance: dict[str, set[str]] = {}
    complete: dict[str, bool] = {}
    for d in devices:
        if not d.counts_in_total:
            continue
        sums.setdefault(d.domain, []).append(d.energy_j or 0.0)
        provenance.setdefault(d.domain, set()).add(d.provenance)
        complete[d.domain] = complete.get(d.domain, True) and d.status == "ok"
    return {
        k: DomainEnergy(
            energy_j=math.fsum(v),
            provenance=next(iter(provenance[k])) if len(provenance[k]) == 1 else "mixed",
            complete=complete[k],
        )
        for k, v in sorted(sums.items())
    }


def _phases(shards: Sequence[Measurement]) -> tuple[PhaseEnergy, ...]:
    acc: dict[str, list[Any]] = {}
    for m in shards:
        for p in m.phases:
            e = acc.setdefault(p.name, [0.0, 0.0, {}])
            e[0] = max(e[0], p.duration_s)  # ranks run a phase side by side
            e[1] += p.units
            for k, v in p.by_domain.items():
                e[2][k] = e[2].get(k, 0.0) + v
    return tuple(
        PhaseEnergy(name, d, math.fsum(by.values()), dict(sorted(by.items())), u)
        for name, (d, u, by) in acc.items()
    )


def _hosts(shards: Sequence[Measurement], ranks: Sequence[Mapping[str, Any]]) -> list[Any]:
    nodes: dict[str, dict[str, Any]] = {}
    for m, r in zip(shards, ranks, strict=True):
        entry = nodes.setdefault(
            _node_key(r), {"node": _node_key(r), "hostname": m.host.get("hostname"), "ranks": []}
        )
        entry["ranks"].append(r["rank"])
        if r.get("local_rank", 0) == 0:
            entry.update({k: m.host.get(k) for k in ("cpu", "logical_cpus", "memory_bytes")})
        entry.setdefault("gpus", []).extend(m.host.get("gpus", []))
    return list(nodes.values())


def merge_files(
    paths: Sequence[str | os.PathLike[str]], site: Any = None, standard: Any = None
) -> Measurement:
    """Return the merged Measurement of shard files (``rank-N.json``) or plain results."""
    from greenai import disclosure
    from greenai.measurement import load

    for p in paths:  # a shard that is not a valid disclosure would make a false sum
        disclosure.validate(disclosure.read_document(p), str(p))
    return merge([load(p) for p in paths], site=site, standard=standard)


def _edge_reads(shards: Sequence[Measurement]) -> dict[str, str]:
    """Return the merged sampling block's energy_reads: kept only where every rank read its
    energy from counters at window edges alone (one rank's sampled power makes it sampled)."""
    reads = {m.sampling.get("energy_reads") for m in shards}
    return {"energy_reads": reads.pop()} if len(reads) == 1 and None not in reads else {}

"""PyTorch Lightning callback: energy per step and epoch, per sample or token, and a disclosure.

>>> trainer = lightning.Trainer(callbacks=[GreenAICallback(unit="sample")])

Figures are logged through ``pl_module.log`` (so they sit next to the loss in every
logger): ``greenai/energy_j`` (since fit start), ``greenai/epoch_energy_j`` and
``greenai/epoch_j_per_<unit>``. The disclosure is written to ``output`` when fit ends.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the standalone package
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError as exc:
        raise ImportError(
            "greenai.integrations.lightning needs PyTorch Lightning: "
            "pip install 'greenai[lightning]'"
        ) from exc

from greenai.integrations.torch import count_units, torch_meter
from greenai.measurement import Measurement
from greenai.meter import Meter


class GreenAICallback(Callback):
    """Meters a Lightning fit; ``result`` holds the Measurement once fit ends."""

    def __init__(
        self,
        task: str | None = "training",
        unit: str = "sample",
        *,
        output: str | os.PathLike[str] | None = "greenai-train.json",
        units: Callable[[Any], float] | None = None,
        token_key: str = "input_ids",
        log_every_n_steps: int = 1,
        interval_s: float = 0.1,
        **meter_kwargs: Any,
    ):
        super().__init__()
        self.task = task
        self.unit = unit
        self.output = output
        self.units = units
        self.token_key = token_key
        self.log_every_n_steps = max(1, log_every_n_steps)
        self.meter_kwargs = {"interval_s": interval_s, "handle_signals": False, **meter_kwargs}
        self.meter: Meter | None = None
        self.result: Measurement | None = None
        self._phases: dict[str, contextlib.AbstractContextManager[None]] = {}
        self._epoch_start_j = 0.0
        self._epoch_units = 0.0

    # ------------------------------------------------------------ fit
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        from greenai.meter import warn_unfit

        # fit/train is training: a class that rates inference cannot grade it (the unit is
        # checked by the Meter itself)
        warn_unfit(self.task, None, self.meter_kwargs.get("standard"), phase="training")
        self.meter = torch_meter(self.task, self.unit, output=self.output, **self.meter_kwargs)
        self.meter.start()

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._finish("ok")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._finish("interrupted" if isinstance(exception, KeyboardInterrupt) else "failed")

    def _finish(self, status: str) -> None:
        if self.meter is None:
            return
        for name in list(self._phases):
            self._leave(name)
        self.result = self.meter.stop(status)
        self.meter = None

    # ------------------------------------------------------------ phases
    def _enter(self, name: str) -> None:
        if self.meter is not None and name not in self._phases:
            cm = self.meter.phase(name)
            cm.__enter__()
            self._phases[name] = cm

    def _leave(self, name: str) -> None:
        cm = self._phases.pop(name, None)
        if cm is not None:
            cm.__exit__(None, None, None)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._enter("train")
        if self.meter is not None:
            self._epoch_start_j = self.meter.energy_j
            self._epoch_units = 0.0

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.meter is None:
            return
        n = self.units(batch) if self.units else count_units(batch, self.unit, self.token_key)
        self.meter.count(n)
        self._epoch_units += n
        if (batch_idx + 1) % self.log_every_n_steps == 0:
            pl_module.log("greenai/energy_j", self.meter.energy_j, on_step=True, on_epoch=False)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._leave("train")
        if self.meter is None:
            return
        epoch_j = self.meter.energy_j - self._epoch_start_j
        pl_module.log("greenai/epoch_energy_j", epoch_j, on_step=False, on_epoch=True)
        if self._epoch_units > 0:
            pl_module.log(
                f"greenai/epoch_j_per_{self.unit}",
                epoch_j / self._epoch_units,
                on_step=False,
                on_epoch=True,
            )

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        # validation inside a training epoch is eval energy, not train energy
        self._paused_train = "train" in self._phases
        self._leave("train")
        self._enter("eval")

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._leave("eval")
        if getattr(self, "_paused_train", False):
            self._enter("train")
